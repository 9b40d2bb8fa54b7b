"""The ``eicore`` command: ``run`` (Hydra overrides, ``-m`` for sweeps) and ``plugins``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from eicore.config import ConfigError, register_resolvers
from eicore.data import DataError
from eicore.plugins import UnknownComponentError, registry
from eicore.store import StoreError

USAGE = """usage: eicore <command> [args]

commands:
  run [overrides...]   evaluate: `eicore run model=<name> strategy=<name> data.split=basic|complex`
                       (Hydra syntax; `-m` sweeps comma-separated values; `--cfg job` prints the config)
  annotate [overrides...]
                       CFSA ground truth for new images: `eicore annotate model=<vlm>
                       data.image_root=<folder>` writes user.jsonl, basic_ground_truth.json and
                       cfsa_review.jsonl (the full trace per image) for human review
  plugins [--json]     list installed plugins, their distributions and what they registered
"""

CLEAN_ERRORS = (ConfigError, DataError, StoreError, UnknownComponentError)
"""Errors that mean the input or configuration is unusable: one clear line, no traceback."""

register_resolvers()


def _task(cfg: Any) -> Any:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode
    from loguru import logger

    from eicore.evaluation import evaluate

    if HydraConfig.get().mode == RunMode.MULTIRUN:
        _redact_sweep_record(Path(HydraConfig.get().sweep.dir) / "multirun.yaml")
    try:
        return evaluate(cfg)
    except CLEAN_ERRORS as exc:
        logger.error("{}", exc)
        if HydraConfig.get().mode == RunMode.MULTIRUN:
            return None
        raise SystemExit(2) from None


def _redact_sweep_record(path: Path) -> None:
    """Hydra's sweeper saves the raw config as multirun.yaml: mask secrets in it."""
    from omegaconf import OmegaConf

    from eicore.redact import redact_tree

    if path.is_file():
        tree = OmegaConf.to_container(OmegaConf.load(path), resolve=False)
        path.write_text(OmegaConf.to_yaml(OmegaConf.create(redact_tree(tree))), encoding="utf-8")


def _hydra(command: str, config_name: str, argv: list[str]) -> None:
    import hydra

    registry().store_configs()
    main = hydra.main(version_base="1.3", config_path="pkg://eicore.conf", config_name=config_name)
    sys.argv = [f"eicore {command}", *argv]
    main(_task)()


def run(argv: list[str]) -> None:
    _hydra("run", "config", argv)


def annotate(argv: list[str]) -> None:
    _hydra("annotate", "annotate", argv)


def plugins(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="eicore plugins")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    infos = list(registry().plugins.values())
    if args.json:
        print(json.dumps([vars(i) for i in infos], indent=2))
        return
    for info in infos:
        status = f"BROKEN: {info.error}" if info.error else "ok"
        print(f"{info.name}  ({info.distribution} {info.version})  {status}")
        for kind, name in info.registered:
            print(f"    {kind:<9} {name}")


def main() -> None:
    args = sys.argv[1:]
    if not args or args[0] in {"-h", "--help", "help"}:
        print(USAGE)
        return
    command, rest = args[0], args[1:]
    commands = {"run": run, "annotate": annotate, "plugins": plugins}
    if command not in commands:
        print(f"eicore: unknown command {command!r}\n\n{USAGE}", file=sys.stderr)
        raise SystemExit(2)
    try:
        commands[command](rest)
    except KeyboardInterrupt:
        print("eicore: interrupted; finished samples are saved, run the same command to resume", file=sys.stderr)
        raise SystemExit(130) from None
