"""The bad-input corpus (``tests/data/bad/``): each defect gets one clear message naming the file
and, where it applies, the line. A defective data file stops the command before any call; a bad
image fails only its sample and the run goes on; odd but valid inputs are accepted."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest
from eicore_test_support import CLI, TESTS, only_run_dir, read_json, read_jsonl

from eicore.datasets.samples import DataError, load_basic, load_complex
from eicore.log.finish import finish
from eicore.plugins import registry
from eicore.run.calls import ModelClient
from eicore.run.loop import Components, Progress, run_samples
from eicore.run.store import RunStore
from eicore.testing.scripted import ScriptedConfig, ScriptedModel
from eicore.types import Sample

BAD = TESTS / "data" / "bad"
GOOD_QUESTIONS = BAD / "good" / "user.jsonl"
GOOD_TRUTH = BAD / "good" / "basic_ground_truth.json"

BASIC_CASES = [
    # (questions, ground truth, the file the message names, what it says)
    ("questions/truncated-line.jsonl", None, "line 2", "malformed JSON"),
    ("questions/wrong-type.jsonl", None, "line 2", "expected a non-empty string, got int"),
    ("questions/duplicate-keys.jsonl", None, "line 2", "appears twice"),
    ("questions/non-utf8.jsonl", None, "line 2", "not UTF-8 text (byte 0xe9)"),
    (None, "truth/missing-key.json", "", "no ground truth for 'x/sad/2.png'"),
    (None, "truth/empty-triggers.json", "key 'x/sad/2.png'", "empty trigger list"),
    (None, "truth/duplicate-keys.json", "line 4", "key 'x/sad/2.png' appears twice"),
    (None, "truth/truncated.json", "line 3", "malformed JSON"),
]


@pytest.mark.parametrize(("questions", "truth", "where", "says"), BASIC_CASES)
def test_each_defective_basic_file_is_named_with_its_line(
    questions: str | None, truth: str | None, where: str, says: str
) -> None:
    q = BAD / questions if questions else GOOD_QUESTIONS
    t = BAD / truth if truth else GOOD_TRUTH
    with pytest.raises(DataError) as err:
        load_basic(q, t)
    named = BAD / (questions or truth or "")
    assert str(err.value).startswith(f"{named}{', ' + where if where else ''}:"), str(err.value)
    assert says in str(err.value)


def test_a_defective_complex_line_is_named() -> None:
    path = BAD / "complex" / "wrong-type.jsonl"
    with pytest.raises(DataError, match="expected a non-empty string, got list") as err:
        load_complex(path)
    assert str(err.value).startswith(f"{path}, line 2:")


def test_bom_crlf_and_several_questions_per_complex_line_are_accepted() -> None:
    samples = load_basic(BAD / "questions" / "bom-crlf.jsonl", GOOD_TRUTH)
    assert [s.id for s in samples] == ["x/happy/1.png", "x/sad/2.png"]
    assert samples[0].question == "Why is the woman in the image happy?"  # no BOM, no CR
    several = load_complex(BAD / "complex" / "several-questions.jsonl")
    assert [s.image for s in several] == ["y/1.png"] * 3
    assert len({s.id for s in several}) == 3
    assert several[1].triggers == ("A new toy", "Balloons")


def test_a_defective_data_file_stops_the_command_before_any_call(cli: CLI, tmp_path: Path) -> None:
    log = tmp_path / "echo.log"
    bad = BAD / "questions" / "duplicate-keys.jsonl"
    result = cli.run(
        "model=echo", "judge=keyword", "metrics=[trigger_recall]", f"data.questions={bad}",
        f"data.ground_truth={GOOD_TRUTH}", f"run.root={tmp_path / 'runs'}", f"model.log={log}",
        expect=2,
    )  # fmt: skip
    assert f"{bad}, line 2: key 'x/sad/2.png' appears twice" in result.stderr
    assert "Traceback" not in result.stderr and not log.exists()


IMAGES = {
    # image path in the data → None (accepted) or what the sample's error says
    "images/fine.png": None,
    "images/cmyk.jpg": None,
    "images/sixteen-bit.png": None,
    "images/palette.png": None,
    "images/exif-rotated.jpg": None,
    "images/animated.gif": None,
    "images/truncated.png": "Truncated File Read",
    "images/truncated.jpeg": "Truncated File Read",
    "images/zero-byte.png": "the file is empty (0 bytes)",
    "images/not-an-image.jpg": "not an image in any format Pillow reads",
    "images/missing.png": "image not found",
    "images/escape.png": "escapes data.image_root",
    "../outside.png": "escapes data.image_root",
    "/etc/hostname": "is absolute",
}


def test_bad_images_fail_their_own_samples_and_the_run_goes_on(cli: CLI, tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(BAD / "images", root / "images")
    shutil.copy(BAD / "images" / "fine.png", tmp_path / "outside.png")
    (root / "images" / "escape.png").symlink_to(tmp_path / "outside.png")  # leaves the root
    questions = tmp_path / "user.jsonl"
    questions.write_text(
        "".join(json.dumps({p: f"Why is person {i} in the image angry?"}) + "\n"
                for i, p in enumerate(IMAGES))
    )  # fmt: skip
    truth = tmp_path / "truth.json"
    truth.write_text(json.dumps(dict.fromkeys(IMAGES, "1. A person shouting\n2. A raised fist")))
    cli.run(
        "model=echo-vision", "judge=keyword", "metrics=[trigger_recall]",
        f"data.questions={questions}", f"data.ground_truth={truth}", f"data.image_root={root}",
        f"run.root={tmp_path / 'runs'}",
    )  # fmt: skip
    run_dir = only_run_dir(tmp_path / "runs")
    records = {r["sample"]["image"]: r for r in read_jsonl(run_dir / "records.jsonl")}
    assert set(records) == set(IMAGES)
    for image, says in IMAGES.items():
        record = records[image]
        if says is None:
            assert record["status"] == "answered", (image, record["error"])
        else:
            assert (record["status"], record["error_type"]) == ("failed", "ImageError"), image
            assert says in record["error"] and image.lstrip("./") in record["error"], record
    sent = {r["sample"]["image"]: r["response"]["text"] for r in records.values()}
    assert "image/jpeg" in sent["images/cmyk.jpg"] and "image/gif" in sent["images/animated.gif"]
    metrics = read_json(run_dir / "metrics.json")
    assert (metrics["n_answered"], metrics["n_failed"]) == (6, 8)


def test_a_one_megabyte_answer_is_stored_whole(tmp_path: Path) -> None:
    huge = "1. " + ("a raised fist and a shouting man " * 32_000).strip()  # about 1 MB
    assert len(huge) > 1_000_000
    sample = Sample("x/angry/1.png", "basic", "x/angry/1.png", "Why angry?", ("Fist",), "angry")
    client = ModelClient(ScriptedModel(ScriptedConfig(default=huge, vision=False)), None)
    strategy = registry().build("strategy", {"plugin": "direct"})
    store = RunStore(tmp_path / "run")
    parts = Components(strategy, {"answerer": client}, [], None)
    asyncio.run(run_samples([sample], parts, store, 1, Progress(1), show_progress=False))
    records = list(store.records().values())
    finish(tmp_path / "run", records, complete=True, metrics=[], judges=[], config=None)
    store.close()
    assert records[0].status == "answered" and records[0].response.text == huge  # type: ignore[union-attr]
    assert read_jsonl(tmp_path / "run" / "predictions.jsonl") == [{sample.image: huge}]
