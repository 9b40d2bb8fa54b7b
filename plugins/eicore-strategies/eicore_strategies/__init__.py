"""eicore's first-party prompting strategies, registered through the ``eicore`` entry point."""

from eicore import hookimpl
from eicore_strategies.direct import Direct, DirectConfig


@hookimpl
def eicore_register_strategies(register):  # type: ignore[no-untyped-def]
    register("direct", Direct, DirectConfig)
