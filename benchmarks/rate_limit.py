"""`run.concurrency=auto` against a rate-limited API, beside fixed concurrencies.

The fake (``eicore.testing.fake_api`` with ``rate_limit``: a token bucket of R requests/s;
beyond it, 429 at once with ``retry-after-ms`` / ``Retry-After``) answers admitted requests
after L seconds. N EIBench basic samples go through eicore's runner, the ``direct`` strategy and
the openai plugin (the SDK's own retries, 5 by default, honour the Retry-After), at fixed
C = 8 (under R x L = 8 in flight once overheads count), C = 64 (a 429 storm) and ``auto``
(AIMD, ceiling ``run.max_concurrency`` = 64, nothing tuned; a call the SDK gave up on is
made again after the endpoint's pause, so no sample fails to the limit). Printed per setting:
wall time, answered samples per second and as a fraction of R, the 429s the fake sent, failed
samples.
The fake runs in this process: at R = 40/s its CPU is a few percent of one core.

    python benchmarks/rate_limit.py [--samples 1615] [--rate 40] [--latency 0.2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

from loguru import logger

from eicore.datasets.samples import select
from eicore.plugins import registry
from eicore.run.calls import ModelClient
from eicore.run.loop import Components, Progress, run_samples
from eicore.run.store import RunStore
from eicore.testing.fake_api import FakeAPI

TARGET = 0.9
DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "eibench"
MAX_CONCURRENCY = 64


def run(url: str, samples: list, setting: int | str, folder: Path) -> tuple[float, Progress, int]:
    """Wall seconds, progress and the peak calls in flight for one setting."""
    model = registry().build(
        "model", {"plugin": "openai", "base_url": url + "/v1", "vision": False}
    )
    adaptive = MAX_CONCURRENCY if setting == "auto" else None
    client = ModelClient(model, None, adaptive)
    strategy = registry().build("strategy", {"plugin": "direct"})
    parts = Components(strategy, {"answerer": client}, [], None)
    store = RunStore(folder)
    progress = Progress(total=len(samples))
    workers = MAX_CONCURRENCY if setting == "auto" else int(setting)

    async def go() -> None:
        try:
            await run_samples(samples, parts, store, workers, progress, show_progress=False)
        finally:
            await client.aclose()

    started = time.perf_counter()
    asyncio.run(go())
    seconds = time.perf_counter() - started
    store.close()
    peak = client.limit.peak if client.limit else workers
    return seconds, progress, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--data", type=Path, default=Path(os.environ.get("EICORE_TEST_DATA", DEFAULT_DATA))
    )
    parser.add_argument("--samples", type=int, default=1615)
    parser.add_argument("--rate", type=float, default=40.0, help="R, requests/s")
    parser.add_argument("--latency", type=float, default=0.2, help="L, seconds per answer")
    parser.add_argument("--settings", nargs="+", default=["8", "64", "auto"])
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    logger.remove()  # the runner's per-sample debug lines: the failed column counts them
    logger.add(sys.stderr, level="WARNING")
    os.environ["OPENAI_API_KEY"] = "bench-FAKEKEY-0123456789"
    dataset = registry().build(
        "dataset", {"plugin": "eibench", "root": str(args.data), "limit": args.samples}
    )
    samples = select(dataset.load(), dataset.config)
    print(
        f"N = {len(samples)}, R = {args.rate:.0f}/s, L = {args.latency * 1000:.0f} ms; "
        f"{os.cpu_count()} CPUs, load average {open('/proc/loadavg').read()[:14]}\n\n"
        "| C | wall s | answered/s | of R | 429s | failed | peak in flight |\n"
        "|---|---:|---:|---:|---:|---:|---:|"
    )
    fractions = {}
    with tempfile.TemporaryDirectory(prefix="eicore-rate-limit-") as tmp:
        for setting in args.settings:
            with FakeAPI(latency=args.latency, rate_limit=args.rate) as fake:
                seconds, progress, peak = run(fake.url, samples, setting, Path(tmp) / setting)
                refused = fake.rate_limited
            rate = progress.answered / seconds
            fractions[setting] = rate / args.rate
            print(
                f"| {setting} | {seconds:.1f} | {rate:.1f} | {fractions[setting]:.2f} | "
                f"{refused} | {progress.failed} | {peak} |"
            )
    print(f"load average at the end: {open('/proc/loadavg').read()[:14]}")
    if "auto" in fractions:
        ok = fractions["auto"] >= TARGET
        print(
            f"auto reaches {fractions['auto']:.2f} of R "
            f"(target >= {TARGET}: {'met' if ok else 'MISSED'})"
        )


if __name__ == "__main__":
    main()
