"""The ``eicore`` command: ``run`` (Hydra overrides, ``-m`` for sweeps), ``annotate``, ``score``,
``plugins`` and the rest of :data:`USAGE`, and the commands plugins add
(``eicore_register_commands``)."""

from __future__ import annotations

import argparse
import functools
import json
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

from loguru import logger

from eicore.config import ConfigError, register_resolvers
from eicore.data import DataError
from eicore.log import RunLogError
from eicore.plugins import Command, UnknownComponentError, registry
from eicore.store import StoreError

USAGE = """usage: eicore <command> [args]

commands:
  run [overrides...]   evaluate: `eicore run model=<name> strategy=<name> data.split=basic|complex`
                       (Hydra syntax; `-m` sweeps comma-separated values; `--cfg job` prints
                       the config)
  annotate [overrides...]
                       CFSA ground truth for new images: `eicore annotate model=<vlm>
                       data.image_root=<folder>` writes user.jsonl, basic_ground_truth.json and
                       cfsa_review.jsonl (the full trace per image) for human review
  score <run dir> [overrides...]
                       judge a run's stored answers again, without calling its model: with
                       `judge=<name>` / `+judge@judges.<name>=<judge>`, else with the run's judges;
                       writes <run dir>/scores/<judges>__<hash>/
  score --predictions <file> --split basic|complex [--data-root <dir>] [--out <dir>] judge=<name>
                       judge answers made elsewhere, in EIBench's output shape
                       (`{"<image path>": "<answer>"}` per line; complex: the data's line order)
  plugins [--json]     list installed plugins, their distributions and what they registered
  report <dir>... [--out <dir>]
                       the paper's tables (summary.md/.csv/.tex) and plots from run and sweep
                       directories; flags runs that are not comparable (docs/sweeps.md)
  merge <shard dir>... [--out <dir>]
                       the shards of one run (`data.shard=i/n`) into the unsharded run's directory
  view <run dir>... [--port N] [--image-root <dir>]
                       serve the run viewer on 127.0.0.1 (answers, triggers, judgments, traces,
                       full-size images; two runs side by side); every run also writes report.html
  view <annotate run> --review --reviewer <name>
                       review `eicore annotate` output: edit, delete, add triggers, rate 0-5; saves
                       <run>/reviews/<name>/basic_ground_truth.json, user.jsonl, ratings.jsonl
  agreement <annotate run | ratings.jsonl>... [--out <dir>] [--json]
                       reviewers' agreement on their ratings (Krippendorff's alpha)
  new-plugin <name> --kind model|strategy|judge|metric|dataset [--dir <folder>]
                       write a new plugin's folder (pyproject with its entry point, the
                       component's module, a README, passing tests) to start from
  cache verify [--repair] [--cache-dir <dir>]
                       check the call cache ($EICORE_CACHE/calls.sqlite) entry by entry;
                       --repair drops damaged entries (exit 1 while damage remains)
  cache clear [--cache-dir <dir>]
                       delete the call cache (the recovery for a file SQLite cannot read)
"""

CLEAN_ERRORS = (ConfigError, DataError, StoreError, UnknownComponentError, RunLogError)
"""Errors that mean the input or configuration is unusable: one clear line, no traceback."""

register_resolvers()


def _task(cfg: Any) -> Any:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode
    from loguru import logger
    from omegaconf import OmegaConf

    from eicore.evaluation import evaluate
    from eicore.redact import keep_secrets_of

    keep_secrets_of(OmegaConf.to_container(cfg, resolve=False))  # set in a config file, say
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


def _print_sweep_jobs(config_name: str, argv: list[str]) -> None:
    """``-m ... --cfg job``: the composed config of every job the sweep would launch (Hydra
    itself takes one of the two flags only), with the job's overrides above it."""
    from hydra import compose, initialize_config_module
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException
    from omegaconf import OmegaConf

    at = argv.index("--cfg")
    if argv[at + 1 : at + 2] != ["job"]:
        raise ConfigError("with -m, --cfg takes `job` only (the composed config of each job)")
    flags = ("-m", "--multirun")
    given = [a for i, a in enumerate(argv) if a not in flags and i not in (at, at + 1)]
    parser = OverridesParser.create()
    try:
        with initialize_config_module(config_module="eicore.conf", version_base="1.3"):
            plain = [o for o in parser.parse_overrides(given) if not o.is_sweep_override()]
            head = compose(
                config_name, [str(o.input_line) for o in plain], return_hydra_config=True
            )
            params = [f"{k}={v}" for k, v in (head.hydra.sweeper.get("params") or {}).items()]
            jobs = BasicSweeper.split_arguments(parser.parse_overrides(params + given), None)
            for number, job in enumerate(job for batch in jobs for job in batch):
                cfg = compose(config_name, job)
                print(f"# job {number}: {' '.join(job)}\n{OmegaConf.to_yaml(cfg)}")
    except HydraException as exc:
        raise ConfigError(str(exc)) from None


def _hydra(command: str, config_name: str, argv: list[str]) -> None:
    import hydra

    _check_overrides(command, argv)
    registry().store_configs()
    if ("-m" in argv or "--multirun" in argv) and "--cfg" in argv:
        try:
            _print_sweep_jobs(config_name, argv)
        except ConfigError as exc:
            print(f"eicore {command}: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
        return
    main = hydra.main(version_base="1.3", config_path="pkg://eicore.conf", config_name=config_name)
    sys.argv = [f"eicore {command}", *argv]
    main(_task)()


def _check_overrides(command: str, overrides: list[str]) -> None:
    """Refuse a key where Hydra would print it (eicore.credentials), in one line."""
    from eicore.credentials import check_overrides

    try:
        check_overrides(overrides)
    except ConfigError as exc:
        print(f"eicore {command}: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def run(argv: list[str]) -> None:
    _hydra("run", "config", argv)


def annotate(argv: list[str]) -> None:
    _hydra("annotate", "annotate", argv)


def score(argv: list[str]) -> None:
    from eicore import logs, scoring
    from eicore.config import run_settings

    parser = argparse.ArgumentParser(
        prog="eicore score", usage="eicore score (<run dir> | --predictions <file>) [overrides...]"
    )
    parser.add_argument("--predictions", type=Path, help="an EIBench-shaped predictions file")
    parser.add_argument("--split", choices=("basic", "complex"), help="the predictions' split")
    parser.add_argument("--data-root", help="folder of the EIBench files (default: data.root)")
    parser.add_argument("--out", type=Path, help="where results go (predictions only)")
    parser.add_argument("--model", help="the model preset that made the predictions (recorded)")
    parser.add_argument(
        "--strategy", help="the strategy preset they were made with (recorded; paper-direct…)"
    )
    args, rest = parser.parse_known_args(argv)
    _check_overrides("score", rest)
    run_dirs = [Path(a) for a in rest if "=" not in a and not a.startswith(("-", "~"))]
    overrides = [a for a in rest if Path(a) not in run_dirs]
    if len(run_dirs) + (args.predictions is not None) != 1:
        parser.error("give either one run directory or --predictions <file>")
    run_dir = run_dirs[0] if run_dirs else None
    if args.predictions is not None and args.split is None:
        parser.error("--predictions needs --split basic|complex")
    if args.predictions is not None:
        overrides = [f"data.split={args.split}", *overrides]
        if args.data_root:
            overrides.append(f"data.root={args.data_root}")
    try:
        cfg = scoring.compose(overrides)
        logs.configure(None, run_settings(cfg).log_level)
        if run_dir is not None:
            out, result = scoring.score_run(run_dir, cfg)
        else:
            answered_by = {"model": args.model, "strategy": args.strategy}
            out, result = scoring.score_predictions(args.predictions, cfg, args.out, answered_by)
    except CLEAN_ERRORS as exc:
        print(f"eicore score: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    print(scoring.summary(result, str(out)))


def report(argv: list[str]) -> None:
    from eicore.rundirs import collect
    from eicore.summary import write_summary

    parser = argparse.ArgumentParser(prog="eicore report")
    parser.add_argument("dirs", nargs="+", type=Path, help="run and sweep directories")
    parser.add_argument("--out", type=Path, help="where to write (default: the one dir given)")
    args = parser.parse_args(argv)
    if args.out is None and len(args.dirs) > 1:
        parser.error("several directories: say where the summary goes with --out <dir>")
    try:
        summary = write_summary(args.out or args.dirs[0], collect(args.dirs))
    except RunLogError as exc:
        print(f"eicore report: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    print(summary.markdown)
    print("wrote " + ", ".join(str(p) for p in summary.files), file=sys.stderr)


def merge(argv: list[str]) -> None:
    from eicore.merge import merge as merge_shards

    parser = argparse.ArgumentParser(prog="eicore merge")
    parser.add_argument("shards", nargs="+", type=Path, help="the run directories of the shards")
    parser.add_argument("--out", type=Path, help="the merged run (default: beside the shards)")
    args = parser.parse_args(argv)
    try:
        run_dir, _ = merge_shards(args.shards, args.out)
    except CLEAN_ERRORS as exc:
        print(f"eicore merge: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    print(run_dir)


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


def cache(argv: list[str]) -> None:
    from eicore import cache_admin
    from eicore.store import cache_home

    parser = argparse.ArgumentParser(prog="eicore cache")
    parser.add_argument("action", choices=("verify", "clear"))
    parser.add_argument("--repair", action="store_true", help="verify: drop damaged entries")
    parser.add_argument("--cache-dir", type=Path, help="default: $EICORE_CACHE")
    args = parser.parse_args(argv)
    path = (args.cache_dir or cache_home()) / "calls.sqlite"
    if args.action == "clear":
        removed = cache_admin.clear(path)
        print(f"removed {', '.join(map(str, removed))}" if removed else f"{path}: no cache here")
        return
    report = cache_admin.verify(path, repair=args.repair)
    print(report.summary())
    if not report.sound:
        raise SystemExit(1)


def new_plugin(argv: list[str]) -> None:
    from eicore import scaffold

    parser = argparse.ArgumentParser(prog="eicore new-plugin")
    parser.add_argument("name", help="the component's name, e.g. acme-chat (`model=acme-chat`)")
    parser.add_argument("--kind", required=True, choices=scaffold.KINDS)
    parser.add_argument("--dir", type=Path, default=Path("."), help="where its folder goes")
    args = parser.parse_args(argv)
    try:
        folder = scaffold.new_plugin(args.name, args.kind, args.dir)
    except scaffold.ScaffoldError as exc:
        print(f"eicore new-plugin: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    print(f"wrote {folder}\nnext: cd {folder} && pip install -e '.[test]' && pytest")


def view(argv: list[str]) -> None:
    from eicore.viewer.commands import view as serve

    serve(argv)


def agreement(argv: list[str]) -> None:
    from eicore.viewer.commands import agreement_command

    agreement_command(argv)


BUILTIN: dict[str, Callable[[list[str]], None]] = {
    "run": run,
    "annotate": annotate,
    "score": score,
    "plugins": plugins,
    "report": report,
    "merge": merge,
    "view": view,
    "agreement": agreement,
    "new-plugin": new_plugin,
    "cache": cache,
}
"""The core's own commands; a plugin's command cannot take one of their names."""


@functools.cache
def plugin_commands() -> dict[str, Command]:
    """The commands the installed plugins add; one with a built-in name is left out, warned."""
    added = {}
    for name, command in sorted(registry().commands.items()):
        if name in BUILTIN:
            logger.warning("plugin {!r}: command {!r} is built in; not added", command.plugin, name)
        else:
            added[name] = command
    return added


def usage() -> str:
    """:data:`USAGE` with the commands the installed plugins add, laid out like the core's."""
    indent = " " * 23
    added = []
    for command in plugin_commands().values():
        synopsis, _, text = command.usage.strip().partition("\n")
        lines = textwrap.wrap(" ".join(text.split()), 96, initial_indent=indent,
                              subsequent_indent=indent)  # fmt: skip
        added += ["  " + synopsis, *lines]
    if not added:
        return USAGE
    return USAGE.rstrip("\n") + "\n\ncommands from plugins:\n" + "\n".join(added) + "\n"


def main() -> None:
    from eicore.threads import cpu_threads

    cpu_threads()  # before torch or a BLAS library loads: they read their pool sizes then
    args = sys.argv[1:]
    if not args or args[0] in {"-h", "--help", "help"}:
        print(usage())
        return
    command, rest = args[0], args[1:]
    known = BUILTIN if command in BUILTIN else {n: c.main for n, c in plugin_commands().items()}
    if command not in known:
        print(f"eicore: unknown command {command!r}\n\n{usage()}", file=sys.stderr)
        raise SystemExit(2)
    from eicore.redact import masked_output

    try:
        with masked_output():
            known[command](rest)
    except KeyboardInterrupt:
        print(
            "eicore: interrupted; finished samples are saved, run the same command to resume",
            file=sys.stderr,
        )
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
