"""Helpers shared by eicore's core tests (the fixtures that use them live in ``conftest.py``)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parent
THIRDPARTY = TESTS / "thirdparty"

OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1"}
API_KEYS = ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GOOGLE_API_KEY", "GEMINI_API_KEY")
EICORE_ENV = (
    "EICORE_LOAD_PLUGINS", "EICORE_DATA", "EICORE_CACHE", "ECHO_INTERRUPT_AFTER", "ECHO_HOLD",
)  # fmt: skip
"""Variables that change what eicore does; tests set them explicitly where they need them."""
UNMEASURED = {"COVERAGE_PROCESS_CONFIG": None}
"""``env`` of a command whose Hydra error message is under test: Hydra prints the whole traceback
when a trace function is set (it takes it for a debugger's), and coverage's measuring is one."""

EIBENCH_FILES = ("user.jsonl", "basic_ground_truth.json", "ec_complex.jsonl")


def eibench_path() -> Path:
    """``$EICORE_TEST_DATA``, else ``../shared/eibench`` beside the repository."""
    override = os.environ.get("EICORE_TEST_DATA")
    if override:
        return Path(override).expanduser().resolve()
    return (Path(__file__).resolve().parents[1] / ".." / "shared" / "eibench").resolve()


def pip_install_target(sources: Sequence[Path], target: Path, workdir: Path) -> Path:
    """``pip install --no-deps --target`` from copies of ``sources`` (keeps build/ out of git)."""
    copies = []
    for source in sources:
        copy = workdir / source.name
        shutil.copytree(
            source, copy, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__")
        )
        copies.append(str(copy))
    base = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-deps",
        "--no-input",
        "--target",
        str(target),
    ]
    proc = subprocess.run(
        [*base, "--no-build-isolation", *copies], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:  # no setuptools in this interpreter: let pip build in isolation
        proc = subprocess.run([*base, *copies], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"pip install failed:\n{proc.stdout}\n{proc.stderr}"
    return target


@dataclass
class Result:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return (
            f"eicore {' '.join(self.args)} → exit {self.returncode}\n"
            f"--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}"
        )

    def json(self) -> Any:
        return json.loads(self.stdout)


class CLI:
    """Runs ``eicore`` in a subprocess: the venv's Python, offline, no API keys, its own cache."""

    def __init__(self, pythonpath: Sequence[Path], cache: Path, cwd: Path) -> None:
        self.pythonpath = list(pythonpath)
        self.cache = cache
        self.cwd = cwd

    def env(self, extra: Mapping[str, str | None] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in (*API_KEYS, *EICORE_ENV)}
        env.update(OFFLINE)
        env["EICORE_CACHE"] = str(self.cache)
        inherited = [os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else []
        env["PYTHONPATH"] = os.pathsep.join([*(str(p) for p in self.pythonpath), *inherited])
        env["PYTHONUNBUFFERED"] = "1"
        for key, value in (extra or {}).items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        return env

    def __call__(
        self,
        *args: str,
        env: Mapping[str, str | None] | None = None,
        expect: int | None = 0,
        timeout: float = 120,
    ) -> Result:
        """Run ``eicore *args``; ``expect`` is the exit code to assert (None: don't check)."""
        proc = subprocess.run(
            [sys.executable, "-c", "from eicore_entry import main; main()", *args],
            cwd=self.cwd,
            env=self.env(env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        result = Result(list(args), proc.returncode, proc.stdout, proc.stderr)
        if expect is not None:
            assert result.returncode == expect, str(result)
        return result

    def run(self, *overrides: str, flags: Sequence[str] = (), **kwargs: Any) -> Result:
        """``eicore run [flags] overrides`` without the progress bar (Hydra's flags go first)."""
        return self("run", *flags, *overrides, "run.progress=false", **kwargs)


CHEAP = ("model=echo", "judge=keyword", "metrics=[trigger_recall]")
"""A run that needs no weights: the echo model, the keyword judge, recall only (pinned here so a
heavier default judge or metric never slows the core tests down)."""


def echo_args(eibench_dir: Path, root: Path, *extra: str, model: str = "echo") -> list[str]:
    """Overrides of a cheap run on the shared EIBench files, under ``root``."""
    cheap = [f"model={model}" if a.startswith("model=") else a for a in CHEAP]
    return [*cheap, f"data.root={eibench_dir}", f"run.root={root}", *extra]


def only_run_dir(root: Path) -> Path:
    """The single run directory under ``root`` (the default run name carries a config hash)."""
    dirs = sorted(p for p in root.iterdir() if p.is_dir()) if root.exists() else []
    assert len(dirs) == 1, f"expected one run directory in {root}, found {dirs}"
    return dirs[0]


def read_jsonl(path: Path) -> list[Any]:
    return [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


_WORD = re.compile(r"[A-Za-z]+")


def key_words(text: str, min_length: int = 5) -> set[str]:
    """The test's own statement of the keyword judge's rule (an oracle apart from the plugin)."""
    return {w.lower() for w in _WORD.findall(text) if len(w) >= min_length}


def keyword_recalled(answer: str, triggers: Sequence[str]) -> list[int]:
    said = key_words(answer)
    return [i for i, t in enumerate(triggers) if said & key_words(t)]


def fragments(secret: str, size: int = 8) -> set[str]:
    """Every piece of ``size`` consecutive characters of ``secret``."""
    return {secret[i : i + size] for i in range(len(secret) - size + 1)}


def leaks(secret: str, *folders: Path, texts: tuple[str, ...] = ()) -> list[str]:
    """Files under ``folders`` and texts holding any 8 consecutive characters of ``secret``."""
    parts = fragments(secret)
    found = [
        str(p)
        for folder in folders
        for p in folder.rglob("*")
        if p.is_file() and any(f.encode() in p.read_bytes() for f in parts)
    ]
    return found + [t[:80] for t in texts if any(f in t for f in parts)]
