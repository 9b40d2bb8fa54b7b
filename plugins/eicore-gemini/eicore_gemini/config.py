"""What a Gemini model is called with; the key itself is never a config value."""

from __future__ import annotations

from dataclasses import dataclass

from eicore import APIModelConfig


@dataclass
class GeminiConfig(APIModelConfig):
    name: str = "gemini-2.5-flash"
    """The model id. Thinking models spend ``max_tokens`` on thoughts too: raise it for them."""
    temperature: float = 0.0
    base_url: str | None = None
    """The API root (default: the SDK's, i.e. generativelanguage.googleapis.com)."""
    api_version: str | None = None
    """The path segment before ``/models`` (``v1beta``, ``v1``). Default: the SDK's for Google's
    own endpoint; ``v1beta`` with a ``base_url``, because with one the SDK would post to ``/v1``
    while Gemini-compatible gateways serve ``/v1beta``."""
    api_key_env: str = "GEMINI_API_KEY"
    """The environment variable holding the key (``GOOGLE_API_KEY`` works as well)."""
    max_retries: int = 5
    """Retries of 408/429/5xx answers, timeouts and dropped connections, after capped
    exponential backoff (0.5 s doubling to 8 s) or the server's Retry-After / retry-after-ms /
    RetryInfo delay."""
    price_output_per_mtok: float | None = None
    """US dollars per million answer tokens (thinking included), for the run's cost estimate."""
    seed: int | None = None
