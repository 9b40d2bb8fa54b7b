"""The run directory made before a job starts (its files are the run log's: :mod:`eicore.log`)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from omegaconf import DictConfig


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
