"""eicore: evaluate why multimodal models think people feel what they feel (EIBench, CFSA).

The public API for plugin authors: the ``hookimpl`` marker and the hooks' ``Register``, the
records, the base classes, the errors a plugin raises for bad input, and the helpers it needs
from the core; for notebooks: :func:`evaluate`, :func:`read_run`, :func:`runs_df` and the typed
run log. Everything else in ``eicore.*`` is internal; test aids are in ``eicore.testing``.
"""

from eicore.datasets.images import read as read_image
from eicore.datasets.samples import DataConfig, DataError, read_jsonl
from eicore.hookspecs import Register, RegisterCommand, RegisterPreset
from eicore.interfaces import (
    APIModel,
    APIModelConfig,
    BatchError,
    BatchStatus,
    Dataset,
    Judge,
    Metric,
    Model,
    ModelRole,
    Strategy,
    TextOnlyModelError,
)
from eicore.log import Recall, RoleUsage, RunLog
from eicore.log.api import evaluate, read_run, runs_df
from eicore.paper.strings import (
    BASIC_JUDGES,
    PROMPTS,
    JudgePrompt,
    Place,
    Template,
    answer_prompt,
    constant,
    judge_prompt,
    prompt_name,
)
from eicore.plugins import Registration, build, hookimpl, register_presets_from, registered
from eicore.run.calls import AnswerError, RefusalError
from eicore.run.concurrency import report_throttle
from eicore.run.rescore import StoredJudging, stored_judging
from eicore.run.settings import ConfigError
from eicore.run.store import cache_home
from eicore.run.threads import cpu_threads
from eicore.secrets.keys import api_key
from eicore.secrets.masking import excerpt
from eicore.types import (
    EMOTIONS,
    AnswerItem,
    Call,
    Completion,
    ImagePart,
    Judgment,
    Message,
    Prompt,
    Response,
    Sample,
    SampleRecord,
    TextPart,
    TriggerVerdict,
    record_from_dict,
    record_to_dict,
)
from eicore.viewer.agreement import cohen_kappa

__all__ = [
    "BASIC_JUDGES",
    "PROMPTS",
    "JudgePrompt",
    "Place",
    "Template",
    "answer_prompt",
    "constant",
    "judge_prompt",
    "prompt_name",
    "EMOTIONS",
    "APIModel",
    "APIModelConfig",
    "AnswerItem",
    "AnswerError",
    "BatchError",
    "BatchStatus",
    "Call",
    "Completion",
    "ConfigError",
    "DataConfig",
    "DataError",
    "Dataset",
    "ImagePart",
    "Judge",
    "Judgment",
    "Message",
    "Metric",
    "Model",
    "ModelRole",
    "Prompt",
    "Recall",
    "RefusalError",
    "Register",
    "RegisterCommand",
    "RegisterPreset",
    "Registration",
    "Response",
    "RoleUsage",
    "RunLog",
    "Sample",
    "SampleRecord",
    "StoredJudging",
    "Strategy",
    "TextOnlyModelError",
    "TextPart",
    "TriggerVerdict",
    "api_key",
    "build",
    "cache_home",
    "cohen_kappa",
    "cpu_threads",
    "evaluate",
    "excerpt",
    "hookimpl",
    "read_image",
    "read_jsonl",
    "read_run",
    "record_from_dict",
    "record_to_dict",
    "register_presets_from",
    "registered",
    "report_throttle",
    "runs_df",
    "stored_judging",
]
