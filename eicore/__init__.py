"""eicore: evaluate why multimodal models think people feel what they feel (EIBench, CFSA).

The public API for plugin authors: the ``hookimpl`` marker, the records, and the base classes.
"""

from eicore.calls import AnswerError, RefusalError
from eicore.data import DataConfig
from eicore.interfaces import APIModel, Dataset, Judge, Metric, Model, ModelRole, Strategy
from eicore.log import Recall, RoleUsage, RunLog
from eicore.log import read as read_run
from eicore.plugins import hookimpl
from eicore.redact import excerpt
from eicore.threads import cpu_threads
from eicore.types import (
    EMOTIONS,
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
)

__all__ = [
    "EMOTIONS",
    "APIModel",
    "AnswerError",
    "Call",
    "Completion",
    "DataConfig",
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
    "Response",
    "RoleUsage",
    "RunLog",
    "Sample",
    "SampleRecord",
    "Strategy",
    "TextPart",
    "cpu_threads",
    "excerpt",
    "hookimpl",
    "read_run",
]
