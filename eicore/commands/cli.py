"""The ``eicore`` command: ``run`` (Hydra overrides, ``-m`` for sweeps), ``annotate``, ``score``,
``plugins`` and the rest of :data:`USAGE`, and the commands plugins add
(``eicore_register_commands``)."""

from __future__ import annotations

import argparse
import contextlib
import functools
import gc
import json
import os
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from loguru import logger

from eicore.datasets.samples import DataError
from eicore.log import RunLogError
from eicore.plugins import GROUPS, Command, UnknownComponentError, registry
from eicore.run.settings import ConfigError, register_resolvers
from eicore.run.store import StoreError

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

COLLECTS_ITSELF = frozenset({"run", "annotate"})
"""The commands whose jobs turn the garbage collector on (off since the entry point) when
their loop starts, after composing their config and loading their models; every other command
turns it on at once."""

CLEAN_ERRORS = (ConfigError, DataError, StoreError, UnknownComponentError, RunLogError)
"""Errors that mean the input or configuration is unusable: one clear line, no traceback."""

register_resolvers()


def _task(cfg: Any) -> Any:
    """One Hydra job. Every error ends here as one line (:func:`error_message`), and so does a
    run in which no sample was answered (exit 1); in a sweep the job is recorded as failed
    (:class:`~eicore.run.callbacks.JobFailure`) and the other jobs go on."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode
    from loguru import logger
    from omegaconf import OmegaConf

    from eicore.run import console
    from eicore.run.callbacks import JobFailure
    from eicore.run.job import evaluate
    from eicore.secrets.masking import keep_secrets_of

    keep_secrets_of(OmegaConf.to_container(cfg, resolve=False))  # set in a config file, say
    console.configure()  # one format for every line, also an error before the run's own settings
    multirun = HydraConfig.get().mode == RunMode.MULTIRUN
    if multirun:
        _redact_sweep_record(Path(HydraConfig.get().sweep.dir) / "multirun.yaml")
    try:
        result = evaluate(cfg)
    except Exception as exc:
        message, status = error_message(exc)
        logger.error("{}", message)
        if multirun:
            return JobFailure(message)
        raise SystemExit(status) from None
    done = result.completeness
    if done.n_samples and not done.n_answered:
        message = f"no sample was answered ({done.n_failed} failed: {done.errors})"
        logger.error("{}; the errors are in the run's records.jsonl", message)
        if multirun:
            return JobFailure(message)
        raise SystemExit(1)
    return result


def error_message(exc: BaseException) -> tuple[str, int]:
    """The one line that stands for ``exc``, and the exit status: 2 for input, configuration
    and stores (named what to fix), 1 for an unexpected error (its traceback goes to
    :func:`error_log`, never to the console)."""
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from eicore.commands.new_plugin import ScaffoldError
    from eicore.secrets.masking import redact

    if isinstance(exc, HydraException):
        return redact(hydra_message(exc)), 2
    if isinstance(exc, (*CLEAN_ERRORS, ScaffoldError)):
        return redact(str(exc)), 2
    if isinstance(exc, OmegaConfBaseException):
        return redact(str(exc).splitlines()[0]), 2
    if isinstance(exc, OSError) and exc.filename is not None:
        return redact(f"{exc.filename}: {exc.strerror or exc}"), 2
    log = error_log(exc)
    where = f"; the traceback is in {log}" if log else ""
    first = (str(exc).strip().splitlines() or [""])[0]
    return redact(f"unexpected {type(exc).__name__}: {first}{where}"), 1


def error_log(exc: BaseException) -> Path | None:
    """Append ``exc``'s traceback (secrets masked) to ``<cache home>/errors.log`` (else the temp
    folder); None when neither can be written."""
    import tempfile
    import time
    import traceback

    from eicore.run.store import cache_home
    from eicore.secrets.masking import redact

    text = "".join(traceback.format_exception(exc))
    entry = f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} eicore {' '.join(sys.argv[1:2])}\n{text}"
    for folder in (cache_home(), Path(tempfile.gettempdir())):
        path = folder / "errors.log"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as f:
                f.write(redact(entry))
        except OSError:
            continue
        return path
    return None


def hydra_message(exc: BaseException) -> str:
    """Hydra's error (a mistyped config name or key, a bad override) as one line that says what
    to write instead; Hydra's own text suggests ``+key=`` for a typo, which nothing reads."""
    import re

    from hydra.errors import MissingConfigException
    from omegaconf.errors import ConfigAttributeError, ConfigKeyError

    from eicore.run.settings import TOP_LEVEL_KEYS, did_you_mean

    text = str(exc)
    missing = exc.missing_cfg_file if isinstance(exc, MissingConfigException) else None
    options = (exc.options if isinstance(exc, MissingConfigException) else None) or []
    group, _, name = (missing or "").rpartition("/")
    if missing and (options or group in GROUPS.values()):  # a plugin's group: none installed
        return (
            f"no {group or 'config'} named {name!r}{did_you_mean(name, options)}; "
            f"available: {', '.join(options) or 'none'}; `eicore plugins` lists what each "
            "plugin provides"
        )
    key = re.search(r"override '([^']+)'|override \+*([^\s=]+)=", text)
    cause = exc.__cause__
    if key and isinstance(cause, (ConfigKeyError, ConfigAttributeError)):
        name = key[1] or key[2]
        parent, _, leaf = name.rpartition(".")
        node = getattr(cause, "parent_node", None)
        options = [str(k) for k in node] if node is not None and hasattr(node, "keys") else []
        if not parent:
            options = list(TOP_LEVEL_KEYS[:-1])
        return f"unknown setting {name!r}{did_you_mean(leaf, options)}" + (
            f"; {parent or 'the top level'} has: {', '.join(options)}" if options else ""
        )
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if "Available options:" in lines:  # Hydra lists a group's options one a line
        at = lines.index("Available options:")
        return f"{'; '.join(lines[:at])}; available: {', '.join(lines[at + 1 :])}"
    if isinstance(cause, Exception) and str(cause).strip():
        lines.append(str(cause).strip().splitlines()[0])
    return "; ".join(dict.fromkeys(lines[:3]))


def _redact_sweep_record(path: Path) -> None:
    """Hydra's sweeper saves the raw config as multirun.yaml: mask secrets in it."""
    from omegaconf import OmegaConf

    from eicore.secrets.masking import redact_tree

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
    import os

    import hydra

    if {"-h", "--help"} & set(argv):
        print(command_help(command))
        return
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
    sys.argv = [f"eicore {command}", *null_groups(argv)]
    os.environ["HYDRA_FULL_ERROR"] = "1"  # Hydra's errors reach main()'s one-line report
    with _composed_once(argv):
        main(_task)()


@contextlib.contextmanager
def _composed_once(argv: list[str]) -> Iterator[None]:
    """Without ``-m``, Hydra composes the whole config twice: first only to read
    ``hydra.mode`` (~0.1 s), which eicore's configs never set (a sweep is ``-m``). Skip that
    first pass unless the command line sets ``hydra.mode``; a config file's ``hydra.mode`` is
    not read (docs/sweeps.md)."""
    from hydra._internal.hydra import Hydra

    sweep = {"-m", "--multirun"} & set(argv) or any("hydra.mode=" in a for a in argv)
    if sweep or not hasattr(Hydra, "get_mode"):
        yield
        return
    saved = Hydra.get_mode
    Hydra.get_mode = lambda self, config_name, overrides: None  # type: ignore[method-assign]
    try:
        yield
    finally:
        Hydra.get_mode = saved  # type: ignore[method-assign]


def null_groups(overrides: list[str]) -> list[str]:
    """``judge=null`` (documented: no judge) as Hydra spells it on a command line, ``~judge``;
    likewise for every config group."""
    from eicore.plugins import GROUPS

    groups = {*GROUPS.values(), "experiment"}
    return [f"~{o[:-5]}" if o.endswith("=null") and o[:-5] in groups else o for o in overrides]


def command_help(command: str) -> str:
    """``eicore <command> --help``: its usage and the installed names per config group, read
    from the plugin registry (no config is composed, so it works whatever is missing)."""
    from eicore.plugins import GROUPS

    lines = USAGE.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"  {command} "))
    end = next(
        (
            i
            for i in range(start + 1, len(lines))
            if lines[i].startswith("  ") and lines[i][2] != " "
        ),
        len(lines),
    )
    names = [
        f"  {GROUPS[kind]}=: {', '.join(sorted(regs))}"
        for kind, regs in registry().components.items()
        if regs
    ]
    return "\n".join(
        [f"usage: eicore {command} [overrides...]", *lines[start:end], "", "installed:", *names,
         "", "`--cfg job` prints the composed config; `--hydra-help` shows Hydra's own flags"]
    )  # fmt: skip


def _check_overrides(command: str, overrides: list[str]) -> None:
    """Refuse a key where Hydra would print it (eicore.secrets.keys), in one line."""
    from eicore.secrets.keys import check_overrides

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
    from eicore.run import console, rescore
    from eicore.run.settings import run_settings

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
    cfg = rescore.compose(null_groups(overrides))
    console.configure(None, run_settings(cfg).log_level)
    if run_dir is not None:
        out, result = rescore.score_run(run_dir, cfg)
    else:
        answered_by = {"model": args.model, "strategy": args.strategy}
        out, result = rescore.score_predictions(args.predictions, cfg, args.out, answered_by)
    print(rescore.summary(result, str(out)))


def report(argv: list[str]) -> None:
    from eicore.log.directories import collect
    from eicore.report.summary import write_summary

    parser = argparse.ArgumentParser(prog="eicore report")
    parser.add_argument("dirs", nargs="+", type=Path, help="run and sweep directories")
    parser.add_argument("--out", type=Path, help="where to write (default: the one dir given)")
    args = parser.parse_args(argv)
    if args.out is None and len(args.dirs) > 1:
        parser.error("several directories: say where the summary goes with --out <dir>")
    summary = write_summary(args.out or args.dirs[0], collect(args.dirs))
    print(summary.markdown)
    print("wrote " + ", ".join(str(p) for p in summary.files), file=sys.stderr)


def merge(argv: list[str]) -> None:
    from eicore.run.merge import merge as merge_shards

    parser = argparse.ArgumentParser(prog="eicore merge")
    parser.add_argument("shards", nargs="+", type=Path, help="the run directories of the shards")
    parser.add_argument("--out", type=Path, help="the merged run (default: beside the shards)")
    args = parser.parse_args(argv)
    run_dir, _ = merge_shards(args.shards, args.out)
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
    from eicore.commands.cache import clear, verify
    from eicore.run.store import cache_home

    parser = argparse.ArgumentParser(prog="eicore cache")
    parser.add_argument("action", choices=("verify", "clear"))
    parser.add_argument("--repair", action="store_true", help="verify: drop damaged entries")
    parser.add_argument("--cache-dir", type=Path, help="default: $EICORE_CACHE")
    args = parser.parse_args(argv)
    path = (args.cache_dir or cache_home()) / "calls.sqlite"
    if args.action == "clear":
        removed = clear(path)
        print(f"removed {', '.join(map(str, removed))}" if removed else f"{path}: no cache here")
        return
    report = verify(path, repair=args.repair)
    print(report.summary())
    if not report.sound:
        raise SystemExit(1)


def new_plugin(argv: list[str]) -> None:
    from eicore.commands.new_plugin import KINDS, write_plugin

    parser = argparse.ArgumentParser(prog="eicore new-plugin")
    parser.add_argument("name", help="the component's name, e.g. acme-chat (`model=acme-chat`)")
    parser.add_argument("--kind", required=True, choices=KINDS)
    parser.add_argument("--dir", type=Path, default=Path("."), help="where its folder goes")
    args = parser.parse_args(argv)
    folder = write_plugin(args.name, args.kind, args.dir)
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
    from eicore.run.threads import cpu_threads

    cpu_threads()  # before torch or a BLAS library loads: they read their pool sizes then
    args = sys.argv[1:]
    if not args or args[0] in {"-h", "--help", "help"}:
        print(usage())
        return
    command, rest = args[0], args[1:]
    if command not in COLLECTS_ITSELF:
        gc.enable()  # started off by the entry point, for the imports
    known = BUILTIN if command in BUILTIN else {n: c.main for n, c in plugin_commands().items()}
    if command not in known:
        print(f"eicore: unknown command {command!r}\n\n{usage()}", file=sys.stderr)
        raise SystemExit(2)
    from eicore.secrets.masking import masked_output

    try:
        with masked_output():
            known[command](rest)
    except KeyboardInterrupt:
        from eicore_entry import interrupted

        interrupted()
    except BrokenPipeError:  # `eicore plugins | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit
        raise SystemExit(0) from None
    except Exception as exc:  # the one error boundary: a line on stderr, never a traceback
        message, status = error_message(exc)
        print(f"eicore {command}: {message}", file=sys.stderr)
        raise SystemExit(status) from None


if __name__ == "__main__":
    main()
