"""eicore-anthropic: Claude models through Anthropic's Messages API (``model=anthropic``)."""

from eicore import Register, RegisterPreset, hookimpl
from eicore_anthropic.config import AnthropicConfig
from eicore_anthropic.model import AnthropicModel
from eicore_anthropic.presets import register_presets


@hookimpl
def eicore_register_models(register: Register) -> None:
    register("anthropic", AnthropicModel, AnthropicConfig)


@hookimpl
def eicore_register_presets(register: RegisterPreset) -> None:
    register_presets(register)
