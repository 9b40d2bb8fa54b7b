"""eicore-openai: models behind any OpenAI-compatible chat-completions API.

``model=openai`` (api.openai.com), ``model=vllm`` and ``model=ollama`` (local servers, no key)
are one model class with different defaults; ``model.base_url`` points any of them elsewhere.
"""

from eicore import Register, RegisterPreset, hookimpl
from eicore_openai.config import OllamaConfig, OpenAIConfig, VLLMConfig
from eicore_openai.model import OpenAIModel
from eicore_openai.presets import register_presets


@hookimpl
def eicore_register_models(register: Register) -> None:
    register("openai", OpenAIModel, OpenAIConfig)
    register("vllm", OpenAIModel, VLLMConfig)
    register("ollama", OpenAIModel, OllamaConfig)


@hookimpl
def eicore_register_presets(register: RegisterPreset) -> None:
    register_presets(register)
