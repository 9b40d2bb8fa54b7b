"""``refine`` driven by eicore's scripted model, through the same role handles a run uses."""

from __future__ import annotations

import asyncio
from pathlib import Path

from eicore_plugin_example.strategy import Refine, RefineConfig

from eicore import Call, ImagePart, Sample
from eicore.testing.roles import traced_roles
from eicore.testing.scripted import ScriptedConfig, ScriptedModel

SAMPLE = Sample("s1", "csv", "angry/1.png", "Why is the man angry?", ("a broken vase",), "angry")
IMAGE = ImagePart(Path("angry/1.png"), b"png bytes", "image/png")


def answer(config: RefineConfig, answerer: ScriptedConfig, reviewer: ScriptedConfig):  # type: ignore[no-untyped-def]
    """The strategy's answer and the trace of its calls, as a run would record them."""
    trace: list[Call] = []
    models = {"answerer": ScriptedModel(answerer), "reviewer": ScriptedModel(reviewer)}
    roles = traced_roles(models, trace)
    return asyncio.run(Refine(config).answer(SAMPLE, IMAGE, roles)), trace


def test_the_answerer_drafts_and_the_reviewer_revises_the_draft() -> None:
    text, trace = answer(
        RefineConfig(),
        ScriptedConfig(default="1. a vase"),
        ScriptedConfig(replies={"1. a vase": "1. a broken vase\n2. a slammed door"}),
    )
    assert text == "1. a broken vase\n2. a slammed door"
    assert [(c.role, c.round) for c in trace] == [("answerer", 0), ("reviewer", 1)]
    first, review = (c.prompt[0]["parts"] for c in trace)
    assert first[0] == {"image_sha256": IMAGE.sha256}
    assert first[1]["text"].startswith("Look at the image. Why is the man angry?")
    assert "A first answer:\n1. a vase\n" in review[1]["text"]


def test_each_round_reviews_the_previous_one() -> None:
    reviewer = ScriptedConfig(replies={"1. b": "1. c", "1. a": "1. b"})
    text, trace = answer(RefineConfig(rounds=2), ScriptedConfig(default="1. a"), reviewer)
    assert text == "1. c"
    assert [(c.role, c.round) for c in trace] == [("answerer", 0), ("reviewer", 1), ("reviewer", 2)]


def test_a_text_only_reviewer_gets_no_image() -> None:
    _, trace = answer(
        RefineConfig(), ScriptedConfig(default="1. a"), ScriptedConfig(default="1. b", vision=False)
    )
    assert {"image_sha256": IMAGE.sha256} in trace[0].prompt[0]["parts"]
    assert all("text" in part for part in trace[1].prompt[0]["parts"])
