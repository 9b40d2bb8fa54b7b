"""Offline and keyless: real provider keys unset, the hub offline; the fake API, a model on it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from eicore_gemini.config import GeminiConfig
from eicore_gemini.model import GeminiModel

from eicore.testing.fake_api import FakeAPI
from eicore.testing.pytest_plugin import complete, eibench, fake  # noqa: F401

KEY = "AIza-test-FAKEKEY-0123456789abcdef"


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> str:
    """A fake key in ``GEMINI_API_KEY``; no file or log may ever hold it."""
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    return KEY


@pytest.fixture
def model(fake: FakeAPI, key: str) -> Callable[..., GeminiModel]:  # noqa: F811
    """``model(**config fields)``: a GeminiModel pointed at the fake."""

    def make(**fields: Any) -> GeminiModel:
        return GeminiModel(GeminiConfig(**{"base_url": fake.url, **fields}))

    return make
