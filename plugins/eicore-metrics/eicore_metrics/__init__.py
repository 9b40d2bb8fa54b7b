"""eicore's first-party metrics and judges, registered through the ``eicore`` entry point."""

from importlib import resources

from eicore import Register, RegisterCommand, RegisterPreset, hookimpl, register_presets_from
from eicore_metrics.calibration import register_calibrated
from eicore_metrics.coherence import Coherence, CoherenceConfig
from eicore_metrics.commands import register_commands
from eicore_metrics.jury import Jury, JuryConfig
from eicore_metrics.llm import LLMJudge, LLMJudgeConfig
from eicore_metrics.paper_judges import PaperJudge, PaperJudgeConfig
from eicore_metrics.recall import TriggerRecall, TriggerRecallConfig
from eicore_metrics.semantic import SemanticJudge, SemanticJudgeConfig


@hookimpl
def eicore_register_metrics(register: Register) -> None:
    register("trigger_recall", TriggerRecall, TriggerRecallConfig)
    register("coherence", Coherence, CoherenceConfig)
    register("jury", Jury, JuryConfig)


@hookimpl
def eicore_register_judges(register: Register) -> None:
    register("semantic", SemanticJudge, SemanticJudgeConfig)
    register("llm", LLMJudge, LLMJudgeConfig)
    register("paper", PaperJudge, PaperJudgeConfig)
    register_calibrated(register)


@hookimpl
def eicore_register_commands(register: RegisterCommand) -> None:
    register_commands(register)


@hookimpl
def eicore_register_presets(register: RegisterPreset) -> None:
    register_presets_from(register, resources.files(__name__) / "presets.yaml")
