"""``caption``: the captioner's call, the caption reaching the answerer, the image withheld when
configured, published captions standing in for the captioner, and captions.jsonl."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eicore_strategies import Caption, CaptionConfig
from eicore_strategies.caption import MissingCaptionError
from eicore_strategies.personas import PERSONAS

from eicore import Response, SampleRecord

CAPTION = "A man in a grey suit points at a spilled glass of wine on a restaurant table."


def write_captions(path: Path, captions: dict[str, str]) -> Path:
    path.write_text("".join(json.dumps({k: v}) + "\n" for k, v in captions.items()), "utf-8")
    return path


def test_captioner_then_answerer_with_the_caption(cast, sample, image) -> None:
    cast.role("captioner", default=CAPTION)
    cast.role("answerer", default="1. the spilled wine")
    config = CaptionConfig()
    answer = cast.answer(Caption(config), sample, image)
    assert answer == "1. the spilled wine"
    assert cast.calls == [("captioner", 1), ("answerer", 2)]
    captioner, answerer = cast.log
    assert captioner.prompt.fingerprint() == [
        {"role": "user", "parts": [{"image_sha256": image.sha256}, {"text": config.caption_prompt}]}
    ]
    assert answerer.images == [image.sha256]
    assert answerer.text == (
        f"{PERSONAS['emotion_expert']}\nHere is a description of an image:\n{CAPTION}\n"
        f"Using the description, answer the question.\n{sample.question}"
    )


def test_answerer_sees_image_false_withholds_the_image_from_the_answerer(
    cast, sample, image
) -> None:
    cast.role("captioner", default=CAPTION)
    cast.role("answerer", vision=True)  # it could see the image, but is not shown it
    cast.answer(Caption(CaptionConfig(answerer_sees_image=False)), sample, image)
    captioner, answerer = cast.log
    assert captioner.images == [image.sha256]
    assert answerer.images == [] and CAPTION in answerer.text


def test_a_text_only_answerer_gets_the_caption_and_no_image(cast, sample, image) -> None:
    cast.role("captioner", default=CAPTION)
    cast.role("answerer", vision=False)
    cast.answer(Caption(CaptionConfig()), sample, image)
    assert [s.images for s in cast.log] == [[image.sha256], []]
    assert CAPTION in cast.log[1].text


def test_caption_templates_and_persona_come_from_config(cast, sample, image) -> None:
    cast.role("captioner", default=CAPTION)
    cast.role("answerer")
    config = CaptionConfig(
        persona="You are a poet.",
        caption_prompt="Say what you see.",
        template="[{persona}] [{caption}] [{question}]",
    )
    cast.answer(Caption(config), sample, image)
    assert cast.log[0].text == "Say what you see."
    assert cast.log[1].text == f"[You are a poet.] [{CAPTION}] [{sample.question}]"


def test_a_captions_file_replaces_the_captioner(cast, sample, image, tmp_path: Path) -> None:
    path = write_captions(tmp_path / "captions.jsonl", {sample.image: "A published caption."})
    captioner = cast.role("captioner", default=CAPTION)
    cast.role("answerer", vision=False)
    strategy = Caption(CaptionConfig(captions=str(path)))
    cast.answer(strategy, sample, image)
    assert captioner.seen == []
    assert cast.calls == [("answerer", 2)]
    assert "A published caption." in cast.log[0].text and CAPTION not in cast.log[0].text


def test_a_missing_caption_fails_naming_the_file_and_the_image(
    cast, make_sample, image, tmp_path: Path
) -> None:
    path = write_captions(tmp_path / "captions.jsonl", {"other/1.png": "Someone else."})
    cast.role("captioner")
    cast.role("answerer")
    sample = make_sample(image="EmoSet-118k/image/sadness/sadness_00001.jpg")
    with pytest.raises(MissingCaptionError) as info:
        cast.answer(Caption(CaptionConfig(captions=str(path))), sample, image)
    assert str(path) in str(info.value) and sample.image in str(info.value)
    assert cast.log == []  # neither the captioner nor the answerer was asked


@pytest.mark.parametrize(
    ("captions", "answerer_vision", "captioner_vision", "sees", "needed"),
    [
        (True, False, True, True, False),  # the paper's text-only row from published captions
        (True, True, True, False, False),  # the answerer could see, but is not shown the image
        (True, True, False, True, True),  # the answerer is shown the image
        (False, False, True, True, True),  # the captioner must look
        (False, True, False, False, False),  # nobody who looks is shown it
        (False, False, False, True, False),  # text models only
    ],
)
def test_needs_image(
    cast, sample, tmp_path: Path, captions, answerer_vision, captioner_vision, sees, needed
) -> None:
    path = write_captions(tmp_path / "c.jsonl", {sample.image: CAPTION})
    cast.role("captioner", vision=captioner_vision)
    cast.role("answerer", vision=answerer_vision)
    config = CaptionConfig(captions=str(path) if captions else None, answerer_sees_image=sees)
    assert Caption(config).needs_image(cast.roles) is needed


def test_artifacts_are_the_captions_used_one_per_image(cast, make_sample, image) -> None:
    captions = iter(["A caption of a.", "A caption of b.", "   "])
    cast.role("captioner", default=lambda _: next(captions))
    cast.role("answerer", default="1. something")
    strategy = Caption(CaptionConfig())
    a1 = make_sample(image="x/angry/a.png", id="a#1")
    a2 = make_sample(image="x/angry/a.png", id="a#2", question="Why is she upset?")
    b = make_sample(image="x/angry/b.png")
    blank = make_sample(image="x/angry/c.png")
    records = [cast.record(s, cast.answer(strategy, s, image)) for s in (a1, b, blank)]
    failed = SampleRecord(make_sample(image="x/angry/d.png"), "failed", Response("", ()), (), "E")
    # a2's captioner call comes second for the same image: the first caption is kept
    cast.roles["captioner"].default = "A later caption of a."
    records.append(cast.record(a2, cast.answer(strategy, a2, image)))
    assert strategy.artifacts([*records, failed]) == {
        "captions.jsonl": [
            {"x/angry/a.png": "A caption of a."},
            {"x/angry/b.png": "A caption of b."},
        ]
    }


def test_artifacts_from_a_captions_file_keep_only_this_runs_images(
    cast, make_sample, image, tmp_path: Path
) -> None:
    given = {"x/angry/a.png": "Given a.", "x/angry/b.png": "Given b.", "x/angry/c.png": "Given c."}
    strategy = Caption(CaptionConfig(captions=str(write_captions(tmp_path / "c.jsonl", given))))
    cast.role("captioner")
    cast.role("answerer")
    samples = [make_sample(image="x/angry/c.png"), make_sample(image="x/angry/a.png")]
    records = [cast.record(s, cast.answer(strategy, s, image)) for s in samples]
    assert strategy.artifacts(records) == {
        "captions.jsonl": [{"x/angry/c.png": "Given c."}, {"x/angry/a.png": "Given a."}]
    }
