"""Offline and keyless: real provider keys unset, the hub offline; the fake API, a model on it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from eicore_anthropic.config import AnthropicConfig
from eicore_anthropic.model import AnthropicModel

from eicore.testing.fake_api import FakeAPI
from eicore.testing.pytest_plugin import complete, eibench, fake  # noqa: F401

KEY = "sk-ant-test-FAKEKEY-0123456789abcdef"


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> str:
    """A fake key in ``ANTHROPIC_API_KEY``; no file or log may ever hold it."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    return KEY


@pytest.fixture
def model(fake: FakeAPI, key: str) -> Callable[..., AnthropicModel]:  # noqa: F811
    """``model(**config fields)``: an AnthropicModel pointed at the fake."""

    def make(**fields: Any) -> AnthropicModel:
        return AnthropicModel(AnthropicConfig(**{"base_url": fake.url, **fields}))

    return make
