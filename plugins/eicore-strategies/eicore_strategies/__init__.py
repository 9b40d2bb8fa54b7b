"""eicore's first-party prompting strategies, registered through the ``eicore`` entry point."""

from importlib import resources

from eicore import Register, RegisterPreset, hookimpl, register_presets_from
from eicore_strategies.caption import Caption, CaptionConfig
from eicore_strategies.cfsa import CFSA, CFSAConfig
from eicore_strategies.cot import CoT, CoTConfig
from eicore_strategies.direct import Direct, DirectConfig
from eicore_strategies.paper import PaperPrompt, PaperPromptConfig


@hookimpl
def eicore_register_strategies(register: Register) -> None:
    register("direct", Direct, DirectConfig)
    register("cot", CoT, CoTConfig)
    register("caption", Caption, CaptionConfig)
    register("cfsa", CFSA, CFSAConfig)
    register("paper", PaperPrompt, PaperPromptConfig)


@hookimpl
def eicore_register_presets(register: RegisterPreset) -> None:
    register_presets_from(register, resources.files(__name__) / "presets.yaml")
