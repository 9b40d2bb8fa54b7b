"""eicore-hf: local transformers models (``model=hf``), registered through the entry point.

Importing this module imports neither torch nor transformers: they load when a model is built.
"""

from importlib import resources

from eicore import Register, RegisterPreset, hookimpl, register_presets_from
from eicore_hf.config import HFConfig
from eicore_hf.model import hf_model


@hookimpl
def eicore_register_models(register: Register) -> None:
    register("hf", hf_model, HFConfig)


@hookimpl
def eicore_register_presets(register: RegisterPreset) -> None:
    register_presets_from(register, resources.files(__name__) / "presets.yaml")
