"""eicore's first-party metrics and judges, registered through the ``eicore`` entry point."""

from eicore import hookimpl
from eicore_metrics.recall import TriggerRecall
from eicore_metrics.semantic import SemanticJudge, SemanticJudgeConfig


@hookimpl
def eicore_register_metrics(register):  # type: ignore[no-untyped-def]
    register("trigger_recall", TriggerRecall, None)


@hookimpl
def eicore_register_judges(register):  # type: ignore[no-untyped-def]
    register("semantic", SemanticJudge, SemanticJudgeConfig)
