"""Offline and keyless: real provider keys unset, the hub offline; the fake API, a model on it."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from eicore_openai.config import OpenAIConfig
from eicore_openai.model import OpenAIModel

from eicore import Completion, Model, Prompt
from eicore.testing.fake_api import FakeAPI

for _name in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GOOGLE_API_KEY", "GEMINI_API_KEY"):
    os.environ.pop(_name, None)
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"


@pytest.fixture
def fake() -> Iterator[FakeAPI]:
    with FakeAPI() as server:
        yield server


@pytest.fixture(scope="session")
def eibench() -> Path:
    """EIBench's annotations: ``$EICORE_TEST_DATA``, else ``../shared/eibench`` beside the repo."""
    repo = Path(__file__).resolve().parents[3]
    path = Path(os.environ.get("EICORE_TEST_DATA") or repo.parent / "shared" / "eibench")
    if not (path / "user.jsonl").is_file():
        pytest.skip(f"EIBench annotations not found in {path}; set EICORE_TEST_DATA")
    return path


KEY = "sk-test-FAKEKEY-0123456789abcdef"


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> str:
    """A fake key in ``OPENAI_API_KEY``; no file or log may ever hold it."""
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    return KEY


@pytest.fixture
def model(fake: FakeAPI, key: str) -> Callable[..., OpenAIModel]:
    """``model(**config fields)``: an OpenAIModel pointed at the fake."""

    def make(**fields: Any) -> OpenAIModel:
        return OpenAIModel(OpenAIConfig(**{"base_url": fake.url + "/v1", **fields}))

    return make


@pytest.fixture
def complete() -> Callable[..., list[Completion]]:
    """``complete(model, *prompts)``: the completions, in one event loop, the client closed after."""

    def run(model: Model, *prompts: Prompt) -> list[Completion]:
        async def calls() -> list[Completion]:
            try:
                return await model.generate(prompts)
            finally:
                await model.aclose()

        return asyncio.run(calls())

    return run
