"""eicore's Hydra callbacks: the run (or sweep) directory made before a job starts; and under
``eicore run -m``, each job recording itself in the sweep directory (in whichever process or
node runs it), and at the end of the multirun the launching process gathering every job's run
directory from disk into summary.md/.csv/.tex and the plots."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from loguru import logger
from omegaconf import DictConfig, OmegaConf

from eicore.log.directories import Job, clear_jobs, read_jobs, sweep_runs, write_job
from eicore.report.summary import write_summary
from eicore.secrets.masking import redact_tree


class RunDirectoryCheck(Callback):
    """Hydra callback: make the run (or sweep) folder before the job starts, so that a run root
    that cannot be written (a file, a read-only path) ends the command with one clear line and
    exit status 2, before any data is read or any model called."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        HydraConfig.instance().set_config(config)  # run.name reads Hydra's choices
        _make_folder(Path(config.hydra.run.dir))

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        HydraConfig.instance().set_config(config)
        _make_folder(Path(config.hydra.sweep.dir))


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(
            f"eicore: cannot write the run directory {folder}: {exc}; set run.root", file=sys.stderr
        )
        raise SystemExit(2) from None


@dataclass(frozen=True)
class JobFailure:
    """What a sweep job returns when it stopped on an error (already logged as one line): the
    sweep goes on with its other jobs, and records this one as failed."""

    message: str


def _multirun(config: DictConfig) -> bool:
    return bool(OmegaConf.select(config, "hydra.mode") == RunMode.MULTIRUN)


def _job(config: DictConfig, status: str, error: str | None = None) -> Job:
    overrides = OmegaConf.to_container(config.hydra.overrides.task, resolve=False)
    assert isinstance(overrides, list)
    return Job(
        num=int(config.hydra.job.num),
        run_dir=os.path.relpath(config.hydra.runtime.output_dir, config.hydra.sweep.dir),
        overrides=redact_tree([str(o) for o in overrides]),
        status=status,
        error=redact_tree(error),
    )


class SweepSummary(Callback):
    """Configured under ``hydra.callbacks`` in conf/base.yaml; a no-op outside ``-m``."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        clear_jobs(Path(config.hydra.sweep.dir))

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        if _multirun(config):
            write_job(Path(config.hydra.sweep.dir), _job(config, "running"))

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        if not _multirun(config):
            return
        if job_return.status == JobStatus.FAILED:
            exc = job_return._return_value
            job = _job(config, "failed", f"{type(exc).__name__}: {exc}")
        elif isinstance(job_return._return_value, JobFailure):
            job = _job(config, "failed", job_return._return_value.message)
        else:
            job = _job(config, "completed")
        write_job(Path(config.hydra.sweep.dir), job)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        summary = write_summary(sweep_dir, sweep_runs(sweep_dir))
        for warning in summary.warnings:
            logger.warning("{}", warning)
        print(summary.markdown.split("\n## ")[0].rstrip())
        logger.info("summary and plots: {}", ", ".join(str(p) for p in summary.files))
        failed = [job for job in read_jobs(sweep_dir) if job.status != "completed"]
        if failed or summary.failed:
            count = max(len(failed), len(summary.failed))
            logger.error("{} jobs failed or gave no results; see {}", count, sweep_dir)
            raise SystemExit(1)
