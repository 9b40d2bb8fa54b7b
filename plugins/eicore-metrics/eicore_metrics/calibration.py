"""``eicore calibrate``: fit the semantic judge's threshold to a reference judge's scores.

On the samples of a run the reference judge (an LLM judge, say) scored, each trigger's best
cosine to the answer's units is computed once; every threshold of a grid then gives the semantic
recall of each sample, and the threshold with the smallest mean absolute difference from the
reference scores wins (the middle of the best run of grid points, when several tie). How good
the fit is gets reported, overall and per emotion: per trigger (does each judge credit it?
Cohen's kappa, with a CI resampling whole samples) where the reference says which triggers it
credited (``partly`` counts as credited), and per sample (Spearman, mean absolute difference).
The fit is saved as a judge preset — a JSON file that this plugin registers as ``judge=<name>``
in every later run, its threshold, provenance and agreement recorded in metrics.json.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from loguru import logger

from eicore import EMOTIONS, Judgment, SampleRecord, cache_home
from eicore_metrics.recall import scored_samples
from eicore_metrics.semantic import (
    DEFAULT_THRESHOLD,
    SemanticJudge,
    SemanticJudgeConfig,
    answer_units,
    best_matches,
)
from eicore_metrics.statistics import Bootstrap, agreement, kappa_ci, mean_ci


@dataclass(frozen=True)
class Calibration:
    """A fitted threshold, how well it agrees with the reference, and on what."""

    threshold: float
    reference: str
    run: str
    n: int
    mean_reference: float
    mean_semantic: float
    agreement: dict[str, Any]
    mad_ci: list[float] | None
    """Bootstrap CI of the mean absolute difference at the fitted threshold."""
    default_mad: float
    """The mean absolute difference at the uncalibrated default threshold, for comparison."""
    trigger_agreement: dict[str, Any] = dataclasses.field(default_factory=dict)
    """Per trigger: ``n_triggers``, ``n_samples``, ``kappa``, ``kappa_ci``, ``percent``."""
    by_emotion: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    """Per emotion: ``n``, ``spearman``, ``mean_abs_diff``, ``kappa``, ``kappa_ci``."""


def credited(judgment: Judgment) -> np.ndarray | None:
    """Which triggers a judgment credits (matched or partly), or None when it only counted."""
    if judgment.triggers:
        return np.array([t.verdict != "missed" for t in judgment.triggers], dtype=int)
    if judgment.matched or judgment.recalled == 0:
        flags = np.zeros(judgment.total, dtype=int)
        flags[list(judgment.matched)] = 1
        return flags
    return None


def trigger_agreement(
    pairs: Sequence[tuple[np.ndarray, np.ndarray]], boot: Bootstrap
) -> dict[str, Any]:
    """Per-trigger agreement of (semantic, reference) credit vectors, one pair per sample."""
    kappa, ci = kappa_ci(pairs, boot)
    n = sum(len(a) for a, _ in pairs)
    same = sum(int((a == b).sum()) for a, b in pairs)
    return {
        "n_triggers": n,
        "n_samples": len(pairs),
        "kappa": kappa,
        "kappa_ci": ci,
        "percent": same / n if n else None,
    }


def trigger_cosines(records: Sequence[SampleRecord], ids: Sequence[str]) -> list[np.ndarray]:
    """Per sample (in ``ids`` order), each trigger's best cosine to the answer (blocking)."""
    by_id = {r.sample.id: r for r in records}
    out = []
    for i in ids:
        record = by_id[i]
        units = answer_units(record.response.text if record.response else "")
        if units:
            out.append(np.array([m.cosine for m in best_matches(record.sample.triggers, units)]))
        else:
            out.append(np.full(len(record.sample.triggers), -1.0))
    return out


def parse_grid(spec: str) -> np.ndarray:
    """``"start:stop:step"`` → the thresholds from start to stop inclusive."""
    try:
        start, stop, step = (float(v) for v in spec.split(":"))
    except ValueError:
        raise ValueError(f"grid {spec!r}: expected start:stop:step") from None
    if step <= 0 or stop < start:
        raise ValueError(f"grid {spec!r}: expected start <= stop and step > 0")
    return np.arange(start, stop + step / 2, step)


def recall_at(cosines: Sequence[np.ndarray], threshold: float) -> np.ndarray:
    return np.array([float(np.mean(c >= threshold)) for c in cosines])


def fit(
    cosines: Sequence[np.ndarray], reference: np.ndarray, grid: np.ndarray
) -> tuple[float, np.ndarray]:
    """The grid threshold with the smallest mean absolute difference, and every grid MAD."""
    mads = np.array([np.mean(np.abs(recall_at(cosines, t) - reference)) for t in grid])
    best = np.flatnonzero(np.isclose(mads, mads.min()))
    run = [int(best[0])]
    for i in best[1:]:
        if i != run[-1] + 1:
            break
        run.append(int(i))
    return float(grid[run[len(run) // 2]]), mads


def calibrate(
    records: Sequence[SampleRecord],
    reference: str,
    run: str,
    grid: np.ndarray,
    boot: Bootstrap,
    limit: int | None = None,
) -> Calibration:
    """Fit the threshold on (the first ``limit`` of) the samples ``reference`` scored."""
    scored, _ = scored_samples(records, reference)
    ids = list(scored)[:limit]
    if len(ids) < 2:
        raise ValueError(f"{run}: {len(ids)} samples scored by {reference!r}; need at least 2")
    target = np.array([scored[i].score for i in ids])
    cosines = trigger_cosines(records, ids)
    threshold, _ = fit(cosines, target, grid)
    fitted = recall_at(cosines, threshold)
    gaps = np.abs(fitted - target)
    by_id = {r.sample.id: r for r in records}
    references = [
        credited(next(j for j in by_id[i].judgments if j.judge == reference)) for i in ids
    ]
    pairs = {
        i: ((c >= threshold).astype(int), ref)
        for i, c, ref in zip(ids, cosines, references, strict=True)
        if ref is not None and len(ref) == len(c)
    }
    emotions = [scored[i].emotion for i in ids]
    by_emotion: dict[str, dict[str, Any]] = {}
    for emotion in [e for e in EMOTIONS if e in emotions] + sorted(
        {e for e in emotions if e and e not in EMOTIONS}
    ):
        rows = [k for k, e in enumerate(emotions) if e == emotion]
        stats = agreement(fitted[rows], target[rows])
        kept = [pairs[ids[k]] for k in rows if ids[k] in pairs]
        per_trigger = trigger_agreement(kept, boot)
        by_emotion[emotion] = {
            "n": len(rows),
            "spearman": stats["spearman"],
            "mean_abs_diff": stats["mean_abs_diff"],
            "kappa": per_trigger["kappa"],
            "kappa_ci": per_trigger["kappa_ci"],
            "n_triggers": per_trigger["n_triggers"],
        }
    return Calibration(
        threshold=round(threshold, 6),
        reference=reference,
        run=run,
        n=len(ids),
        mean_reference=float(target.mean()),
        mean_semantic=float(fitted.mean()),
        agreement=agreement(fitted, target),
        mad_ci=mean_ci(gaps, boot),
        default_mad=float(np.mean(np.abs(recall_at(cosines, DEFAULT_THRESHOLD) - target))),
        trigger_agreement=trigger_agreement(list(pairs.values()), boot),
        by_emotion=by_emotion,
    )


def _num(value: float | None, scale: float = 1.0) -> str:
    return (
        "—" if value is None else f"{scale * value:.3f}" if scale == 1 else f"{scale * value:.2f}"
    )


def _ci(interval: list[float] | None, scale: float = 1.0) -> str:
    return "—" if interval is None else f"{_num(interval[0], scale)}–{_num(interval[1], scale)}"


def calibration_report(result: Calibration) -> str:
    """The printed calibration: the fit, per-sample and per-trigger agreement, per emotion."""
    a = result.agreement
    t = result.trigger_agreement
    lines = [
        f"threshold {result.threshold:.3f} fitted on {result.n} samples scored by "
        f"{result.reference!r}",
        f"mean recall: reference {100 * result.mean_reference:.2f}, "
        f"semantic {100 * result.mean_semantic:.2f}",
        f"per sample: mean |difference| {_num(a['mean_abs_diff'], 100)} "
        f"(95% CI {_ci(result.mad_ci, 100)}; {100 * result.default_mad:.2f} at the default "
        f"threshold); spearman {_num(a['spearman'])}, pearson {_num(a['pearson'])}, "
        f"kappa {_num(a['kappa'])} ({a.get('kappa_bins')} bins)",
    ]
    if t.get("n_triggers"):
        lines.append(
            f"per trigger: Cohen's kappa {_num(t['kappa'])} (95% CI {_ci(t['kappa_ci'])}), "
            f"{_num(t['percent'], 100)}% agree, on {t['n_triggers']} triggers of "
            f"{t['n_samples']} samples"
        )
    else:
        lines.append(f"per trigger: {result.reference!r} does not say which triggers it credits")
    for emotion, e in result.by_emotion.items():
        lines.append(
            f"  {emotion:<8} n={e['n']:<4} kappa {_num(e['kappa'])} ({_ci(e['kappa_ci'])})  "
            f"spearman {_num(e['spearman'])}  mean |difference| {_num(e['mean_abs_diff'], 100)}"
        )
    return "\n".join(lines)


def presets_folder() -> Path:
    """Where judge presets live: ``<eicore cache>/judges``."""
    return cache_home() / "judges"


def save_preset(name: str, calibration: Calibration, folder: Path | None = None) -> Path:
    folder = folder or presets_folder()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    preset = {
        "name": name,
        "threshold": calibration.threshold,
        "calibration": dataclasses.asdict(calibration),
    }
    path.write_text(json.dumps(preset, indent=2) + "\n", encoding="utf-8")
    return path


def preset_config(threshold: float, calibration: dict[str, Any]) -> type:
    """A config class for a preset: the semantic judge's, with the fitted threshold as default
    and the calibration it came from."""
    return dataclasses.make_dataclass(
        "SemanticPresetConfig",
        [
            ("threshold", float, dataclasses.field(default=threshold)),
            ("calibration", dict, dataclasses.field(default_factory=lambda: dict(calibration))),
        ],
        bases=(SemanticJudgeConfig,),
    )


def register_calibrated(register: Callable[..., None], folder: Path | None = None) -> None:
    """Register each saved preset as a judge; a broken or clashing preset is skipped, loudly."""
    folder = folder or presets_folder()
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            preset = json.loads(path.read_text(encoding="utf-8"))
            config = preset_config(float(preset["threshold"]), dict(preset["calibration"]))
            register(path.stem, SemanticJudge, config)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            logger.warning("judge preset {} skipped: {}", path, exc)
