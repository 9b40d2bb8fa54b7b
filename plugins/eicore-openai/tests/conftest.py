"""Offline and keyless: real provider keys unset, the hub offline; the fake API, a model on it."""

from __future__ import annotations

import openai
import pytest
from eicore_openai.config import OpenAIConfig
from eicore_openai.model import OpenAIModel

from eicore.testing.api_runs import APIModelPlugin
from eicore.testing.pytest_plugin import api, complete, eibench, fake, key, model  # noqa: F401


@pytest.fixture(scope="session")
def api_plugin() -> APIModelPlugin:
    """The plugin as eicore's shared API-model tests and fixtures see it."""
    return APIModelPlugin(
        name="openai",
        model=OpenAIModel,
        config=OpenAIConfig,
        key="sk-test-FAKEKEY-0123456789abcdef",
        server_error=openai.InternalServerError,
        timeout_error=openai.APITimeoutError,
        connection_error=openai.APIConnectionError,
        refusal_reason="finish_reason=content_filter",
        refusal_explained=True,
        stop_reason="stop",
        length_reason="length",
        url_suffix="/v1",
    )
