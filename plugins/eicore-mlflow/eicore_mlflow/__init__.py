"""eicore-mlflow: every run streamed to MLflow when ``EICORE_MLFLOW`` says where
(:mod:`eicore_mlflow.tracking`); with it unset the plugin does nothing and imports no MLflow."""

from pathlib import Path
from typing import Any

from eicore import RunLog, SampleRecord, hookimpl
from eicore_mlflow import tracking


@hookimpl
def eicore_run_start(run_dir: Path, config: dict[str, Any], samples: int) -> None:
    tracking.start(run_dir, config, samples)


@hookimpl
def eicore_sample_end(run_dir: Path, record: SampleRecord, step: int) -> None:
    tracking.sample(run_dir, record, step)


@hookimpl
def eicore_run_end(run_dir: Path, log: RunLog) -> None:
    tracking.end(run_dir, log.summary(), log.complete)
