"""An eicore run as an MLflow run, logged through MLflow's tracking client as the run goes.

``EICORE_MLFLOW`` says where: a folder (a local file store, ``file:`` URI; no server, no
network), ``run`` for ``<run dir>/mlruns``, or any MLflow tracking URI. Unset, nothing is logged
and MLflow is never imported. ``EICORE_MLFLOW_EXPERIMENT`` names the experiment (``eicore``).

- run start: the config snapshot (secrets already masked by eicore) as params, one per leaf
  (``model.name``, ``data.limit``…); a resumed eicore run continues its MLflow run;
- each sample: ``sample.answered``, ``sample.recall.<judge>``, ``sample.calls`` and token counts,
  at step = samples done so far;
- run end: every number metrics.json holds (``recall.overall.mean``…), the run directory's
  files as artifacts, and the run ended FINISHED (or KILLED when eicore stopped it early).
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eicore import SampleRecord

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

ENV = "EICORE_MLFLOW"
EXPERIMENT_ENV = "EICORE_MLFLOW_EXPERIMENT"
RUN_TAG = "eicore.run_dir_sha256"
"""Tags the MLflow run with a digest of the run directory's path, to find it on a resume."""
NOT_RESULTS = frozenset({"strategy", "judges", "provenance"})
"""metrics.json entries that describe the run rather than measure it: not logged as metrics."""
MAX_PARAM = 6000
"""MLflow's longest param value; longer ones are cut to it."""
BATCH = 100
"""Params (and metrics) per request: MLflow takes at most 100 params in one batch."""


@dataclass
class Tracked:
    client: MlflowClient
    run_id: str
    store: Path | None
    """The local store's folder when it is inside the run directory (not logged as artifacts)."""


_runs: dict[Path, Tracked] = {}


def tracking_uri(setting: str, run_dir: Path) -> str:
    """The tracking URI ``EICORE_MLFLOW`` means for a run in ``run_dir``."""
    if setting == "run":
        return (run_dir / "mlruns").resolve().as_uri()
    if "://" in setting or setting.startswith("file:"):
        return setting
    return Path(setting).expanduser().resolve().as_uri()


def key(name: str) -> str:
    """``name`` as an MLflow key: characters MLflow refuses become ``_``."""
    return re.sub(r"[^\w\-. /]", "_", name)[:250]


def leaves(tree: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """``(dotted.path, value)`` of every leaf of a JSON-like tree; lists are indexed."""
    if isinstance(tree, dict):
        for name, value in tree.items():
            yield from leaves(value, f"{prefix}{name}.")
    elif isinstance(tree, list) and tree:
        for index, value in enumerate(tree):
            yield from leaves(value, f"{prefix}{index}.")
    else:
        yield prefix.rstrip("."), tree


def start(run_dir: Path, config: dict[str, Any], samples: int) -> None:
    setting = os.environ.get(ENV, "").strip()
    if not setting:
        return
    uri = tracking_uri(setting, run_dir)
    if uri.startswith("file:"):  # MLflow 3 keeps its file store only for those who opt in
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    from mlflow.entities import Param
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    name = os.environ.get(EXPERIMENT_ENV, "").strip() or "eicore"
    experiment = client.get_experiment_by_name(name)
    experiment_id = experiment.experiment_id if experiment else client.create_experiment(name)
    digest = hashlib.sha256(str(run_dir.resolve()).encode()).hexdigest()
    found = client.search_runs([experiment_id], f"tags.`{RUN_TAG}` = '{digest}'", max_results=1)
    if found:  # a resumed eicore run: its params are logged already
        run_id = found[0].info.run_id
        client.update_run(run_id, status="RUNNING")
    else:
        tags = {RUN_TAG: digest, "eicore.run_dir": str(run_dir.resolve())}
        run_id = client.create_run(experiment_id, run_name=run_dir.name, tags=tags).info.run_id
        params = [Param(key(k), str(v)[:MAX_PARAM]) for k, v in leaves(config)]
        for i in range(0, len(params), BATCH):
            client.log_batch(run_id, params=params[i : i + BATCH])
    client.set_tag(run_id, "eicore.samples", str(samples))
    store = Path(uri.removeprefix("file://")) if uri.startswith("file://") else None
    inside = store is not None and store.resolve().is_relative_to(run_dir.resolve())
    _runs[run_dir] = Tracked(client, run_id, store.resolve() if inside and store else None)


def sample_metrics(record: SampleRecord) -> dict[str, float]:
    """What one sample adds to the run's curves."""
    completions = [call.completion for call in (record.response.trace if record.response else ())]
    values = {
        "sample.answered": float(record.status == "answered"),
        "sample.calls": float(len(completions)),
        "sample.input_tokens": float(sum(c.input_tokens or 0 for c in completions)),
        "sample.output_tokens": float(sum(c.output_tokens or 0 for c in completions)),
    }
    for judgment in record.judgments:
        if judgment.score is not None:
            values[key(f"sample.recall.{judgment.judge}")] = judgment.score
    return values


def sample(run_dir: Path, record: SampleRecord, step: int) -> None:
    tracked = _runs.get(run_dir)
    if tracked is None:
        return
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    metrics = [Metric(k, v, now, step) for k, v in sample_metrics(record).items()]
    tracked.client.log_batch(tracked.run_id, metrics=metrics)


def result_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """Every number metrics.json holds, by its dotted path, descriptions of the run left out."""
    results = {k: v for k, v in metrics.items() if k not in NOT_RESULTS}
    return {
        key(name): float(value)
        for name, value in leaves(results)
        if isinstance(value, int | float) and not isinstance(value, bool)
    }


def end(run_dir: Path, metrics: dict[str, Any], complete: bool) -> None:
    """``metrics``: the run log's summary (what metrics.json holds)."""
    tracked = _runs.pop(run_dir, None)
    if tracked is None:
        return
    from mlflow.entities import Metric

    client, run_id = tracked.client, tracked.run_id
    now = int(time.time() * 1000)
    final = [Metric(k, v, now, 0) for k, v in result_metrics(metrics).items()]
    for i in range(0, len(final), BATCH):
        client.log_batch(run_id, metrics=final[i : i + BATCH])
    for path in sorted(run_dir.rglob("*")):
        if not path.is_file() or ".sqlite" in path.name:  # the run's store: state, not results
            continue
        if tracked.store is not None and path.resolve().is_relative_to(tracked.store):
            continue
        folder = path.parent.relative_to(run_dir)
        client.log_artifact(run_id, str(path), None if folder == Path(".") else folder.as_posix())
    client.set_terminated(run_id, "FINISHED" if complete else "KILLED")
