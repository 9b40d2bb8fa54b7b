"""eicore-anthropic: Claude models through Anthropic's Messages API (``model=anthropic``)."""

from importlib import resources

from eicore import Register, RegisterPreset, hookimpl, register_presets_from
from eicore_anthropic.config import AnthropicConfig
from eicore_anthropic.model import AnthropicModel


@hookimpl
def eicore_register_models(register: Register) -> None:
    register("anthropic", AnthropicModel, AnthropicConfig)


@hookimpl
def eicore_register_presets(register: RegisterPreset) -> None:
    register_presets_from(register, resources.files(__name__) / "presets.yaml")
