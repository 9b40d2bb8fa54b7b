"""Run logs as pandas frames, for notebooks: one row per sample, or one row per run and judge.

pandas is an optional extra (``pip install 'eicore[pandas]'``); only these functions need it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from eicore.log.schema import Recall, RunLog

if TYPE_CHECKING:
    import pandas as pd


def _pandas() -> Any:
    try:
        import pandas
    except ImportError:
        raise ImportError(
            "eicore's data frames need pandas: pip install 'eicore[pandas]'"
        ) from None
    return pandas


def samples_frame(log: RunLog) -> pd.DataFrame:
    """One row per sample of ``log``: its id, split, emotion, status, answer and error, the
    score of each judge (``score:<judge>``, None when unparsed), and the calls and tokens of
    every role (the strategy's and the judges')."""
    pandas = _pandas()
    rows = []
    for record in log.samples:
        s = record.sample
        row: dict[str, Any] = {
            "id": s.id,
            "split": s.split,
            "emotion": s.emotion,
            "n_triggers": len(s.triggers),
            "status": record.status,
            "answer": record.response.text if record.response else None,
            "error_type": record.error_type,
        }
        for judgment in record.judgments:
            row[f"score:{judgment.judge}"] = judgment.score
        calls = record.calls
        row["calls_made"] = sum(not c.cached for c in calls)
        row["calls_cached"] = sum(c.cached for c in calls)
        row["input_tokens"] = sum(c.completion.input_tokens or 0 for c in calls)
        row["output_tokens"] = sum(c.completion.output_tokens or 0 for c in calls)
        rows.append(row)
    return pandas.DataFrame(rows)


def runs_frame(logs: Sequence[RunLog]) -> pd.DataFrame:
    """One row per run and judge: the run's directory, model, strategy and split, its
    completeness, each cell of the judge's recall with its CI, and the run's calls and cost."""
    pandas = _pandas()
    rows = []
    for log in logs:
        config = log.config or {}
        data = config.get("data") or {}
        total = log.total_usage
        base: dict[str, Any] = {
            "run_dir": str(log.dir) if log.dir else None,
            "model": (config.get("model") or {}).get("plugin"),
            "strategy": (config.get("strategy") or {}).get("plugin"),
            "split": data.get("split"),
            "complete": log.complete,
            "n_samples": log.completeness.n_samples,
            "n_failed": log.completeness.n_failed,
            "calls_made": total.calls_made,
            "calls_cached": total.calls_cached,
            "cost_usd": total.cost_usd,
            "config_hash": log.provenance.config_hash if log.provenance else None,
        }
        recalls: list[tuple[str | None, Recall | None]] = [*log.recall_by_judge.items()]
        for judge, recall in recalls or [(None, None)]:
            row = {**base, "judge": judge}
            if recall is not None:
                row.update(overall=recall.overall, macro=recall.macro, n_scored=recall.n_scored)
                row.update(ci_low=recall.ci[0] if recall.ci else None)
                row.update(ci_high=recall.ci[1] if recall.ci else None)
                row.update({f"recall:{e}": v for e, v in recall.by_emotion.items()})
            rows.append(row)
    return pandas.DataFrame(rows)
