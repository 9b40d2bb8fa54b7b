"""eicore's first-party metrics and judges, registered through the ``eicore`` entry point."""

from eicore import hookimpl
from eicore_metrics.recall import TriggerRecall


@hookimpl
def eicore_register_metrics(register):  # type: ignore[no-untyped-def]
    register("trigger_recall", TriggerRecall, None)
