"""Real launchers and real photos: ``eicore run -m`` through joblib (``hydra/launcher=local``)
and submitit (``submitit_local``) with SmolLM2, and the tiny LLaVA on photographs of people
placed at EIBench paths."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from real_tier import ANSWER_TOKENS, SAMPLES

from eicore.testing.runs import read_json, read_jsonl, run_eicore

pytestmark = pytest.mark.real

PHOTO_SIZE = (160, 120)
"""Photos are resized to EIBench-like small images (the tiny LLaVA crops them to 32 px)."""


def sweep(folder: Path, env: dict[str, str], *overrides: str) -> Path:
    """``eicore run -m ...``; the sweep folder after checking every job completed."""
    result = run_eicore("-m", *overrides, folder=folder, env=env, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    swept = folder / "runs" / "sweeps"
    jobs = [read_json(p) for p in sorted(swept.glob(".eicore-job-*.json"))]
    assert [j["status"] for j in jobs] == ["completed"] * len(jobs) and jobs, jobs
    return swept


@pytest.mark.parametrize("launcher", ["local", "submitit_local"])
def test_a_sweep_of_two_strategies_through_a_real_launcher(
    launcher: str, smollm2: Path, eibench: Path, child_env: dict[str, str], tmp_path: Path
) -> None:
    swept = sweep(
        tmp_path, child_env, f"hydra/launcher={launcher}", "model=hf", f"model.path={smollm2}",
        f"model.max_new_tokens={ANSWER_TOKENS}", "strategy=direct,cot", "~judge", "metrics=[]",
        f"data.root={eibench}", "data.limit=1", "run.threads=1",
    )  # fmt: skip
    runs = sorted(p.parent.name for p in swept.glob("*/records.jsonl"))
    assert [name.split("__")[:2] for name in runs] == [["hf", "cot"], ["hf", "direct"]]
    for name in runs:
        (record,) = read_jsonl(swept / name / "records.jsonl")
        assert record["status"] == "answered" and record["response"]["text"]
    if launcher == "submitit_local":  # the jobs ran as submitit jobs, with their own logs
        assert list((swept / ".submitit").rglob("*_result.pkl"))


@pytest.fixture(scope="session")
def photos(eibench: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Matplotlib's photo of Grace Hopper and scikit-image's astronaut (both public domain),
    resized, at the paths of EIBench's first samples, each in its path's format."""
    import matplotlib
    import skimage
    from PIL import Image

    sources = [
        Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg",
        Path(skimage.__file__).parent / "data" / "astronaut.png",
    ]
    root = tmp_path_factory.mktemp("photos")
    lines = (eibench / "user.jsonl").read_text().splitlines()[: len(sources)]
    placed = {}
    for line, source in zip(lines, sources, strict=True):
        (relative,) = json.loads(line)
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        with Image.open(source) as image:
            image.convert("RGB").resize(PHOTO_SIZE).save(target)
        placed[relative] = source.name
    return {"root": str(root), **placed}


def test_the_tiny_llava_answers_about_real_photos(
    photos: dict[str, str], eibench: Path, child_env: dict[str, str], tmp_path: Path
) -> None:
    from eicore_hf.tiny import build_llava, image_tokens_per_image

    llava = build_llava(tmp_path / "tiny-llava")
    result = run_eicore(
        "model=hf", f"model.path={llava}", f"model.max_new_tokens={ANSWER_TOKENS}",
        "strategy=direct", "~judge", "metrics=[]", f"data.root={eibench}",
        f"data.image_root={photos['root']}", f"data.limit={SAMPLES}", "run.threads=1",
        folder=tmp_path, env=child_env, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    (run_dir,) = (tmp_path / "runs").iterdir()
    records = read_jsonl(run_dir / "records.jsonl")
    assert [r["sample"]["image"] for r in records] == [k for k in photos if k != "root"]
    for record in records:
        assert record["status"] == "answered", record["error"]
        (call,) = record["response"]["trace"]
        assert "image_sha256" in call["prompt"][0]["parts"][0]  # the photo went in
        assert call["completion"]["input_tokens"] > image_tokens_per_image()
