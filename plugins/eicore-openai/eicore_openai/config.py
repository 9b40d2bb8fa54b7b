"""What an OpenAI-compatible model is called with; the key itself is never a config value."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class OpenAIConfig:
    name: str = "gpt-4o"
    """The model id the server knows (``gpt-4o``, ``Qwen/Qwen2-VL-7B-Instruct``, ``llava:7b``)."""
    temperature: float = 0.0
    max_tokens: int = 512
    top_p: float | None = None
    """Nucleus sampling; None sends none (the server's default)."""
    repetition_penalty: float | None = None
    """vLLM's (and other open servers') repetition penalty; None sends none. OpenAI's own API
    refuses the field."""
    seed: int | None = None
    system: str | None = None
    """A system message sent first in every call (before a prompt's own system text)."""
    vision: bool = True
    """Send images inline; false makes a text-only model (strategies then leave images out)."""
    base_url: str | None = None
    """The API root, ending in ``/v1`` (default: the SDK's, i.e. api.openai.com)."""
    api_key_env: str | None = "OPENAI_API_KEY"
    """The environment variable holding the key; null for a server that takes none."""
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


@dataclass
class VLLMConfig(OpenAIConfig):
    """A local vLLM server (``vllm serve <model>``); set ``api_key_env`` if it has ``--api-key``."""

    name: str = "Qwen/Qwen2-VL-7B-Instruct"
    base_url: str | None = "http://127.0.0.1:8000/v1"
    api_key_env: str | None = None


@dataclass
class OllamaConfig(OpenAIConfig):
    """A local Ollama server (``ollama serve``) through its OpenAI-compatible API."""

    name: str = "llava:7b"
    base_url: str | None = "http://127.0.0.1:11434/v1"
    api_key_env: str | None = None
