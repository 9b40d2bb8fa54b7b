"""The tiny LLaVA and Llama loaded from disk by the plugin: batching, decoding, image tokens."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from eicore_hf.config import HFConfig
from eicore_hf.model import QUEUE_FACTOR, HFModel, TextModel, VisionModel, hf_model, plain_greedy
from eicore_hf.tiny import EOS, IMAGE, SPECIAL_TOKENS, image_tokens_per_image

from eicore import Completion, Prompt

MAX_NEW_TOKENS = 24
QUESTIONS = (
    "What could have caused the man in the image to appear outraged or hostile?",
    "Why sad?",
    "What might have caused the woman in the image to become agitated or outraged, "
    "given the crowd around her and the broken umbrella she is holding?",
    "Why is the child so happy?",
)
PERSONA = "You are an expert in emotion psychology.\nLook at the image carefully, then answer."


@pytest.fixture(scope="module")
def llava(tiny_llava: Path) -> HFModel:
    return hf_model(HFConfig(path=str(tiny_llava), max_new_tokens=MAX_NEW_TOKENS, batch_size=4))


@pytest.fixture(scope="module")
def llama(tiny_llama: Path) -> HFModel:
    return hf_model(HFConfig(path=str(tiny_llama), max_new_tokens=MAX_NEW_TOKENS, batch_size=4))


@pytest.fixture(scope="module")
def vision_prompts(image_part: Callable[[int], Any]) -> list[Prompt]:
    return [Prompt.user(image_part(n), f"{PERSONA}\n{q}") for n, q in enumerate(QUESTIONS)]


@pytest.fixture(scope="module")
def text_prompts() -> list[Prompt]:
    return [Prompt.user(f"{PERSONA}\n{q}", system="Answer briefly.") for q in QUESTIONS]


def until_eos(row: list[int]) -> list[int]:
    return row[: row.index(EOS) + 1] if EOS in row else row


def without_latency(c: Completion) -> tuple[object, ...]:
    return (c.text, c.input_tokens, c.output_tokens, c.finish_reason)


def test_kind_is_read_from_the_saved_config_without_loading_weights(
    llava: HFModel, llama: HFModel
) -> None:
    assert isinstance(llava, VisionModel) and llava.accepts_images
    assert isinstance(llama, TextModel) and not llama.accepts_images
    assert llava.max_concurrency == 1
    fresh = hf_model(HFConfig(path=llava.source.location))
    assert fresh._loaded is None


def test_each_image_becomes_its_patch_tokens(
    llava: HFModel, image_part: Callable[[int], Any]
) -> None:
    loaded = llava.load()
    one = Prompt.user(image_part(0), "Why?")
    two = Prompt.user(image_part(1), image_part(2), "Why?")
    ids = llava.encode(loaded, [one, two])["input_ids"]
    assert (ids == IMAGE).sum(dim=1).tolist() == [
        image_tokens_per_image(),
        2 * image_tokens_per_image(),
    ]


@pytest.mark.parametrize("which", ["llava", "llama"])
def test_a_batch_of_four_equals_four_singles_token_for_token(
    which: str, request: pytest.FixtureRequest
) -> None:
    model: HFModel = request.getfixturevalue(which)
    prompts = request.getfixturevalue("vision_prompts" if which == "llava" else "text_prompts")
    batch = model.generate_ids(prompts)
    singles = [model.generate_ids([p]) for p in prompts]
    assert len(set(batch.input_tokens)) == len(prompts)  # every row padded differently
    for row, single in zip(batch.rows, singles, strict=True):
        assert until_eos(row) == until_eos(single.rows[0])
    assert batch.input_tokens == [s.input_tokens[0] for s in singles]
    completions = model.generate_blocking(prompts)
    single_completions = [model.generate_blocking([p])[0] for p in prompts]
    assert list(map(without_latency, completions)) == list(map(without_latency, single_completions))


@pytest.mark.parametrize("which", ["llava", "llama"])
def test_refilled_rows_equal_generate_alone_at_mixed_prompt_and_answer_lengths(
    which: str, request: pytest.FixtureRequest, image_part: Callable[[int], Any]
) -> None:
    """Eight prompts through two rows: rows end at different steps and waiting prompts join a
    running cache of another length; each answer is what transformers' ``generate`` gives the
    prompt alone."""
    path: Path = request.getfixturevalue(f"tiny_{which}")
    model = hf_model(HFConfig(path=str(path), max_new_tokens=MAX_NEW_TOKENS, batch_size=2))
    questions = [*QUESTIONS, *(q.upper() for q in QUESTIONS)]
    if which == "llava":
        prompts = [Prompt.user(image_part(n), f"{PERSONA}\n{q}") for n, q in enumerate(questions)]
        prompts[3] = Prompt.user(questions[3])  # no image: a much shorter prompt
    else:
        prompts = [
            Prompt.user(q, system=PERSONA if n % 2 else None) for n, q in enumerate(questions)
        ]
    loaded = model.load()
    assert plain_greedy(loaded.generation)
    refilled = model.generate_ids(prompts)
    alone = []
    for prompt in prompts:
        inputs = model.encode(loaded, [prompt])
        output = loaded.model.generate(**inputs, generation_config=loaded.generation)
        alone.append(
            (output[0, inputs["input_ids"].shape[1] :].tolist(), inputs["input_ids"].shape[1])
        )
    assert [r for r, _ in alone] == refilled.rows
    assert [n for _, n in alone] == refilled.input_tokens
    assert len(set(refilled.input_tokens)) > 4, "prompts of many lengths"
    lengths = [len(r) for r in refilled.rows]
    assert min(lengths) < MAX_NEW_TOKENS // 2 and max(lengths) == MAX_NEW_TOKENS, lengths
    assert model.max_batch_size == QUEUE_FACTOR * 2


def test_settings_that_change_logits_fall_back_to_generate(llama: HFModel) -> None:
    import copy

    generation = copy.deepcopy(llama.load().generation)
    assert plain_greedy(generation)
    generation.repetition_penalty = 1.3
    assert not plain_greedy(generation)


def test_answers_are_the_new_tokens_without_special_tokens(
    llava: HFModel, vision_prompts: list[Prompt]
) -> None:
    rows = llava.generate_ids(vision_prompts).rows
    special_ids = set(range(len(SPECIAL_TOKENS)))
    assert any(special_ids & set(until_eos(r)[:-1]) for r in rows), "the tiny model emits specials"
    completions = llava.generate_blocking(vision_prompts)
    for completion in completions:
        assert completion.text
        assert not any(token in completion.text for token in SPECIAL_TOKENS), completion.text
        assert "ASSISTANT" not in completion.text and "outraged" not in completion.text


def test_finish_reason_and_token_counts(llava: HFModel, vision_prompts: list[Prompt]) -> None:
    rows = llava.generate_ids(vision_prompts).rows
    completions = llava.generate_blocking(vision_prompts)
    reasons = [c.finish_reason for c in completions]
    assert set(reasons) == {"stop", "length"}, "the tiny model stops early on some prompts"
    for row, c in zip(rows, completions, strict=True):
        if c.finish_reason == "length":
            assert EOS not in row and c.output_tokens == MAX_NEW_TOKENS
        else:
            assert c.output_tokens == row.index(EOS) + 1 < MAX_NEW_TOKENS
        assert c.input_tokens is not None and c.input_tokens > image_tokens_per_image()
        assert c.latency_s > 0


def test_text_model_takes_system_turns_and_refuses_images(
    llama: HFModel, text_prompts: list[Prompt], image_part: Callable[[int], Any]
) -> None:
    (with_system,) = llama.generate_blocking(text_prompts[:1])
    (without,) = llama.generate_blocking([Prompt.user(f"{PERSONA}\n{QUESTIONS[0]}")])
    assert with_system.input_tokens is not None and without.input_tokens is not None
    assert with_system.input_tokens > without.input_tokens
    with pytest.raises(ValueError, match="text-only model got a prompt with 1 image"):
        llama.generate_blocking([Prompt.user(image_part(0), "Why?")])


def test_concurrent_calls_load_once_and_never_overlap(
    tiny_llava: Path, vision_prompts: list[Prompt], monkeypatch: pytest.MonkeyPatch
) -> None:
    model = hf_model(HFConfig(path=str(tiny_llava), max_new_tokens=4))
    loads, running, overlaps = [], [0], []
    load_now = model._load_now

    def counting_load() -> Any:
        loads.append(1)
        loaded = load_now()
        forward = loaded.model.forward
        guard = threading.Lock()

        def watched(*args: Any, **kwargs: Any) -> Any:
            with guard:
                running[0] += 1
                overlaps.append(running[0] > 1)
            try:
                return forward(*args, **kwargs)
            finally:
                with guard:
                    running[0] -= 1

        loaded.model.forward = watched
        return loaded

    monkeypatch.setattr(model, "_load_now", counting_load)

    async def together() -> list[list[Completion]]:
        return await asyncio.gather(*(model.generate([p]) for p in vision_prompts))

    results = asyncio.run(together())
    assert [len(r) for r in results] == [1] * len(vision_prompts)
    assert loads == [1]
    assert len(overlaps) >= len(vision_prompts)  # a forward pass per token of each answer
    assert overlaps == [False] * len(overlaps)


def test_seeded_sampling_repeats_and_is_cacheable(
    tiny_llama: Path, text_prompts: list[Prompt]
) -> None:
    config = HFConfig(path=str(tiny_llama), max_new_tokens=12, temperature=1.5, seed=7)
    sampled = hf_model(config)
    first, again = (sampled.generate_blocking(text_prompts[:2]) for _ in range(2))
    assert list(map(without_latency, first)) == list(map(without_latency, again))
    greedy = hf_model(HFConfig(path=str(tiny_llama), max_new_tokens=12)).generate_blocking(
        text_prompts[:2]
    )
    assert list(map(without_latency, first)) != list(map(without_latency, greedy))
    assert sampled.cacheable
    assert not hf_model(HFConfig(path=str(tiny_llama), temperature=1.5)).cacheable


def test_identity_leaves_out_placement_and_follows_the_files(
    tiny_llava: Path, tmp_path: Path
) -> None:
    from eicore_hf.tiny import build_llava

    base = hf_model(HFConfig(path=str(tiny_llava))).identity()
    placed = hf_model(
        HFConfig(path=str(tiny_llava), device="cpu", batch_size=2, attn_implementation="eager")
    )
    assert placed.identity() == base
    assert base["kind"] == "vision" and base["max_new_tokens"] == 512 and base["temperature"] == 0.0
    assert hf_model(HFConfig(path=str(tiny_llava), max_new_tokens=8)).identity() != base
    copy = build_llava(tmp_path / "m", seed=0)
    same = hf_model(HFConfig(path=str(copy))).identity()
    retrained = hf_model(HFConfig(path=str(build_llava(tmp_path / "m", seed=1)))).identity()
    assert same["files"] == base["files"]
    assert retrained["files"] != same["files"]


def test_vision_model_takes_text_only_prompts_in_a_mixed_batch(
    llava: HFModel, vision_prompts: list[Prompt]
) -> None:
    text_only = Prompt.user(f"{PERSONA}\n{QUESTIONS[1]}")
    mixed = [vision_prompts[0], text_only, vision_prompts[2]]
    batch = llava.generate_ids(mixed)
    singles = [llava.generate_ids([p]) for p in mixed]
    assert [until_eos(r) for r in batch.rows] == [until_eos(s.rows[0]) for s in singles]
    assert batch.input_tokens[1] + image_tokens_per_image() < batch.input_tokens[0]


def test_closing_releases_the_weights(tiny_llama: Path, text_prompts: list[Prompt]) -> None:
    model = hf_model(HFConfig(path=str(tiny_llama), max_new_tokens=2))
    asyncio.run(model.generate(text_prompts[:1]))
    assert model._loaded is not None
    asyncio.run(model.aclose())
    assert model._loaded is None
