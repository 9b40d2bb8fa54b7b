"""The typed run log: one shape for what a run produced, one writer, one reader."""

from eicore.log.files import read, write
from eicore.log.schema import (
    SCHEMA_VERSION,
    Completeness,
    Provenance,
    Recall,
    RoleUsage,
    RunLog,
    RunLogError,
    usage_of,
)

__all__ = [
    "SCHEMA_VERSION",
    "Completeness",
    "Provenance",
    "Recall",
    "RoleUsage",
    "RunLog",
    "RunLogError",
    "read",
    "usage_of",
    "write",
]
