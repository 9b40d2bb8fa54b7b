"""Keeping secrets out of logs, records and config snapshots."""

from __future__ import annotations

import os
import re
from typing import Any

SECRET_ENV = re.compile(r"(API_KEY|_TOKEN|SECRET|PASSWORD)", re.IGNORECASE)
SECRET_FIELD = re.compile(r"(api_key|token|secret|password)$", re.IGNORECASE)
SECRET_OVERRIDE = re.compile(r"([^=\s,]*(api_key|token|secret|password))=[^,\s]+", re.IGNORECASE)
"""A command-line override setting a secret-named field, as Hydra records it (also comma-joined)."""
MASK = "***"


def secret_values() -> list[str]:
    """Values of environment variables whose names mark them as secrets, longest first."""
    values = {v for k, v in os.environ.items() if SECRET_ENV.search(k) and len(v) >= 8}
    return sorted(values, key=len, reverse=True)


def redact(text: str) -> str:
    """``text`` with every secret value from the environment masked."""
    for value in secret_values():
        text = text.replace(value, MASK)
    return text


def redact_tree(data: Any) -> Any:
    """A JSON-like tree with secret-named fields masked and secret values scrubbed from strings."""
    if isinstance(data, dict):
        return {
            k: MASK if SECRET_FIELD.search(str(k)) and isinstance(v, str) and v else redact_tree(v)
            for k, v in data.items()
        }
    if isinstance(data, list):
        return [redact_tree(v) for v in data]
    if isinstance(data, str):
        return SECRET_OVERRIDE.sub(rf"\1={MASK}", redact(data))
    return data
