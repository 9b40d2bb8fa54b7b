"""What an OpenAI-compatible model is called with; the key itself is never a config value."""

from __future__ import annotations

from dataclasses import dataclass

from eicore import APIModelConfig


@dataclass
class OpenAIConfig(APIModelConfig):
    name: str = "gpt-4o"
    """The model id the server knows (``gpt-4o``, ``Qwen/Qwen2-VL-7B-Instruct``, ``llava:7b``)."""
    temperature: float = 0.0
    top_p: float | None = None
    """Nucleus sampling; None sends none (the server's default)."""
    repetition_penalty: float | None = None
    """vLLM's (and other open servers') repetition penalty; None sends none. OpenAI's own API
    refuses the field."""
    base_url: str | None = None
    """The API root, ending in ``/v1`` (default: the SDK's, i.e. api.openai.com)."""
    api_key_env: str | None = "OPENAI_API_KEY"
    """The environment variable holding the key; null for a server that takes none."""
    seed: int | None = None


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
