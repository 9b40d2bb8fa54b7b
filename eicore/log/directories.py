"""Run and sweep directories as they lie on disk: what a run wrote, and which jobs a sweep
launched (the job records the sweep callback leaves as ``<sweep dir>/.eicore-job-<n>.json``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eicore.log import Provenance, RunLog, RunLogError
from eicore.log import read as read_log
from eicore.log.files import METRICS, read_config, read_json
from eicore.run.store import dump_json

JOBS = ".eicore-job-*.json"
"""Job records of a sweep directory, one per launched job (``*`` is the job number)."""

RUN_FILES = ("metrics.json", "config.yaml", "run.sqlite")
"""Files of which any one makes a folder a run directory."""


class RunDirError(RunLogError):
    """A directory or file that is not what a report needs; the message names it."""


@dataclass(frozen=True)
class Job:
    """One job of a sweep, as its launcher saw it."""

    num: int
    run_dir: str
    """Relative to the sweep directory when inside it (so a copied sweep still reads)."""
    overrides: list[str]
    status: str
    """``running`` (started, never ended: killed), ``completed`` or ``failed``."""
    error: str | None = None


def clear_jobs(sweep_dir: Path) -> None:
    """Forget the job records of an earlier launch into ``sweep_dir``."""
    for path in sweep_dir.glob(JOBS):
        path.unlink()


def write_job(sweep_dir: Path, job: Job) -> None:
    sweep_dir.mkdir(parents=True, exist_ok=True)
    dump_json(sweep_dir / JOBS.replace("*", str(job.num)), dataclasses.asdict(job))


def read_jobs(sweep_dir: Path) -> list[Job]:
    """The job records of ``sweep_dir``, in job order."""
    jobs = []
    for path in sweep_dir.glob(JOBS):
        try:
            jobs.append(Job(**read_json(path)))
        except TypeError as exc:
            raise RunDirError(f"{path}: not an eicore job record ({exc})") from None
    return sorted(jobs, key=lambda j: j.num)


@dataclass(frozen=True)
class RunResult:
    """One job's run directory: its config and run log, or why it has none."""

    path: Path
    config: dict[str, Any] | None
    log: RunLog | None
    """None when the run wrote no metrics.json (its job failed or is still running)."""
    error: str | None = None
    overrides: tuple[str, ...] = ()

    @property
    def provenance(self) -> Provenance:
        found = self.log.provenance if self.log else None
        return found or Provenance("", "")

    def _override(self, key: str) -> str | None:
        """The value a job's command-line override gave ``key`` (for jobs that wrote nothing)."""
        given = [o.split("=", 1)[1] for o in self.overrides if o.lstrip("+~").startswith(key + "=")]
        return given[-1] if given else None

    @property
    def source(self) -> dict[str, Any]:
        """What a scored-predictions folder says its answers came from (``eicore score``)."""
        return dict((self.log.source if self.log else None) or {})

    def _choice(self, group: str, fallback: str) -> str:
        chosen = self.provenance.choices.get(group)
        plugin = ((self.config or {}).get(group) or {}).get("plugin")
        declared = (self.source.get("answered_by") or {}).get(group)
        return str(chosen or plugin or declared or self._override(group) or fallback)

    @property
    def model(self) -> str:
        """The ``model=`` name it ran with (a preset's name), else the model's plugin."""
        return self._choice("model", "?")

    @property
    def setting(self) -> str:
        return self._choice("strategy", "?")

    @property
    def split(self) -> str:
        data = (self.config or {}).get("data") or {}
        split = (
            data.get("split")
            or self.provenance.data.get("split")
            or (self.source.get("data") or {}).get("split")
        )
        return str(split or self._override("data.split") or "?")

    @property
    def complete(self) -> bool:
        return bool(self.log and self.log.complete)


def is_run_dir(path: Path) -> bool:
    return any((path / name).is_file() for name in RUN_FILES)


def load_run(path: Path, error: str | None = None, overrides: Sequence[str] = ()) -> RunResult:
    """The run in ``path``, through the run log reader (a job's folder may be empty if the job
    failed early)."""
    log = read_log(path) if (path / METRICS).is_file() else None
    config = log.config if log else read_config(path) if path.is_dir() else None
    if log is None and error is None:
        error = "no metrics.json: the run failed or has not finished"
    return RunResult(path, config, log, error, tuple(overrides))


def sweep_runs(sweep_dir: Path) -> list[RunResult]:
    """The runs of a sweep: its launched jobs when it has job records (so runs of other sweeps
    sharing the folder stay out), else every run directory directly inside it."""
    jobs = read_jobs(sweep_dir)
    if not jobs:
        return [load_run(p) for p in sorted(sweep_dir.iterdir()) if p.is_dir() and is_run_dir(p)]
    runs = []
    for job in jobs:
        error = job.error
        if job.status == "running":
            error = "the job started but never ended (killed, or still running)"
        runs.append(load_run(sweep_dir / job.run_dir, error, job.overrides))
    return runs


def collect(dirs: Sequence[Path]) -> list[RunResult]:
    """Every run of ``dirs``, each a run directory or a sweep directory, in the order given."""
    runs: list[RunResult] = []
    for path in dirs:
        if not path.is_dir():
            raise RunDirError(f"{path}: no such directory")
        if is_run_dir(path):
            runs.append(load_run(path))
        elif any(path.glob(JOBS)) or any(p.is_dir() and is_run_dir(p) for p in path.iterdir()):
            runs.extend(sweep_runs(path))
        else:
            raise RunDirError(f"{path}: neither a run directory nor a sweep directory")
    return runs
