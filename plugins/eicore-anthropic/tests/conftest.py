"""Offline and keyless: real provider keys unset, the hub offline; the fake API, a model on it."""

from __future__ import annotations

import anthropic
import pytest
from eicore_anthropic.config import AnthropicConfig
from eicore_anthropic.model import AnthropicModel

from eicore.testing.api_runs import APIModelPlugin
from eicore.testing.pytest_plugin import api, complete, eibench, fake, key, model  # noqa: F401


@pytest.fixture(scope="session")
def api_plugin() -> APIModelPlugin:
    """The plugin as eicore's shared API-model tests and fixtures see it."""
    return APIModelPlugin(
        name="anthropic",
        model=AnthropicModel,
        config=AnthropicConfig,
        key="sk-ant-test-FAKEKEY-0123456789abcdef",
        server_error=anthropic.InternalServerError,
        timeout_error=anthropic.APITimeoutError,
        connection_error=anthropic.APIConnectionError,
        refusal_reason="stop_reason=refusal",
        refusal_explained=True,
        stop_reason="end_turn",
        length_reason="max_tokens",
    )
