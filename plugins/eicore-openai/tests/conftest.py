"""Offline and keyless: real provider keys unset, the hub offline; the fake API, a model on it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from eicore_openai.config import OpenAIConfig
from eicore_openai.model import OpenAIModel

from eicore.testing.fake_api import FakeAPI
from eicore.testing.pytest_plugin import complete, eibench, fake  # noqa: F401

KEY = "sk-test-FAKEKEY-0123456789abcdef"


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> str:
    """A fake key in ``OPENAI_API_KEY``; no file or log may ever hold it."""
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    return KEY


@pytest.fixture
def model(fake: FakeAPI, key: str) -> Callable[..., OpenAIModel]:  # noqa: F811
    """``model(**config fields)``: an OpenAIModel pointed at the fake."""

    def make(**fields: Any) -> OpenAIModel:
        return OpenAIModel(OpenAIConfig(**{"base_url": fake.url + "/v1", **fields}))

    return make
