"""A plugin whose hook implementation matches no hookspec (``modles``): eicore must reject it."""

from dataclasses import dataclass

from eicore import Model, hookimpl


@dataclass
class TypoConfig:
    pass


class Typo(Model):
    async def generate(self, prompts):  # type: ignore[no-untyped-def]
        raise AssertionError("never built")


@hookimpl
def eicore_register_modles(register):  # type: ignore[no-untyped-def]
    register("typo", Typo, TypoConfig)


@hookimpl
def eicore_register_judges(register):  # type: ignore[no-untyped-def]
    register("typo-judge", Typo, TypoConfig)
