"""eicore's first-party metrics and judges, registered through the ``eicore`` entry point."""

from eicore import hookimpl
from eicore_metrics.calibration import register_presets
from eicore_metrics.coherence import Coherence, CoherenceConfig
from eicore_metrics.llm import LLMJudge, LLMJudgeConfig
from eicore_metrics.paper_judges import PaperJudge, PaperJudgeConfig
from eicore_metrics.recall import TriggerRecall, TriggerRecallConfig
from eicore_metrics.semantic import SemanticJudge, SemanticJudgeConfig


@hookimpl
def eicore_register_metrics(register):  # type: ignore[no-untyped-def]
    register("trigger_recall", TriggerRecall, TriggerRecallConfig)
    register("coherence", Coherence, CoherenceConfig)


@hookimpl
def eicore_register_judges(register):  # type: ignore[no-untyped-def]
    register("semantic", SemanticJudge, SemanticJudgeConfig)
    register("llm", LLMJudge, LLMJudgeConfig)
    register("paper", PaperJudge, PaperJudgeConfig)
    register_presets(register)
