"""Anthropic Messages and Gemini generateContent through a real gateway, the LiteLLM proxy, in
front of ``transformers serve``: ``model=anthropic`` and ``model=gemini`` give the greedy
answers ``model=hf`` gives on the same weights."""

from __future__ import annotations

from pathlib import Path

import pytest
from real_tier import ANSWER_TOKENS, SAMPLES, Server, answers, eicore_run

from eicore.testing.runs import read_jsonl

pytestmark = pytest.mark.real

PROXY_KEY_ENV = "GATEWAY_API_KEY"


def gateway_run(model: str, proxy: Server, key: str, eibench: Path, env: dict[str, str],
                folder: Path, *extra: str, expect: int = 0) -> Path:  # fmt: skip
    return eicore_run(
        folder, {**env, PROXY_KEY_ENV: key}, f"model={model}", f"model.base_url={proxy.url}",
        f"model.api_key_env={PROXY_KEY_ENV}", "model.name=smollm2", "model.vision=false",
        f"model.max_tokens={ANSWER_TOKENS}", "strategy=direct", "~judge", "metrics=[]",
        f"data.root={eibench}", f"data.limit={SAMPLES}", *extra, expect=expect,
    )  # fmt: skip


@pytest.mark.parametrize("model", ["anthropic", "gemini"])
def test_the_gateway_answers_as_the_local_model_does(
    model: str, proxy: Server, proxy_key: str, hf_direct: Path, eibench: Path,
    child_env: dict[str, str], tmp_path: Path,
) -> None:  # fmt: skip
    run_dir = gateway_run(model, proxy, proxy_key, eibench, child_env, tmp_path)
    through, local = answers(run_dir), answers(hf_direct)
    assert [c["text"] for c in through.values()] == [c["text"] for c in local.values()]
    assert [c["output_tokens"] for c in through.values()] == [
        c["output_tokens"] for c in local.values()
    ]


def test_gemini_at_v1_meets_the_gateways_405(
    proxy: Server, proxy_key: str, eibench: Path, child_env: dict[str, str], tmp_path: Path
) -> None:
    """What ``model.api_version`` fixed: google-genai with a base_url posts to ``/v1``, which a
    Gemini-compatible gateway does not serve; the sample fails with the gateway's answer."""
    run_dir = gateway_run(
        "gemini", proxy, proxy_key, eibench, child_env, tmp_path, "model.api_version=v1",
        "model.max_retries=0", "data.limit=1", "run.cache=false", expect=1,
    )  # fmt: skip  # the only sample failed: nothing answered, exit 1
    (record,) = read_jsonl(run_dir / "records.jsonl")
    assert record["status"] == "failed" and record["error_type"] == "ClientError"
    assert record["error"].startswith("405")
