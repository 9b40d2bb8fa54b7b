"""What a Claude model is called with; the key itself is never a config value."""

from __future__ import annotations

from dataclasses import dataclass

from eicore import APIModelConfig


@dataclass
class AnthropicConfig(APIModelConfig):
    name: str = "claude-haiku-4-5"
    """The model id. The paper's ``claude-3-haiku-20240307`` is retired; Haiku 4.5 succeeds it."""
    temperature: float | None = 0.0
    """Null leaves it to the API: models newer than Claude Opus 4.6 accept no other value."""
    base_url: str | None = None
    """The API root (default: the SDK's, i.e. api.anthropic.com, or $ANTHROPIC_BASE_URL)."""
    api_key_env: str = "ANTHROPIC_API_KEY"
    """The environment variable holding the key."""
