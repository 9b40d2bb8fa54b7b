"""Offline and keyless: real provider keys unset, the hub offline; the fake API, a model on it."""

from __future__ import annotations

import httpx2
import pytest
from eicore_gemini.config import GeminiConfig
from eicore_gemini.model import GeminiModel
from google.genai import errors

from eicore.testing.api_runs import APIModelPlugin
from eicore.testing.pytest_plugin import api, complete, eibench, fake, key, model  # noqa: F401


@pytest.fixture(scope="session")
def api_plugin() -> APIModelPlugin:
    """The plugin as eicore's shared API-model tests and fixtures see it."""
    return APIModelPlugin(
        name="gemini",
        model=GeminiModel,
        config=GeminiConfig,
        key="AIza-test-FAKEKEY-0123456789abcdef",
        server_error=errors.ServerError,  # the default max_retries is 5
        timeout_error=httpx2.TimeoutException,
        connection_error=httpx2.TransportError,
        refusal_reason="finish_reason=SAFETY",
        refusal_explained=False,  # a safety block withholds the words
        stop_reason="STOP",
        length_reason="MAX_TOKENS",
        retry_sleep="asyncio.sleep",  # eicore_gemini.retries waits with it
    )
