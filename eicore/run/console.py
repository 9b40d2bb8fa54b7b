"""Where log lines go: the console and the run directory, with secrets masked."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from loguru import logger

from eicore.secrets.masking import redact


def _mask(record: Any) -> None:
    record["message"] = redact(record["message"])


def configure(run_dir: Path | None = None, level: str = "INFO") -> None:
    """Log to stderr, and to ``run_dir/run.log`` when given."""
    logger.remove()
    logger.configure(patcher=_mask)
    logger.add(
        sys.stderr,
        level=level,
        format="<green>{time:HH:mm:ss}</green> <level>{level: <7}</level> {message}",
    )
    if run_dir is not None:
        logger.add(run_dir / "run.log", level="DEBUG", encoding="utf-8", enqueue=False)
