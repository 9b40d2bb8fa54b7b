"""The commands this plugin adds to ``eicore``: ``compare`` and ``calibrate``, which read what
its judges and its recall metric wrote."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from eicore import RegisterCommand
from eicore_metrics.calibration import calibrate as fit
from eicore_metrics.calibration import calibration_report, parse_grid, save_preset
from eicore_metrics.comparison import compare_runs, comparison_table, load_records
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


def register_commands(register: RegisterCommand) -> None:
    register("compare", compare, COMPARE)
    register("calibrate", calibrate, CALIBRATE)
