"""eicore from Python (a notebook, a script): run an evaluation, read run directories back, and
look at them as pandas frames. The same overrides as ``eicore run``; the same run directories.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from omegaconf import DictConfig

from eicore.log.directories import collect
from eicore.log.files import read
from eicore.log.frames import runs_frame
from eicore.log.schema import RunLog

if TYPE_CHECKING:
    import pandas as pd


def compose_run(overrides: Sequence[str]) -> DictConfig:
    """The ``eicore run`` config of ``overrides``, its run name resolved as the command
    resolves it (model and strategy names, split, config hash), so both resume the same run."""
    from hydra import compose, initialize_config_module
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf, open_dict

    from eicore.plugins import registry
    from eicore.run.settings import register_resolvers

    register_resolvers()
    registry().store_configs()
    with initialize_config_module(config_module="eicore.conf", version_base="1.3"):
        cfg = compose("config", overrides=list(overrides), return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    try:
        name = str(OmegaConf.select(cfg, "run.name"))
    finally:
        HydraConfig.instance().cfg = None  # outside Hydra's run: run.root/run.name is the dir
    with open_dict(cfg):
        del cfg["hydra"]
        cfg.run.name = name
    return cfg


def evaluate(
    *overrides: str | Iterable[str],
    data_root: str | Path | None = None,
    run_root: str | Path | None = None,
) -> RunLog:
    """Run (or resume) the evaluation ``eicore run <overrides>`` would, and return its log.

    ``overrides`` are the command's, as strings or lists of strings:
    ``evaluate("model=question-prior", "data.limit=5", data_root="~/eibench")``.
    ``data_root`` and ``run_root`` are shorthands for ``data.root=`` and ``run.root=``.
    Errors are raised (a :class:`~eicore.run.settings.ConfigError` names what to fix), not printed.
    """
    from eicore.run.job import evaluate as run_job  # Hydra and the run machinery: on use

    given = [o for group in overrides for o in ([group] if isinstance(group, str) else group)]
    if data_root is not None:
        given.append(f"data.root={Path(data_root).expanduser()}")
    if run_root is not None:
        given.append(f"run.root={Path(run_root).expanduser()}")
    return run_job(compose_run(given))


def read_run(run_dir: str | Path) -> RunLog:
    """The log of one run directory (or re-score folder); its records load on first use."""
    return read(Path(run_dir).expanduser())


def runs_df(runs: Iterable[RunLog | str | Path]) -> pd.DataFrame:
    """One row per run and judge of ``runs`` (logs, run directories or sweep directories):
    recall cells with CIs, completeness, calls and cost. Needs pandas (``eicore[pandas]``)."""
    logs: list[RunLog] = []
    for run in runs:
        if isinstance(run, RunLog):
            logs.append(run)
        else:
            logs.extend(r.log for r in collect([Path(run).expanduser()]) if r.log is not None)
    return runs_frame(logs)
