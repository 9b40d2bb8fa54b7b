"""eicore-anthropic: Claude models through Anthropic's Messages API (``model=anthropic``)."""

from eicore import Register, hookimpl
from eicore_anthropic.config import AnthropicConfig
from eicore_anthropic.model import AnthropicModel


@hookimpl
def eicore_register_models(register: Register) -> None:
    register("anthropic", AnthropicModel, AnthropicConfig)
