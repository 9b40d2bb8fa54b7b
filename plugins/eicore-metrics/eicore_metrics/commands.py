"""The commands this plugin adds to ``eicore``: ``compare`` and ``calibrate``, which read what
its judges and its recall metric wrote, and ``judge-check``, which probes judges for bias."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
from pathlib import Path

from eicore import ConfigError, DataError, RegisterCommand, stored_judging
from eicore_metrics.calibration import calibrate as fit
from eicore_metrics.calibration import calibration_report, parse_grid, save_preset
from eicore_metrics.comparison import compare_runs, comparison_table, load_records
from eicore_metrics.probes import ProbeResult, probe_judge, probes_table
from eicore_metrics.statistics import Bootstrap

COMPARE = """compare <run A> <run B> [--judge <name>] [--resamples N] [--seed S] [--json]
recall of A minus B on the samples both scored: paired bootstrap CI and p-value, overall and
per emotion"""

CALIBRATE = """calibrate <run dir> --reference <judge> --name <preset> [--limit N] [--json]
fit the semantic judge's threshold to a reference judge's scores in the run; saves it as
`judge=<preset>`"""


def compare(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="eicore compare")
    parser.add_argument("run_a", type=Path)
    parser.add_argument("run_b", type=Path)
    parser.add_argument("--judge", help="whose scores to compare (default: A's first judge)")
    parser.add_argument("--resamples", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--level", type=float, default=0.95)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    boot = Bootstrap(args.resamples, args.seed, args.level)
    try:
        result = compare_runs(args.run_a, args.run_b, args.judge, boot)
    except (OSError, ValueError) as exc:
        print(f"eicore compare: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    print(json.dumps(result, indent=2) if args.json else comparison_table(result))


def calibrate(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="eicore calibrate")
    parser.add_argument("run_dir", type=Path, help="a run (or re-score) with the reference judge")
    parser.add_argument("--reference", required=True, help="the judge to agree with")
    parser.add_argument("--name", required=True, help="the preset's judge name")
    parser.add_argument("--limit", type=int, help="use only the first N reference-scored samples")
    parser.add_argument("--grid", default="0.30:0.90:0.005", help="thresholds: start:stop:step")
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a summary")
    args = parser.parse_args(argv)
    try:
        grid = parse_grid(args.grid)
        records = load_records(args.run_dir)
        boot = Bootstrap(args.resamples, args.seed)
        result = fit(records, args.reference, str(args.run_dir), grid, boot, args.limit)
    except (OSError, ValueError) as exc:
        print(f"eicore calibrate: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    path = save_preset(args.name, result)
    if args.json:
        print(json.dumps({"preset": str(path), **dataclasses.asdict(result)}, indent=2))
        return
    print(calibration_report(result) + f"\nsaved {path}: use it with `judge={args.name}`")


JUDGE_CHECK = """judge-check <run dir> [--probes order,shuffle,verbosity,paraphrase] [--seeds K]
[--json] [overrides...]
bias probes of the run's judges (or `judge=<name>`) on its stored answers, without calling its
model: triggers reordered, answer items shuffled, answer padded, triggers paraphrased
(`+model@paraphraser=<name>`); mean shift and share of changed scores with CIs"""


def judge_check(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(
        prog="eicore judge-check", usage="eicore judge-check <run dir> [options] [overrides...]"
    )
    parser.add_argument("--probes", default="order,shuffle,verbosity", help="comma-separated")
    parser.add_argument("--seeds", type=int, default=3, help="permutations per order/shuffle")
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args, rest = parser.parse_known_args(argv)
    run_dirs = [Path(a) for a in rest if "=" not in a and not a.startswith(("-", "~"))]
    overrides = [a for a in rest if Path(a) not in run_dirs]
    if len(run_dirs) != 1:
        parser.error("give one run directory")
    probes = [p for p in args.probes.split(",") if p]
    boot = Bootstrap(args.resamples, args.seed)

    async def check() -> dict[str, list[ProbeResult]]:
        async with stored_judging(run_dirs[0], overrides, ["paraphraser"]) as run:
            return {
                judge.name: await probe_judge(
                    run.records,
                    judge,
                    probes,
                    args.seeds,
                    boot,
                    run.concurrency,
                    run.role("paraphraser"),
                    run.role(f"judge:{judge.name}"),
                )
                for judge in run.judges
            }

    try:
        results = asyncio.run(check())
    except (ConfigError, DataError, OSError, ValueError) as exc:
        print(f"eicore judge-check: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    if args.json:
        as_dicts = {k: [dataclasses.asdict(r) for r in v] for k, v in results.items()}
        print(json.dumps(as_dicts, indent=2))
        return
    print("\n".join(probes_table(name, found) for name, found in results.items()))


def register_commands(register: RegisterCommand) -> None:
    register("compare", compare, COMPARE)
    register("calibrate", calibrate, CALIBRATE)
    register("judge-check", judge_check, JUDGE_CHECK)
