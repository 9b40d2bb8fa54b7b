"""The plugin in a real ``eicore run``, in a subprocess as a user runs it: the CSV dataset, the
acme-chat model against the fake API, the refine strategy, the verbatim judge and the
answer_items metric — then the same command again, which resumes with no new call."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from eicore.testing.fake_api import FakeAPI, Received
from eicore.testing.runs import files_holding, read_json, read_jsonl, run_eicore

KEY = "acme-secret-for-the-run-test"


def reply(request: Received) -> str:
    """A draft for the first turn; the review keeps the draft's first cause and adds one."""
    text = request.body["messages"][-1]["content"][-1]["text"]
    if "A first answer:" in text:
        return "1. a broken vase\n2. a slammed door"
    return "1. a broken vase"


def test_a_run_uses_all_five_components_and_resumes(tmp_path: Path, fake: FakeAPI) -> None:
    for name in ("angry/1.png", "sad/2.png"):
        (tmp_path / "images" / name).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (16, 12), (200, 40, 40)).save(tmp_path / "images" / name)
    data = tmp_path / "samples.csv"
    data.write_text(
        "image,question,triggers,emotion\n"
        "angry/1.png,Why is he angry?,a broken vase;a slammed door;rain,angry\n"
        "sad/2.png,Why is she sad?,a broken vase,sad\n"
    )
    fake.reset(answer=reply)
    overrides = [
        "data=triggers-csv", f"data.path={data}", f"data.image_root={tmp_path / 'images'}",
        "model=acme-chat", f"model.base_url={fake.url}/v1", "strategy=refine",
        "judge=verbatim", "metrics=[answer_items]",
    ]  # fmt: skip

    first = run_eicore(*overrides, folder=tmp_path, env={"ACME_API_KEY": KEY})

    assert first.returncode == 0, first.stderr[-3000:]
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert run_dir.name.startswith("acme-chat__refine__csv__")
    assert len(fake.requests) == 4  # two samples, a draft and a review each
    assert {len(r.images) for r in fake.requests} == {1}  # every call carried the image
    records = {r["sample"]["id"]: r for r in read_jsonl(run_dir / "records.jsonl")}
    angry = records["angry/1.png"]
    assert [(c["role"], c["round"]) for c in angry["response"]["trace"]] == [
        ("answerer", 0),
        ("reviewer", 1),
    ]
    assert [(j["recalled"], j["total"]) for j in angry["judgments"]] == [(2, 3)]
    metrics = read_json(run_dir / "metrics.json")
    assert metrics["answer_items"] == {
        "mean": 2.0,
        "n_answers": 2,
        "by_emotion": {"angry": 2.0, "sad": 2.0},
    }
    assert files_holding(KEY, tmp_path / "runs", tmp_path / "cache") == []

    again = run_eicore(*overrides, folder=tmp_path, env={"ACME_API_KEY": KEY})

    assert again.returncode == 0, again.stderr[-3000:]
    assert len(fake.requests) == 4  # resumed: every sample was already done
