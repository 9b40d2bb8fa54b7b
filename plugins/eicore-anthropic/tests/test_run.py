"""``eicore run model=anthropic`` end to end against the fake, in a subprocess like a user's run.

One run of EIBench's first 4 samples (synthetic images, the semantic judge) in which the fake
answers the first sample, rate-limits the second once, fails the third with 500s that echo the
request headers (the key among them) until retries run out, and refuses the fourth.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from eicore.testing.fake_api import FakeAPI, Received, Reply

MODEL = "anthropic"
URL_SUFFIX = ""
KEY_ENV = "ANTHROPIC_API_KEY"
KEY = "sk-ant-test-FAKEKEY-0123456789abcdef"
SERVER_ERROR = "InternalServerError"
REFUSAL_REASON = "stop_reason=refusal"


@dataclass
class Run:
    result: subprocess.CompletedProcess[str]
    run_dir: Path
    cache: Path
    served: list[Received]
    images: list[str]
    """EIBench paths of the 4 samples, in order."""
    media_types: dict[str, str]
    tries: dict[str, int]

    @property
    def metrics(self) -> dict[str, Any]:
        return json.loads((self.run_dir / "metrics.json").read_text())


def eicore(*overrides: str, folder: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``eicore run`` in a subprocess: keyless unless ``env`` adds a key; cache and runs in ``folder``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("EICORE_")}
    command = [sys.executable, "-c", "from eicore.cli import main; main()", "run", *overrides,
               f"run.root={folder / 'runs'}", "run.progress=false"]  # fmt: skip
    return subprocess.run(
        command, cwd=folder, env={**base, "EICORE_CACHE": str(folder / "cache"), **env},
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip


def synthetic_images(eibench: Path, root: Path) -> dict[str, str]:
    """Images at the paths of the first 4 samples; the second is a JPEG under a ``.png`` name."""
    from PIL import Image

    media_types = {}
    for i, line in enumerate((eibench / "user.jsonl").read_text().splitlines()[:4]):
        relative = next(iter(json.loads(line)))
        fmt = "JPEG" if i == 1 else "PNG"
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (16, 12), (60 * i, 90, 160)).save(root / relative, format=fmt)
        media_types[relative] = f"image/{fmt.lower()}"
    return media_types


def sample_of(request: Received, questions: dict[str, str]) -> str:
    text = json.dumps(request.body)
    (image,) = [i for i, q in questions.items() if json.dumps(q)[1:-1] in text]
    return image


@pytest.fixture(scope="module")
def run(eibench: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    folder = tmp_path_factory.mktemp("run")
    media_types = synthetic_images(eibench, folder / "images")
    lines = (eibench / "user.jsonl").read_text().splitlines()[:4]
    questions = {k: v for line in lines for k, v in json.loads(line).items()}
    paths = list(questions)
    tries = dict.fromkeys(paths, 0)

    def answer(request: Received) -> Reply | str:
        image = sample_of(request, questions)
        tries[image] += 1
        if image == paths[1] and tries[image] == 1:
            return Reply.rate_limited(retry_after_ms=5)
        if image == paths[2]:
            return Reply("upstream failure", status=500, echo_headers=True,
                         headers={"retry-after-ms": "5"})  # fmt: skip
        if image == paths[3]:
            return Reply.refusal()
        return "1. The man is shouting\n2. A raised fist"

    with FakeAPI(answer=answer) as fake:
        result = eicore(
            f"model={MODEL}", f"model.base_url={fake.url}{URL_SUFFIX}", "model.max_retries=2",
            f"data.root={eibench}", f"data.image_root={folder / 'images'}", "data.limit=4",
            "judge=semantic", folder=folder, env={KEY_ENV: KEY},
        )  # fmt: skip
        served = fake.requests
    assert result.returncode == 0, result.stderr[-3000:]
    (run_dir,) = (folder / "runs").iterdir()
    yield Run(result, run_dir, folder / "cache", served, paths, media_types, tries)


def test_answered_samples_are_predicted_and_scored(run: Run) -> None:
    assert f"| {MODEL} / direct / basic |" in run.result.stdout
    predicted = [
        json.loads(line) for line in (run.run_dir / "predictions.jsonl").read_text().splitlines()
    ]
    assert [next(iter(p)) for p in predicted] == run.images[:2]
    assert run.metrics["recall"]["n_scored"] == 2


def test_failed_samples_are_recorded_with_the_provider_error_and_the_run_goes_on(run: Run) -> None:
    metrics = run.metrics
    assert (metrics["n_answered"], metrics["n_failed"]) == (2, 2)
    assert metrics["errors"] == dict(sorted({SERVER_ERROR: 1, "RefusalError": 1}.items()))
    assert run.tries == dict(zip(run.images, [1, 2, 3, 1]))  # 429 retried; 500 tried 1 + 2 times
    records = [
        json.loads(line) for line in (run.run_dir / "records.jsonl").read_text().splitlines()
    ]
    failed = {r["sample"]["image"]: r["error"] for r in records if r["status"] == "failed"}
    assert (
        "500" in failed[run.images[2]] and "***" in failed[run.images[2]]
    )  # the echoed key, masked
    assert REFUSAL_REASON in failed[run.images[3]]


def test_usage_of_the_answers_is_summed_into_metrics(run: Run) -> None:
    answers = [r for r in run.served if r.reply.status == 200 and r.reply.finish != "refusal"]
    assert len(answers) == 2
    tokens = run.metrics["tokens"]
    assert tokens == {
        "input": sum(r.input_tokens for r in answers),
        "output": sum(r.output_tokens for r in answers),
    }
    assert tokens["input"] > 0 and tokens["output"] > 0


def test_images_go_out_with_the_media_type_of_their_bytes(run: Run, eibench: Path) -> None:
    lines = (eibench / "user.jsonl").read_text().splitlines()[:4]
    questions = {k: v for line in lines for k, v in json.loads(line).items()}
    sent = {sample_of(r, questions): [m for m, _ in r.images] for r in run.served}
    assert sent == {image: [media] for image, media in run.media_types.items()}


def test_the_key_reaches_no_file_and_no_log(run: Run) -> None:
    assert any(KEY in str(r.headers) for r in run.served)  # it was sent, and echoed back
    holding = [
        str(p) for folder in (run.run_dir, run.cache) for p in folder.rglob("*")
        if p.is_file() and KEY.encode() in p.read_bytes()
    ]  # fmt: skip
    assert holding == []
    assert (run.run_dir / "run.log").is_file()
    assert KEY not in run.result.stdout + run.result.stderr


def test_a_missing_key_stops_the_run_before_any_call(eibench: Path, tmp_path: Path) -> None:
    with FakeAPI() as fake:
        result = eicore(
            f"model={MODEL}", f"model.base_url={fake.url}{URL_SUFFIX}", f"data.root={eibench}",
            f"data.image_root={tmp_path}", "data.limit=4", folder=tmp_path, env={},
        )  # fmt: skip
        assert fake.requests == []
    assert result.returncode == 2, result.stderr[-3000:]
    assert KEY_ENV in result.stderr and "Traceback" not in result.stderr
