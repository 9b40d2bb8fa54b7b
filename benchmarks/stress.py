"""Stress run: 20,000 synthetic samples through ``eicore run model=openai`` against the fake API at
concurrency 64, once without faults and once with 5% of requests faulted (429 with Retry-After,
500, connection reset, in equal parts; a retry may be faulted again).

The data is EIBench-shaped (``user.jsonl`` + ``basic_ground_truth.json``, every question
different so that every sample makes its own call), the model text-only, no judge, a fresh call
cache per run. The fake runs in this process, eicore in a subprocess of its own, measured alone.

Printed: per run, the samples recorded (lost = samples - records, must be 0), failed samples,
requests and faults served, wall time of the call phase (first to last request) and of the
process, throughput, and the eicore process's RSS: the highest while calls are made, and the
peak (reached while the run's files are written at the end, which holds every record at once);
also for a run of a tenth of the samples, to show how memory grows. Then the faulted run's
throughput against the fault-free run's, raw and adjusted for the retry delays: the time each
faulted request kept its worker from the next attempt (the fake's log: next request for the
same prompt minus the faulted one's arrival), summed and spread over the 64 workers.

    python benchmarks/stress.py [--samples 20000] [--concurrency 64] [--fault-rate 0.05]
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from eicore.testing.fake_api import FakeAPI, Received, Reply

KEY = "sk-stress-0123456789abcdef"
EMOTIONS = {"sadness": "sad", "excitement": "excited", "Angry": "angry", "Happy": "happy"}
ANSWER = "1. The person's facial expression\n2. Something that happened just before"
FAULTS = {
    "429": lambda: Reply.rate_limited(retry_after_ms=None, retry_after="0.05"),
    "500": lambda: Reply.server_error(retry_after_ms=50),
    "reset": Reply.connection_reset,
}


def write_data(folder: Path, n: int) -> None:
    """``n`` EIBench-shaped samples, each with its own question."""
    folder.mkdir(parents=True, exist_ok=True)
    truth = {}
    with (folder / "user.jsonl").open("w", encoding="utf-8") as questions:
        for i in range(n):
            source, label = list(EMOTIONS.items())[i % len(EMOTIONS)]
            image = f"EmoSet-118k/image/{source}/{i:06d}.jpg"
            questions.write(json.dumps({image: f"Why is person {i} in the image {label}?"}) + "\n")
            truth[image] = f"1. Trigger {i} one\n2. Trigger {i} two"
    (folder / "basic_ground_truth.json").write_text(json.dumps(truth), encoding="utf-8")


@dataclass
class Faulty:
    """The fake's answer: each request faulted with probability ``rate`` (seeded), and a log of
    arrivals per prompt."""

    rate: float
    seed: int = 0
    arrivals: dict[str, list[tuple[float, str | None]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def __call__(self, request: Received) -> Reply | str:
        prompt = hashlib.sha256(json.dumps(request.body["messages"]).encode()).hexdigest()
        with self.lock:
            fault = self.rng.choice(list(FAULTS)) if self.rng.random() < self.rate else None
            self.arrivals[prompt].append((time.monotonic(), fault))
        return FAULTS[fault]() if fault else ANSWER

    def times(self) -> list[float]:
        return sorted(t for calls in self.arrivals.values() for t, _ in calls)

    def faults(self) -> Counter[str]:
        return Counter(f for calls in self.arrivals.values() for _, f in calls if f)

    def retry_delay(self) -> float:
        """Seconds between each faulted request's arrival and the next try of its prompt."""
        total = 0.0
        for calls in self.arrivals.values():
            for (arrived, fault), (retried, _) in itertools.pairwise(calls):
                if fault:
                    total += retried - arrived
        return total


@dataclass
class Result:
    samples: int
    records: int
    unique: int
    failed: int
    requests: int
    faults: Counter[str]
    call_seconds: float
    process_seconds: float
    peak_rss_mb: float
    calls_rss_mb: float
    """The highest RSS sampled while calls were being made (every 0.25 s)."""
    retry_delay: float

    @property
    def throughput(self) -> float:
        return self.samples / self.call_seconds


def run(data: Path, work: Path, name: str, n: int, args: argparse.Namespace, rate: float) -> Result:
    answer = Faulty(rate, seed=args.seed)
    with FakeAPI(answer=answer, latency=args.latency) as fake:
        command = [
            sys.executable, "-c", "from eicore.commands.cli import main; main()", "run",
            "model=openai", f"model.base_url={fake.url}/v1", "model.vision=false",
            "model.max_retries=5", "~judge", "metrics=[]", f"data.root={data}",
            f"data.limit={n}", f"run.root={work / name}", f"run.concurrency={args.concurrency}",
            "run.progress=false", "run.log_level=WARNING",
        ]  # fmt: skip
        env = {**os.environ, "OPENAI_API_KEY": KEY, "EICORE_CACHE": str(work / f"{name}-cache")}
        started = time.perf_counter()
        with open(work / f"{name}.stderr", "w") as stderr:
            proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
            rss: list[tuple[float, int]] = []
            sampler = threading.Thread(target=sample_rss, args=(proc.pid, rss))
            sampler.start()
            _, status, usage = os.wait4(proc.pid, 0)
            sampler.join()
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{name}: exit {proc.returncode}\n{(work / f'{name}.stderr').read_text()}")
    (run_dir,) = (work / name).iterdir()
    ids = [json.loads(line)["sample"]["id"] for line in (run_dir / "records.jsonl").open()]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    times = answer.times()
    during_calls = [kb for at, kb in rss if at <= times[-1]]
    return Result(
        samples=n,
        records=len(ids),
        unique=len(set(ids)),
        failed=metrics["n_failed"],
        requests=len(times),
        faults=answer.faults(),
        call_seconds=times[-1] - times[0] + args.latency,
        process_seconds=seconds,
        peak_rss_mb=usage.ru_maxrss / 1024,
        calls_rss_mb=max(during_calls, default=0) / 1024,
        retry_delay=answer.retry_delay(),
    )


def sample_rss(pid: int, into: list[tuple[float, int]]) -> None:
    """Append (time, resident kB) of process ``pid`` every 0.25 s until it is gone."""
    while True:
        try:
            with open(f"/proc/{pid}/status") as status:
                kb = next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))
        except (OSError, StopIteration):
            return
        into.append((time.monotonic(), kb))
        time.sleep(0.25)


def row(name: str, r: Result) -> str:
    faults = ", ".join(f"{k} {v}" for k, v in sorted(r.faults.items())) or "none"
    return (
        f"| {name} | {r.samples} | {r.samples - r.unique} | {r.records - r.unique} | {r.failed} | "
        f"{r.requests} | {faults} | {r.call_seconds:.1f} | {r.process_seconds:.1f} | "
        f"{r.throughput:.0f} | {r.calls_rss_mb:.0f} | {r.peak_rss_mb:.0f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--fault-rate", type=float, default=0.05)
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per fake reply")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    with tempfile.TemporaryDirectory(prefix="eicore-stress-") as tmp:
        work = Path(tmp)
        write_data(work / "data", args.samples)
        print(
            f"openai plugin, fake API latency {args.latency * 1000:.0f} ms, concurrency "
            f"{args.concurrency}, max_retries 5, no judge; {os.cpu_count()} CPUs, load average "
            f"{os.getloadavg()[0]:.2f}\n\n"
            "| run | samples | lost | duplicated | failed | requests | faults | call phase s "
            "| process s | samples/s | RSS MB, calls | peak RSS MB |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|---|"
        )
        small = args.samples // 10
        runs = {
            f"no faults, {small}": run(work / "data", work, "small", small, args, 0.0),
            "no faults": run(work / "data", work, "clean", args.samples, args, 0.0),
            f"{args.fault_rate:.0%} faults": run(
                work / "data", work, "faulty", args.samples, args, args.fault_rate
            ),
        }
        for name, result in runs.items():
            print(row(name, result))
        clean, faulty = runs["no faults"], runs[f"{args.fault_rate:.0%} faults"]
        expected = clean.call_seconds + faulty.retry_delay / args.concurrency
        print(
            f"\nretry delays: {faulty.retry_delay:.1f} worker-seconds over "
            f"{sum(faulty.faults.values())} faulted requests, "
            f"{faulty.retry_delay / args.concurrency:.2f} s spread over {args.concurrency} workers"
        )
        print(f"faulted / fault-free throughput: {faulty.throughput / clean.throughput:.3f}")
        ratio = expected / faulty.call_seconds
        verdict = "met" if ratio >= 0.8 else "MISSED"
        spread = expected - clean.call_seconds
        print(
            f"faulted / (fault-free minus retry delays): {ratio:.3f} "
            f"(fault-free call phase {clean.call_seconds:.1f} s + {spread:.2f} s of retry delays "
            f"= {expected:.1f} s expected, {faulty.call_seconds:.1f} s taken; "
            f"target >= 0.8: {verdict})"
        )
        lost = sum(r.samples - r.unique + r.records - r.unique for r in runs.values())
        print(f"samples lost or duplicated in all runs: {lost}")


if __name__ == "__main__":
    main()
