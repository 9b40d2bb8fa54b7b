"""Helpers for tests that run eicore end to end: EIBench data, synthetic images, ``eicore run``
in a subprocess with its own cache and run root, a run directory's files, and secret scans."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

API_KEY_VARIABLES = ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GOOGLE_API_KEY", "GEMINI_API_KEY")
"""The real providers' key variables: tests of keyless behaviour must not see them."""

OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def keyless_and_offline() -> None:
    """Unset the real providers' keys and keep the Hugging Face hub offline, in this process."""
    for name in API_KEY_VARIABLES:
        os.environ.pop(name, None)
    os.environ.update(OFFLINE)


def eibench_data(repo: Path) -> Path:
    """EIBench's annotations: ``$EICORE_TEST_DATA``, else ``../shared/eibench`` beside ``repo``.

    ``repo`` may also be a folder inside the repository: the nearest ancestor with the data wins.
    """
    override = os.environ.get("EICORE_TEST_DATA")
    if override:
        return Path(override)
    for folder in (repo, *repo.parents):
        if has_eibench(folder.parent / "shared" / "eibench"):
            return folder.parent / "shared" / "eibench"
    return repo.parent / "shared" / "eibench"


def has_eibench(path: Path) -> bool:
    return (path / "user.jsonl").is_file()


def eibench_questions(eibench: Path, limit: int) -> dict[str, str]:
    """``{image path: question}`` of EIBench's first ``limit`` samples, in order."""
    lines = (eibench / "user.jsonl").read_text().splitlines()[:limit]
    return {k: v for line in lines for k, v in json.loads(line).items()}


def synthetic_images(
    eibench: Path, root: Path, limit: int = 4, jpeg: Iterable[int] = (1,)
) -> dict[str, str]:
    """Small images under ``root`` at the paths of EIBench's first ``limit`` samples.

    Those whose index is in ``jpeg`` are JPEGs under their (``.png``) names, the rest PNGs.
    Returns ``{image path: media type of its bytes}``.
    """
    from PIL import Image

    jpeg = set(jpeg)
    media_types = {}
    for i, relative in enumerate(eibench_questions(eibench, limit)):
        fmt = "JPEG" if i in jpeg else "PNG"
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (16, 12), (60 * i, 90, 160)).save(root / relative, format=fmt)
        media_types[relative] = f"image/{fmt.lower()}"
    return media_types


def run_eicore(
    *overrides: str,
    folder: Path,
    env: dict[str, str],
    timeout: float = 180,
    command: tuple[str, ...] = ("run",),
) -> subprocess.CompletedProcess[str]:
    """``eicore run`` in a subprocess, as a user would run it, with cache and runs in ``folder``.

    No ``EICORE_*`` variable of this process reaches it; ``env`` adds variables (an API key).
    ``command``: another command and its arguments before the overrides (``("score", run)``).
    """
    line, environment = _eicore_run(overrides, folder, env, command)
    return subprocess.run(
        line, cwd=folder, env=environment, capture_output=True, text=True, timeout=timeout,
        check=False,
    )  # fmt: skip


def start_eicore(*overrides: str, folder: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    """``eicore run`` as :func:`run_eicore` runs it, started and left running (for a test that
    interrupts or kills it); its output is piped."""
    command, environment = _eicore_run(overrides, folder, env)
    return subprocess.Popen(
        command, cwd=folder, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip


def _eicore_run(
    overrides: tuple[str, ...],
    folder: Path,
    env: dict[str, str],
    command: tuple[str, ...] = ("run",),
) -> tuple[list[str], dict[str, str]]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("EICORE_")}
    line = [sys.executable, "-c", "from eicore.commands.cli import main; main()", *command,
            *overrides, f"run.root={folder / 'runs'}", "run.progress=false"]  # fmt: skip
    return line, {**base, "EICORE_CACHE": str(folder / "cache"), **env}


def read_jsonl(path: Path) -> list[Any]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())


def files_holding(secret: str, *folders: Path) -> list[str]:
    """The files under ``folders`` whose bytes contain ``secret``."""
    return [
        str(p) for folder in folders for p in folder.rglob("*")
        if p.is_file() and secret.encode() in p.read_bytes()
    ]  # fmt: skip


def png_named_jpg(folder: Path) -> Path:
    """``folder/photo.jpg``: a small PNG under a JPEG name (its bytes, not its name, say PNG)."""
    from PIL import Image

    path = folder / "photo.jpg"
    Image.new("RGB", (16, 12), (200, 40, 40)).save(path, format="PNG")
    return path
