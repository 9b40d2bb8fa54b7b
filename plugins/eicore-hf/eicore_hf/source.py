"""Where a model's files are — a local folder or a hub id — checked and classified without
loading weights: a missing, truncated or unreachable model fails here, before any sample runs."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eicore import ConfigError
from eicore_hf.config import HFConfig

WEIGHT_SUFFIXES = (".safetensors", ".bin")
SAMPLE_BYTES = 1 << 20
"""A file larger than two of these is fingerprinted by its size and first and last MiB."""


class ModelSourceError(ConfigError):
    """A model folder that is missing or corrupt, or a hub id that cannot be resolved."""


@dataclass(frozen=True)
class ModelSource:
    """A model located and classified: what to pass to ``from_pretrained``, and what it is."""

    location: str
    """The local folder, or the hub id."""
    revision: str | None
    """For a hub id, the commit ``model.revision`` resolved to."""
    kind: str
    """``vision`` or ``text``."""
    fingerprint: str
    """Identifies the files: a digest of a local folder, or ``hub:<commit>``."""
    local: bool

    def __str__(self) -> str:
        if self.local:
            return self.location
        return f"{self.location}@{self.revision}" if self.revision else self.location


def locate(config: HFConfig) -> ModelSource:
    """Resolve ``config.path`` and read its config; raises :class:`ModelSourceError`."""
    assert config.path
    folder = Path(config.path).expanduser()
    if folder.is_dir():
        check_folder(folder)
        model_config = _read_config(str(folder), None, config.trust_remote_code, f"{folder}")
        kind = config.kind if config.kind != "auto" else detect_kind(model_config, str(folder))
        return ModelSource(str(folder), None, kind, folder_fingerprint(folder), local=True)
    if folder.exists():
        raise ModelSourceError(f"model.path={config.path} is a file, not a model folder")
    if folder.is_absolute() or config.path.startswith((".", "~")):
        raise ModelSourceError(f"model folder not found: {config.path} (model.path)")
    commit = _resolve_hub(config.path, config.revision)
    model_config = _read_config(config.path, commit, config.trust_remote_code, config.path)
    kind = config.kind if config.kind != "auto" else detect_kind(model_config, config.path)
    return ModelSource(config.path, commit, kind, f"hub:{commit}", local=False)


def check_folder(folder: Path) -> None:
    """A readable config.json and complete weights (safetensors headers checked against sizes)."""
    config = folder / "config.json"
    if not config.is_file():
        raise ModelSourceError(f"{folder} is not a model folder: it has no config.json")
    read_json(config)
    for index in folder.glob("*.index.json"):
        shards = set(read_json(index).get("weight_map", {}).values())
        missing = sorted(s for s in shards if not (folder / s).is_file())
        if missing:
            raise ModelSourceError(
                f"{folder} is incomplete: {index.name} lists missing files {missing}"
            )
    weights = weight_files(folder)
    if not weights:
        raise ModelSourceError(f"{folder} has no weights (no *.safetensors or *.bin file)")
    for path in weights:
        if path.suffix == ".safetensors":
            check_safetensors(path)


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelSourceError(
            f"{path} is corrupt (not valid JSON: {exc}); copy the model folder again"
        ) from None


def weight_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix in WEIGHT_SUFFIXES and p.is_file())


def check_safetensors(path: Path) -> None:
    """The file is exactly as long as its header says (catches interrupted downloads)."""
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(8)
        length = int.from_bytes(head, "little") if len(head) == 8 else -1
        if not 0 < length <= size - 8:
            raise ModelSourceError(f"{path} is corrupt: no safetensors header; copy it again")
        try:
            header = json.loads(f.read(length))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ModelSourceError(f"{path} is corrupt: unreadable safetensors header") from None
    data = max((t["data_offsets"][1] for k, t in header.items() if k != "__metadata__"), default=0)
    if 8 + length + data != size:
        raise ModelSourceError(
            f"{path} is truncated or corrupt: {size} bytes, its header describes "
            f"{8 + length + data}; copy it again"
        )


def folder_fingerprint(folder: Path) -> str:
    """A digest of every file's name, size and content (first and last MiB of large files)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and ".cache" not in p.parts):
        size = path.stat().st_size
        digest.update(f"{path.relative_to(folder)}\0{size}\0".encode())
        with path.open("rb") as f:
            if size <= 2 * SAMPLE_BYTES:
                digest.update(f.read())
            else:
                digest.update(f.read(SAMPLE_BYTES))
                f.seek(size - SAMPLE_BYTES)
                digest.update(f.read())
    return digest.hexdigest()


def _resolve_hub(repo_id: str, revision: str | None) -> str:
    """The commit ``revision`` of ``repo_id`` resolves to (from the local cache when offline)."""
    from huggingface_hub import hf_hub_download

    try:
        config_file = hf_hub_download(repo_id, "config.json", revision=revision)
    except Exception as exc:
        offline = "HF_HUB_OFFLINE is set, so " if os.environ.get("HF_HUB_OFFLINE") else ""
        where = f"{repo_id}@{revision}" if revision else repo_id
        raise ModelSourceError(
            f"model.path={repo_id!r} is not a local folder and {offline}the Hugging Face hub could "
            f"not provide {where} ({type(exc).__name__}: {_first_line(exc)}). Download it where "
            f"there is network (`hf download {repo_id} --local-dir <folder>`) and pass "
            "model.path=<folder>"
        ) from None
    return Path(config_file).parent.name


def _read_config(location: str, revision: str | None, trust_remote_code: bool, where: str) -> Any:
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(
            location, revision=revision, trust_remote_code=trust_remote_code
        )
    except Exception as exc:
        raise ModelSourceError(
            f"cannot read the model config of {where}: {type(exc).__name__}: {_first_line(exc)}"
        ) from None


def detect_kind(model_config: Any, where: str) -> str:
    """``vision`` for an image-text-to-text architecture, ``text`` for a causal LM."""
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES,
    )

    model_type = getattr(model_config, "model_type", None)
    auto_map = getattr(model_config, "auto_map", None) or {}
    if (
        model_type in MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES
        or "AutoModelForImageTextToText" in auto_map
    ):
        return "vision"
    if model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES or "AutoModelForCausalLM" in auto_map:
        return "text"
    raise ModelSourceError(
        f"{where}: model_type {model_type!r} is neither an image-text-to-text model nor a causal "
        "LM that transformers knows; set model.kind=vision or model.kind=text"
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else "no message"
