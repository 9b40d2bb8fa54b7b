"""eicore-openai: models behind any OpenAI-compatible chat-completions API.

``model=openai`` (api.openai.com), ``model=vllm`` and ``model=ollama`` (local servers, no key)
are one model class with different defaults; ``model.base_url`` points any of them elsewhere.
"""

from importlib import resources

from eicore import Register, RegisterPreset, hookimpl, register_presets_from
from eicore_openai.config import OllamaConfig, OpenAIConfig, VLLMConfig
from eicore_openai.model import OpenAIModel


@hookimpl
def eicore_register_models(register: Register) -> None:
    register("openai", OpenAIModel, OpenAIConfig)
    register("vllm", OpenAIModel, VLLMConfig)
    register("ollama", OpenAIModel, OllamaConfig)


@hookimpl
def eicore_register_presets(register: RegisterPreset) -> None:
    register_presets_from(register, resources.files(__name__) / "presets.yaml")
