"""What a Claude model is called with; the key itself is never a config value."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class AnthropicConfig:
    name: str = "claude-haiku-4-5"
    """The model id. The paper's ``claude-3-haiku-20240307`` is retired; Haiku 4.5 succeeds it."""
    temperature: float | None = 0.0
    """Null leaves it to the API: models newer than Claude Opus 4.6 accept no other value."""
    max_tokens: int = 512
    system: str | None = None
    """System text sent with every call (before a prompt's own system text)."""
    vision: bool = True
    """Send images inline; false makes a text-only model (strategies then leave images out)."""
    base_url: str | None = None
    """The API root (default: the SDK's, i.e. api.anthropic.com, or $ANTHROPIC_BASE_URL)."""
    api_key_env: str = "ANTHROPIC_API_KEY"
    """The environment variable holding the key."""
    timeout: float = 120.0
    """Seconds per attempt."""
    max_retries: int = 5
    """Retries of 408/409/429/5xx answers, timeouts and dropped connections, after capped
    exponential backoff (0.5 s doubling to 8 s) or the server's Retry-After / retry-after-ms."""
    concurrency: int | None = None
    """At most this many calls in flight to this model (default: the run's concurrency)."""
    price_input_per_mtok: float | None = None
    """US dollars per million prompt tokens, for the run's cost estimate."""
    price_output_per_mtok: float | None = None
    """US dollars per million answer tokens, for the run's cost estimate."""
