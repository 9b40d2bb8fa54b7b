"""Bias probes against scripted judges whose biases are known: each probe must flag the bias it
is for and leave a sound judge alone."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence

import pytest
from eicore_metrics.probes import (
    FILLER,
    padded,
    paraphrased,
    permuted,
    probe_judge,
    shuffled,
    summarise,
)
from eicore_metrics.semantic import sentences
from eicore_metrics.statistics import Bootstrap

from eicore import Completion, Judge, Judgment, ModelRole, Prompt, Response, Sample, SampleRecord

WORDS = ["shouting", "broken", "phone", "rain", "clown", "balloon", "cake", "tears", "photo",
         "chairs", "dog", "sunset", "gift", "storm", "music", "crowd"]  # fmt: skip


def records(n: int = 40) -> list[SampleRecord]:
    """Samples of 3-4 one-word triggers; answers name some of them (varied lengths)."""
    out = []
    for i in range(n):
        k = 3 + i % 2
        triggers = tuple(f"A {WORDS[(i + j) % len(WORDS)]}." for j in range(k))
        named = [WORDS[(i + j) % len(WORDS)] for j in range(k) if (i * 7 + j) % 3 != 0]
        answer = ". ".join(f"There is a {w}" for w in named) + ". Something else happens."
        sample = Sample(f"s{i}", "basic", f"x/{i}.png", "Why?", triggers, "happy")
        out.append(SampleRecord(sample, "answered", Response(answer)))
    return out


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower()))


class Sound(Judge):
    """Credits a trigger when its last word is in the answer; order and length blind."""

    def __init__(self) -> None:
        super().__init__(None)

    def credits(self, sample: Sample, answer: str) -> list[bool]:
        said = words(answer)
        return [re.findall(r"[a-z]+", t.lower())[-1] in said for t in sample.triggers]

    async def judge(self, sample: Sample, answer: str, model: ModelRole | None = None) -> Judgment:
        hits = self.credits(sample, answer)
        matched = tuple(i for i, h in enumerate(hits) if h)
        return Judgment(self.name, len(matched), len(hits), matched=matched)


class FirstCredit(Sound):
    """Always credits the first trigger listed (position bias)."""

    def credits(self, sample: Sample, answer: str) -> list[bool]:
        hits = super().credits(sample, answer)
        return [True, *hits[1:]]


class LengthSwayed(Sound):
    """Credits one more trigger per 30 words of answer (verbosity bias)."""

    def credits(self, sample: Sample, answer: str) -> list[bool]:
        hits = super().credits(sample, answer)
        extra = len(answer.split()) // 30
        for i, hit in enumerate(hits):
            if not hit and extra:
                hits[i], extra = True, extra - 1
        return hits


class ItemOrder(Sound):
    """Reads only the first sentence of the answer (an item-order bias)."""

    def credits(self, sample: Sample, answer: str) -> list[bool]:
        return super().credits(sample, sentences(answer)[0] if sentences(answer) else "")


BOOT = Bootstrap(500, 0)


def check(judge: Judge, probes: Sequence[str] = ("order", "shuffle", "verbosity")) -> dict:
    results = asyncio.run(probe_judge(records(), judge, probes, 3, BOOT))
    return {r.probe: r for r in results}


def test_a_sound_judge_shows_no_bias() -> None:
    found = check(Sound())
    for probe in ("order", "shuffle", "verbosity"):
        assert found[probe].mean_shift == 0 and found[probe].changed == 0
        assert not found[probe].detected
    assert found["order"].n == 40 and found["order"].seeds == 3


def test_the_order_probe_detects_a_judge_that_credits_the_first_trigger() -> None:
    found = check(FirstCredit())
    assert found["order"].detected and found["order"].changed > 0.2
    assert found["order"].changed_ci is not None and found["order"].changed_ci[0] > 0
    assert not found["verbosity"].detected and not found["shuffle"].detected


def test_the_verbosity_probe_detects_a_judge_swayed_by_length() -> None:
    found = check(LengthSwayed())
    verbosity = found["verbosity"]
    assert verbosity.detected and verbosity.mean_shift > 0
    assert verbosity.shift_ci is not None and verbosity.shift_ci[0] > 0
    assert not found["order"].detected and not found["shuffle"].detected


def test_the_shuffle_probe_detects_a_judge_that_reads_only_the_first_item() -> None:
    found = check(ItemOrder())
    assert found["shuffle"].detected and not found["order"].detected


class Rewording:
    """A paraphraser role that swaps every trigger's last word for a synonym."""

    accepts_images = False

    def __init__(self) -> None:
        self.prompts: list[str] = []

    async def complete(self, prompt: Prompt, *, round: int = 0) -> Completion:
        text = prompt.messages[-1].text
        self.prompts.append(text)
        trigger = text.strip().splitlines()[-1]
        return Completion(re.sub(r"(\w+)\.$", r"\1-like thing.", trigger))


def test_the_paraphrase_probe_uses_the_model_role() -> None:
    role = Rewording()
    results = asyncio.run(probe_judge(records(8), Sound(), ["paraphrase"], 1, BOOT, 2, role))
    (result,) = results
    # the sound judge matches exact words, so rewording moves it: the probe shows how much
    assert result.detected and result.mean_shift < 0
    assert len(role.prompts) == sum(len(r.sample.triggers) for r in records(8))
    with pytest.raises(ValueError, match="paraphraser"):
        asyncio.run(probe_judge(records(2), Sound(), ["paraphrase"], 1, BOOT))


def test_probe_transforms() -> None:
    sample = records(1)[0].sample
    assert sorted(permuted(sample, 0).triggers) == sorted(sample.triggers)
    assert permuted(sample, 0).triggers != sample.triggers
    answer = "One thing. Two things. Three things."
    assert sorted(shuffled(answer, "k", 1).splitlines()) == sorted(sentences(answer))
    assert padded(answer).startswith(answer) and FILLER[0] in padded(answer)
    role = Rewording()
    reworded = asyncio.run(paraphrased(sample, role))
    assert reworded.triggers[0] == sample.triggers[0].replace(".", "-like thing.")


def test_summary_statistics() -> None:
    pairs = {"a": [(0.5, 1.0), (0.5, 0.5)], "b": [(0.0, 0.0), (0.0, 0.0)]}
    result = summarise("order", pairs, 2, BOOT)
    assert result.mean_shift == pytest.approx(0.125)  # a: mean 0.25, b: 0
    assert result.changed == pytest.approx(0.25)  # a: 1 of 2 seeds, b: none
    assert result.mean_original == pytest.approx(0.25)


class Flaky(Sound):
    """Fails on every sample whose id ends in 0: those are left out, the check goes on."""

    async def judge(self, sample: Sample, answer: str, model: ModelRole | None = None) -> Judgment:
        if sample.id.endswith("0"):
            raise RuntimeError("judge API down")
        return await super().judge(sample, answer, model)


def test_a_failing_judge_call_leaves_its_sample_out() -> None:
    found = check(Flaky(), ["order"])
    assert found["order"].n == 36 and not found["order"].detected  # s0, s10, s20, s30 left out
