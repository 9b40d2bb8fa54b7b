"""How ``eicore run``, ``eicore score`` and ``eicore merge`` end: the records judged by the
metrics into one :class:`~eicore.log.RunLog`, written, and report.html drawn from it."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from loguru import logger

from eicore.interfaces import Metric
from eicore.log.files import write
from eicore.log.original_judgments import judgment_files
from eicore.log.schema import Completeness, Provenance, RoleUsage, RunLog, usage_of
from eicore.run.store import StoreError
from eicore.types import Call, SampleRecord
from eicore.viewer import write_report


def metric_name(metric: Metric) -> str:
    return str(getattr(metric.config, "plugin", type(metric).__name__))


def finish(
    run_dir: Path,
    records: Sequence[SampleRecord],
    *,
    complete: bool,
    metrics: Sequence[Metric],
    judges: list[dict[str, Any]],
    config: dict[str, Any] | None,
    cost: Callable[[Call], float | None] | None = None,
    usage: Mapping[str, RoleUsage] | None = None,
    strategy: dict[str, Any] | None = None,
    provenance: Provenance | None = None,
    source: dict[str, Any] | None = None,
    files: Mapping[str, Any] | None = None,
    thumbnails: Mapping[str, str | None] | None = None,
) -> RunLog:
    """The log of ``records`` written into ``run_dir``, with report.html; returned.

    Usage is counted from the records' traces (every role, judges' included), each call made
    priced by ``cost``, unless ``usage`` is given (a merge sums its shards'). ``files``: extra
    files (a strategy's artifacts); judgments.jsonl in EIBench's shape is always written.
    ``thumbnails``: report.html's, already made (by relative image path).
    """
    log = RunLog(
        completeness=Completeness.of(records, complete),
        usage=dict(usage) if usage is not None else usage_of(records, cost),
        results={metric_name(m): m.compute(records) for m in metrics},
        judges=judges,
        strategy=strategy,
        provenance=provenance,
        source=source,
        config=config,
        records=list(records),
    )
    write(run_dir, log, {**(files or {}), **judgment_files(records)})
    try:
        write_report(run_dir, [log], thumbnails)
    except StoreError:
        raise
    except Exception as exc:  # the viewer page is a convenience: it never costs a run's results
        logger.warning("report.html not written: {}: {}", type(exc).__name__, exc)
    return log
