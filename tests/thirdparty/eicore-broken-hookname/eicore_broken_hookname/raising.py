"""A plugin that registers one model and then raises inside its hook: nothing of it may remain."""

from dataclasses import dataclass

from eicore import Model, hookimpl


@dataclass
class HalfConfig:
    pass


class Half(Model):
    async def generate(self, prompts):  # type: ignore[no-untyped-def]
        raise AssertionError("never built")


@hookimpl
def eicore_register_models(register):  # type: ignore[no-untyped-def]
    register("half-registered", Half, HalfConfig)
    raise RuntimeError("registration went wrong halfway")
