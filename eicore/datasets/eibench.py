"""The built-in ``eibench`` dataset: EIBench's basic and complex splits, or files of the same shape.

Files come from ``data.root`` (or ``$EICORE_DATA``), from explicit paths for custom data, or are
downloaded once from the public repository at a pinned commit, verified by sha256 and cached.
"""

from __future__ import annotations

import hashlib
import os
import urllib.request
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from loguru import logger

from eicore.datasets.samples import DataConfig, DataError, load_basic, load_complex
from eicore.hookspecs import Register, RegisterPreset
from eicore.interfaces import Dataset
from eicore.plugins import hookimpl, register_presets_from
from eicore.run.store import cache_home
from eicore.types import Sample

COMMIT = "aff98d088367e60ac412905dd534f0cf062386b7"
SOURCE = f"https://raw.githubusercontent.com/Lum1104/EIBench/{COMMIT}/EIBench"
FILES = {
    "user.jsonl": (
        "EI_Basic/user.jsonl",
        "04cb1145f124e261c0146470316f2d91e03fe7f87169f51396363eec3347b76b",
    ),
    "basic_ground_truth.json": (
        "EI_Basic/basic_ground_truth.json",
        "17ba97385a6de152e8ed432b8a38eb899c970a10431a4f33ec3fa1a8c6478f8b",
    ),
    "ec_complex.jsonl": (
        "EI_Complex/ec_complex.jsonl",
        "09eccd5112de2c03c191196ab8481ed072c0b7b7b133bea273ecdf2751d94d42",
    ),
}
"""Local file name → (path in the repository, sha256)."""
SPLIT_FILES = {"basic": ("user.jsonl", "basic_ground_truth.json"), "complex": ("ec_complex.jsonl",)}


@dataclass
class EIBenchConfig(DataConfig):
    split: str = "basic"
    root: str | None = None
    """Folder holding user.jsonl, basic_ground_truth.json, ec_complex.jsonl (default
    $EICORE_DATA)."""
    questions: str | None = None
    """Custom basic-shaped questions file (``{image: question}`` per line); overrides root."""
    ground_truth: str | None = None
    """Custom basic-shaped ground truth (``{image: "1. ...\\n2. ..."}``); overrides root."""
    complex: str | None = None
    """Custom complex-shaped file (``{image: {question: triggers}}`` per line); overrides root."""
    source_url: str = SOURCE
    """Where the pinned files are downloaded from when no local folder is given."""


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def download(name: str, source_url: str, folder: Path) -> Path:
    """Fetch one pinned file into ``folder`` unless a verified copy is there already."""
    remote, digest = FILES[name]
    target = folder / name
    if target.exists() and sha256_of(target) == digest:
        return target
    folder.mkdir(parents=True, exist_ok=True)
    url = f"{source_url.rstrip('/')}/{remote}"
    logger.info("downloading {} from {}", name, url)
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            data = response.read()
    except OSError as exc:
        raise DataError(
            f"could not download {url}: {exc}; set data.root (or $EICORE_DATA) to a folder "
            "holding the EIBench files"
        ) from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != digest:
        raise DataError(f"{url}: sha256 {actual} does not match the pinned {digest}; not used")
    partial = target.with_suffix(target.suffix + ".part")
    partial.write_bytes(data)
    partial.replace(target)
    return target


class EIBench(Dataset):
    config: EIBenchConfig

    def __init__(self, config: EIBenchConfig) -> None:
        if config.split not in SPLIT_FILES:
            raise DataError(f"data.split={config.split!r}: expected one of {sorted(SPLIT_FILES)}")
        self.config = config

    def files(self) -> list[Path]:
        """The split's files: explicit paths, else the root folder, else the verified download."""
        c = self.config
        names = ["questions", "ground_truth"] if c.split == "basic" else ["complex"]
        explicit = [getattr(c, n) for n in names]
        if any(explicit):
            if not all(explicit):
                raise DataError("custom basic data needs both data.questions and data.ground_truth")
            paths = [Path(p).expanduser() for p in explicit if p]
            settings = [f"data.{n}" for n in names]
        else:
            root = c.root or os.environ.get("EICORE_DATA")
            if root:
                paths = [Path(root).expanduser() / name for name in SPLIT_FILES[c.split]]
            else:
                folder = cache_home() / "eibench" / COMMIT[:7]
                paths = [download(n, c.source_url, folder) for n in SPLIT_FILES[c.split]]
            settings = ["data.root or $EICORE_DATA"] * len(paths)
        for path, setting in zip(paths, settings, strict=True):
            if not path.is_file():
                what = "is a folder" if path.is_dir() else "not found"
                raise DataError(f"data file {what}: {path} (check {setting})")
        return paths

    def load(self) -> list[Sample]:
        paths = self.files()
        if self.config.split == "basic":
            return load_basic(paths[0], paths[1])
        return load_complex(paths[0])

    def provenance(self) -> dict[str, Any]:
        files = {}
        for path in self.files():
            digest = sha256_of(path)
            pinned = FILES.get(path.name, ("", ""))[1] == digest
            files[path.name] = {"path": str(path), "sha256": digest, "eibench_release": pinned}
        return {"dataset": "eibench", "split": self.config.split, "commit": COMMIT, "files": files}


@hookimpl
def eicore_register_datasets(register: Register) -> None:
    register("eibench", EIBench, EIBenchConfig)


@hookimpl
def eicore_register_presets(register: RegisterPreset) -> None:
    """``data=basic|complex`` and one emotion of the basic split (``data=angry``...)."""
    register_presets_from(register, resources.files("eicore.datasets") / "presets.yaml")
