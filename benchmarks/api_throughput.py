"""API-model throughput: the whole `eicore run` against the bare SDK, on one fake API.

The fake (``eicore.testing.fake_api``, in processes of its own so it does not compete for the
measured process's CPU: 4 servers on one port) answers every request after ``--latency`` L
seconds. First, what users wait for: at each C of ``--whole`` (8, 32, 128), the whole
``eicore run model=openai`` invocation, started as users start it (the ``eicore`` console
script; start to exit: imports, config, N EIBench basic samples with synthetic images, each
read and checked, through the ``direct`` strategy, no judge, no cache, the run directory
written: records, run log, report.html with thumbnails) and, in turns with it, a bare script
that sends the same N requests (the same image and text) with the openai SDK's
``chat.completions.create`` at the same concurrency (``asyncio.Semaphore``; start to exit,
imports included; it writes nothing). eicore's modules are byte-compiled first, as pip leaves
an installed package (``installed.py``). The ratio is the bare script's wall time over eicore's
(1.0: eicore at the SDK's own speed): the median over ``--rounds`` pairs, run in ABBA order
so that a drift in the machine's load meets both sides alike.
Then the fake alone, driven by a raw keep-alive client (next to no CPU) over 4x the largest C
connections: it must serve well beyond that C's C/L, or it would be what limits the runs.

Then, with ``--runner-phase``, the runner alone (the earlier form of this benchmark):

Printed per C: samples/s, and that divided by the ideal C/L. At C=1, per sample above L:
(a) eicore end to end, wall/N - L; (b) the same N calls without eicore, a bare loop that reads
each image file and calls the plugin's ``generate`` (what calling the SDK yourself costs),
run in turns with (a), ``--block`` samples each, so that both meet the same machine load; and
(c) = (a) - (b), what eicore adds per sample over that: its framework overhead, the figure the
2 ms target is for. Then, over ``--baseline-samples`` samples, what parts of that cost alone:
the fake and the loopback (http.client) and eicore's runner with no HTTP (a model that sleeps
L). Last, the ratio of eicore at C=32 to the way the original EIBench scripts call an API: a
sequential loop, a new SDK client per call.

    python benchmarks/api_throughput.py [--samples 1615] [--latency 0.1] [--whole 8 32 128]
        [--rounds 3] [--runner-phase] [--plugin openai] [--block 50]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from eicore_strategies.direct import DirectConfig
from eicore_strategies.personas import persona_text
from installed import byte_compile

from eicore import Completion, ImagePart, Model, Prompt, Sample
from eicore.datasets.images import read
from eicore.datasets.samples import select
from eicore.plugins import registry
from eicore.run.calls import ModelClient
from eicore.run.loop import Components, Progress, run_samples
from eicore.run.store import RunStore

KEY_ENV = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY", "gemini": "GEMINI_API_KEY"}
URL_SUFFIX = {"openai": "/v1", "anthropic": "", "gemini": ""}
FAKE_KEY = "bench-FAKEKEY-0123456789"
DIRECT = DirectConfig()
PERSONA = persona_text(DIRECT.persona)
TARGET_RATIO, TARGET_OVERHEAD_MS, TARGET_WHOLE = 0.85, 2.0, 0.95
FAKE_MARGIN = 4
"""The fake alone is driven with this many times the largest C."""
FAKE_PROCESSES = 4
"""Fake servers on the one port: one interpreter's share of a busy machine's CPU was not enough."""


class Sleeper(Model):
    """A model that only waits ``latency`` seconds: eicore's runner without any HTTP."""

    accepts_images = True

    def __init__(self, latency: float) -> None:
        super().__init__(None)
        self.latency = latency

    async def generate(self, prompts: Sequence[Prompt]) -> list[Completion]:
        await asyncio.sleep(self.latency)
        return [Completion("1. A raised fist", 20, 4, self.latency, "stop") for _ in prompts]


def start_fake(latency: float) -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "eicore.testing.fake_api", "--latency", str(latency),
               "--processes", str(FAKE_PROCESSES)]  # fmt: skip
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    return server, server.stdout.readline().strip()


def load_samples(root: Path, n: int) -> list[Sample]:
    dataset = registry().build("dataset", {"plugin": "eibench", "root": str(root), "limit": n})
    return select(dataset.load(), dataset.config)


def write_images(samples: Sequence[Sample], folder: Path) -> None:
    """A small image per sample, PNG or JPEG as its extension says (EIBench mixes both)."""
    from PIL import Image

    for i, sample in enumerate(samples):
        path = folder / sample.image
        path.parent.mkdir(parents=True, exist_ok=True)
        fmt = "PNG" if path.suffix.lower() == ".png" else "JPEG"
        Image.new("RGB", (64, 48), (i % 256, 90, 160)).save(path, format=fmt)


def plugin_model(plugin: str, url: str) -> Model:
    config = {"plugin": plugin, "base_url": url + URL_SUFFIX[plugin], "max_retries": 0}
    return registry().build("model", config)


def run_eicore(
    model: Model, samples: Sequence[Sample], images: Path, concurrency: int, folder: Path
) -> float:
    """Seconds for ``samples`` through eicore's runner at ``concurrency``; all must succeed."""
    strategy = registry().build("strategy", {"plugin": "direct"})
    client = ModelClient(model, cache=None)
    store = RunStore(folder)
    parts = Components(strategy, {"answerer": client}, [], images)
    progress = Progress(total=len(samples))

    async def run() -> None:
        try:
            await run_samples(samples, parts, store, concurrency, progress, show_progress=False)
        finally:
            await client.aclose()

    started = time.perf_counter()
    asyncio.run(run())
    seconds = time.perf_counter() - started
    store.close()
    if progress.answered != len(samples):
        raise SystemExit(f"C={concurrency}: {progress.failed} of {len(samples)} samples failed")
    return seconds


async def bare_loop(model: Model, samples: Sequence[Sample], images: Path) -> None:
    """``samples`` without eicore: read each image file, call the plugin's ``generate`` with it
    and the ``direct`` strategy's text (no check of the image, no trace, no store)."""
    gc.freeze()  # as eicore's runner does: what exists before the loop is not rescanned
    try:
        for sample in samples:
            path = images / sample.image
            media_type = "image/png" if path.suffix.lower() == ".png" else "image/jpeg"
            image = ImagePart(path, path.read_bytes(), media_type)
            text = DIRECT.template.format(persona=PERSONA, question=sample.question)
            (completion,) = await model.generate([Prompt.user(image, text)])
            if not completion.text:
                raise SystemExit(f"bare loop: no answer for {sample.id}")
    finally:
        gc.unfreeze()


def run_one_at_a_time(
    plugin: str, url: str, samples: Sequence[Sample], images: Path, folder: Path, block: int
) -> tuple[float, float]:
    """Seconds for ``samples`` at C=1 (a) through eicore's runner and (b) in a bare loop, each
    with a client of its own (made and connected before), in alternating blocks of ``block``
    samples: both meet the same load, however the machine's changes during the minutes this
    takes."""
    strategy = registry().build("strategy", {"plugin": "direct"})
    client = ModelClient(plugin_model(plugin, url), cache=None)
    bare = plugin_model(plugin, url)
    store = RunStore(folder)
    parts = Components(strategy, {"answerer": client}, [], images)
    progress = Progress(total=len(samples))

    async def run() -> tuple[float, float]:
        seconds = [0.0, 0.0]
        try:
            warm_up = [Prompt.user(samples[0].question)]  # clients made, connections open
            await client.model.generate(warm_up)
            await bare.generate(warm_up)
            for i in range(0, len(samples), block):
                chunk = samples[i : i + block]
                started = time.perf_counter()
                await run_samples(chunk, parts, store, 1, progress, show_progress=False)
                seconds[0] += time.perf_counter() - started
                started = time.perf_counter()
                await bare_loop(bare, chunk, images)
                seconds[1] += time.perf_counter() - started
        finally:
            await client.aclose()
            await bare.aclose()
        return seconds[0], seconds[1]

    through_eicore, bare_seconds = asyncio.run(run())
    store.close()
    if progress.answered != len(samples):
        raise SystemExit(f"C=1: {progress.failed} of {len(samples)} samples failed")
    return through_eicore, bare_seconds


def run_raw_http(url: str, n: int) -> float:
    """Seconds for ``n`` keep-alive requests from http.client: the fake and loopback alone."""
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port))
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "Why?"}]})
    headers = {"Content-Type": "application/json"}
    started = time.perf_counter()
    for _ in range(n):
        connection.request("POST", "/v1/chat/completions", body, headers)
        connection.getresponse().read()
    seconds = time.perf_counter() - started
    connection.close()
    return seconds


def sequential_call(plugin: str, url: str) -> Callable[[Prompt], str]:
    """One call the way the original EIBench scripts make it: a new sync client every time."""
    config = plugin_model(plugin, url).config
    base_url = config.base_url
    if plugin == "openai":
        from eicore_openai.messages import chat_request
        from openai import OpenAI

        def call(prompt: Prompt) -> str:
            with OpenAI(api_key=FAKE_KEY, base_url=base_url, max_retries=0) as client:
                response = client.chat.completions.create(**chat_request(prompt, config))
                return response.choices[0].message.content or ""

    elif plugin == "anthropic":
        from anthropic import Anthropic
        from eicore_anthropic.messages import messages_request

        def call(prompt: Prompt) -> str:
            with Anthropic(api_key=FAKE_KEY, base_url=base_url, max_retries=0) as client:
                message = client.messages.create(**messages_request(prompt, config))
                return "".join(b.text for b in message.content if b.type == "text")

    else:
        from eicore_gemini.contents import content_request
        from google import genai
        from google.genai import types

        def call(prompt: Prompt) -> str:
            options = types.HttpOptions(base_url=base_url)
            with genai.Client(api_key=FAKE_KEY, http_options=options) as client:
                return client.models.generate_content(**content_request(prompt, config)).text or ""

    return call


def run_sequential(plugin: str, url: str, samples: Sequence[Sample], images: Path) -> float:
    """Seconds for ``samples`` called one after another, a new client per call."""
    call = sequential_call(plugin, url)
    started = time.perf_counter()
    for sample in samples:
        if not call(Prompt.user(read(images, sample.image), sample.question)):
            raise SystemExit(f"sequential baseline: no answer for {sample.id}")
    return time.perf_counter() - started


BARE_SDK = """
import asyncio, base64, json, sys
from pathlib import Path
from openai import AsyncOpenAI

async def main(url, images, c, key):
    jobs = [json.loads(line) for line in sys.stdin]
    client = AsyncOpenAI(api_key=key, base_url=url, max_retries=0)
    limit = asyncio.Semaphore(c)

    async def one(job):
        path = Path(images) / job["image"]
        kind = "png" if path.suffix.lower() == ".png" else "jpeg"
        data = base64.b64encode(path.read_bytes()).decode()
        content = [{"type": "image_url", "image_url": {"url": f"data:image/{kind};base64,{data}"}},
                   {"type": "text", "text": job["text"]}]
        async with limit:
            r = await client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": content}],
                temperature=0.0, max_tokens=512)
        assert r.choices[0].message.content

    await asyncio.gather(*(one(j) for j in jobs))
    await client.close()

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]))
"""
"""The bare SDK: the same requests as eicore's (image and the ``direct`` text), C at a time."""


EICORE = (
    [str(Path(sys.executable).parent / "eicore")]
    if (Path(sys.executable).parent / "eicore").exists()
    else [sys.executable, "-c", "from eicore_entry import main; main()"]
)
"""The ``eicore`` command as users start it (the console script), else its entry point."""


def whole_run(
    url: str, data: Path, images: Path, n: int, c: int, folder: Path, env: dict[str, str]
) -> float:
    """Seconds of one whole `eicore run` invocation, start to exit."""
    command = [
        *EICORE, "run", "model=openai", f"model.base_url={url}/v1",
        "model.max_retries=0", f"data.root={data}", f"data.image_root={images}",
        f"data.limit={n}", "~judge", "metrics=[]", f"run.concurrency={c}", "run.cache=false",
        f"run.root={folder}", f"run.name=c{c}", "run.progress=false", "run.log_level=WARNING",
    ]  # fmt: skip
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    metrics = json.loads((folder / f"c{c}" / "metrics.json").read_text(encoding="utf-8"))
    if metrics.get("n_failed"):
        raise SystemExit(f"eicore run at C={c}: {metrics['n_failed']} samples failed")
    return seconds


def bare_sdk(
    url: str, samples: Sequence[Sample], images: Path, c: int, env: dict[str, str]
) -> float:
    """Seconds of the bare SDK script, start to exit."""
    jobs = "".join(
        json.dumps(
            {"image": s.image, "text": DIRECT.template.format(persona=PERSONA, question=s.question)}
        )
        + "\n"
        for s in samples
    )
    command = [sys.executable, "-c", BARE_SDK, url + "/v1", str(images), str(c), FAKE_KEY]
    started = time.perf_counter()
    subprocess.run(command, input=jobs, text=True, env=env, check=True)
    return time.perf_counter() - started


async def _fake_alone(url: str, n: int, c: int) -> float:
    """Seconds for ``n`` requests over ``c`` raw keep-alive connections (a client of ~no CPU)."""
    host, port = url.removeprefix("http://").split(":")
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "Why?"}]}).encode()
    request = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    remaining = [n]

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        while remaining[0] > 0:
            remaining[0] -= 1
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            )
            await reader.readexactly(length)
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(c)))
    return time.perf_counter() - started


def compare_whole(
    args: argparse.Namespace, samples: Sequence[Sample], url: str, work: Path
) -> None:
    """The whole-command table, the fake's own capacity, and the ratio at C=32 last."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OPENAI_API_KEY": FAKE_KEY}
    n, latency = len(samples), args.latency
    print(
        f"whole `eicore run model=openai` vs the bare openai SDK; L = {latency * 1000:.0f} ms, "
        f"N = {n}; load average {open('/proc/loadavg').read()[:14]}\n\n"
        f"{args.rounds} rounds per C, eicore and the bare SDK in turns (ABBA); medians\n\n"
        "| C | eicore run s | bare SDK s | ideal N·L/C s | bare / eicore (min-max) | load |\n"
        "|---|---:|---:|---:|---:|---|"
    )
    ratios = {}
    for c in args.whole:
        pairs = []
        for r in range(args.rounds):  # eicore first, then the bare SDK first, and so on (ABBA)
            folder = work / "whole" / f"c{c}-round{r}"  # a new run each time: none resumes
            took = {}
            for side in ("bare", "eicore") if r % 2 else ("eicore", "bare"):
                took[side] = (
                    whole_run(url, args.data, work / "images", n, c, folder, env)
                    if side == "eicore"
                    else bare_sdk(url, samples, work / "images", c, env)
                )
            eicore_s, bare_s = took["eicore"], took["bare"]
            pairs.append((eicore_s, bare_s))
        each = sorted(b / e for e, b in pairs)
        ratios[c] = statistics.median(each)
        ideal = n * latency / min(c, n)
        print(
            f"| {c} | {statistics.median(e for e, _ in pairs):.2f} "
            f"| {statistics.median(b for _, b in pairs):.2f} | {ideal:.2f} | {ratios[c]:.3f} "
            f"({each[0]:.3f}-{each[-1]:.3f}) | {open('/proc/loadavg').read()[:14]} |"
        )
    c = max(args.whole)
    wide = FAKE_MARGIN * c  # connections: the fake must keep up with more than any run sends
    served = 4 * wide * int(1 / latency) if latency else 4 * n
    rate = served / asyncio.run(_fake_alone(url, served, wide))
    print(
        f"\nthe fake alone, a raw keep-alive client with {wide} connections: {rate:.0f} "
        f"requests/s = {rate * latency / c:.2f}x the C/L of the largest C={c} "
        f"({c / latency:.0f}/s): {'well beyond' if rate * latency / c >= 2 else 'NOT beyond'}"
    )
    print(f"load average at the end: {open('/proc/loadavg').read()[:14]}")
    if 32 in ratios:
        ok = ratios[32] >= TARGET_WHOLE
        print(
            f"whole eicore run at C=32: {ratios[32]:.3f} of the bare SDK "
            f"(target >= {TARGET_WHOLE}: {verdict(ok)})"
        )


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default_data = (
        os.environ.get("EICORE_TEST_DATA") or Path(__file__).parents[2] / "shared/eibench"
    )
    parser.add_argument("--data", type=Path, default=Path(default_data))
    parser.add_argument("--samples", type=int, default=1615, help="N, EIBench basic samples")
    parser.add_argument("--latency", type=float, default=0.1, help="L, seconds per fake reply")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32, 64])
    parser.add_argument("--whole", type=int, nargs="+", default=[8, 32, 128])
    parser.add_argument(
        "--rounds", type=int, default=3, help="whole runs of each side per C, in ABBA order"
    )
    parser.add_argument(
        "--runner-phase", action="store_true", help="also the runner alone, C=1 overhead"
    )
    parser.add_argument("--plugin", choices=sorted(KEY_ENV), default="openai")
    parser.add_argument(
        "--block", type=int, default=50, help="C=1: samples per block, eicore and bare in turn"
    )
    parser.add_argument(
        "--baseline-samples",
        type=int,
        default=200,
        help="samples for the new-client loop, http.client alone and the runner alone",
    )
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    byte_compile()  # as pip leaves an installed eicore (the SDK it is compared with is one)
    os.environ[KEY_ENV[args.plugin]] = FAKE_KEY
    samples = load_samples(args.data, args.samples)
    n, latency = len(samples), args.latency
    server, url = start_fake(latency)
    try:
        with tempfile.TemporaryDirectory(prefix="eicore-bench-") as tmp:
            work = Path(tmp)
            write_images(samples, work / "images")
            compare_whole(args, samples, url, work)
            if not args.runner_phase:
                return
            print(
                f"{args.plugin} plugin; fake API latency L = {latency * 1000:.0f} ms; N = {n} "
                f"EIBench basic samples; no judge, no cache; {os.cpu_count()} CPUs, "
                f"load average {os.getloadavg()[0]:.2f}\n\n"
                "| C | wall s | samples/s | ideal C/L | ratio |\n|---|---|---|---|---|"
            )
            rates, bare = {}, None
            for c in args.concurrency:
                if c == 1:
                    seconds, bare_seconds = run_one_at_a_time(
                        args.plugin, url, samples, work / "images", work / "c1", args.block
                    )
                    bare = bare_seconds / n
                else:
                    model = plugin_model(args.plugin, url)
                    seconds = run_eicore(model, samples, work / "images", c, work / f"c{c}")
                rates[c], ideal = n / seconds, min(c, n) / latency
                ratio = rates[c] / ideal
                print(f"| {c} | {seconds:.2f} | {rates[c]:.1f} | {ideal:.1f} | {ratio:.3f} |")

            few = samples[: args.baseline_samples]
            loops = {  # each over the same few samples, one after another
                "sequential": run_sequential(args.plugin, url, few, work / "images"),
                "raw": run_raw_http(url, len(few)),
                "runner": run_eicore(Sleeper(latency), few, work / "images", 1, work / "sleeper"),
            }
            above = {k: (v / len(few) - latency) * 1000 for k, v in loops.items()}
            print()
            if bare is not None:
                end_to_end, sdk = (1 / rates[1] - latency) * 1000, (bare - latency) * 1000
                overhead = end_to_end - sdk
                ok = verdict(overhead <= TARGET_OVERHEAD_MS)
                print(
                    f"C=1, per sample above L:\n"
                    f"  (a) eicore end to end, wall/N - L: {end_to_end:.2f} ms\n"
                    f"  (b) the same calls in a bare loop (read the image, call the plugin): "
                    f"{sdk:.2f} ms\n"
                    f"  (c) eicore's framework overhead, (a) - (b): {overhead:.2f} ms "
                    f"(target <= {TARGET_OVERHEAD_MS} ms: {ok})\n"
                    f"  of (b), the fake and loopback alone (http.client, {len(few)} calls): "
                    f"{above['raw']:.2f} ms\n"
                    f"  eicore's runner with no HTTP (a model that sleeps L; asyncio's timer "
                    f"rounding included; {len(few)} samples): {above['runner']:.2f} ms"
                )
            sequential = len(few) / loops["sequential"]
            print(
                f"sequential loop, new SDK client per call (the original EIBench scripts): "
                f"{sequential:.2f} samples/s ({above['sequential']:.2f} ms/sample above L)"
            )
            if 32 in rates:
                ratio = rates[32] * latency / 32
                print(f"eicore at C=32 / that loop: {rates[32] / sequential:.1f}x")
                print(
                    f"ratio at C=32: {ratio:.3f} "
                    f"(target >= {TARGET_RATIO}: {verdict(ratio >= TARGET_RATIO)})"
                )
            print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
