"""The default `eicore run` alone and beside two busy-loop processes: the slowdown.

A fair share of the machine's cores among the run's threads and two spinning processes is
what the run should get; torch/OpenMP pools sized to every core (or spinning while idle) do
much worse, since each parallel region waits for its slowest thread. Both runs are whole
processes with a cold call cache (see ``default_run.py``); the alone run comes first, then
the same run with the busy loops started just before it and stopped just after.

Printed last: beside / alone (target <= 2.2; on 2 cores with 2 busy loops the fair share is
2x for a run using both cores).

    python benchmarks/contention.py [--data ../shared/eibench] [--busy 2] [overrides...]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from default_run import DEFAULT_DATA, OFFLINE, eicore_run, timed  # noqa: E402

TARGET = 2.2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--data", type=Path, default=Path(os.environ.get("EICORE_TEST_DATA", DEFAULT_DATA))
    )
    parser.add_argument("--busy", type=int, default=2, help="busy-loop processes beside the run")
    parser.add_argument("overrides", nargs="*", help="extra `eicore run` overrides")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    env = {**os.environ, **OFFLINE}
    print(f"{os.cpu_count()} CPUs; load average at the start: {open('/proc/loadavg').read()[:14]}")
    with tempfile.TemporaryDirectory(prefix="eicore-contention-") as tmp:
        work = Path(tmp)
        alone = timed(eicore_run(args.data, work, "alone", args.overrides), env)
        print(f"alone: {alone:.1f} s; load average {open('/proc/loadavg').read()[:14]}")
        spinners = [
            subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.busy)
        ]
        try:
            beside = timed(eicore_run(args.data, work, "beside", args.overrides), env)
        finally:
            for spinner in spinners:
                spinner.kill()
                spinner.wait()
        print(f"beside {args.busy} busy loops: {beside:.1f} s")
    ratio = beside / alone
    print(f"load average at the end: {open('/proc/loadavg').read()[:14]}")
    print(
        f"slowdown beside {args.busy} busy loops: {ratio:.2f}x "
        f"(target <= {TARGET}: {'met' if ratio <= TARGET else 'MISSED'})"
    )


if __name__ == "__main__":
    main()
