"""eicore-hf: local transformers models (``model=hf``), registered through the entry point.

Importing this module imports neither torch nor transformers: they load when a model is built.
"""

from eicore import Register, RegisterPreset, hookimpl
from eicore_hf.config import HFConfig
from eicore_hf.model import hf_model
from eicore_hf.presets import register_presets


@hookimpl
def eicore_register_models(register: Register) -> None:
    register("hf", hf_model, HFConfig)


@hookimpl
def eicore_register_presets(register: RegisterPreset) -> None:
    register_presets(register)
