"""What a run was made with, recorded in its metrics.json: versions, the checkout's git revision,
data digests, judge ids and prompt hashes, seeds, config hashes and the Hydra choices."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from eicore.interfaces import Dataset, Metric
from eicore.plugins import registry
from eicore.run.settings import config_hash, snapshot

CHOICE_GROUPS = ("model", "strategy", "data", "judge", "experiment")
"""Hydra config groups whose chosen names label a run in summaries (``model=gpt-4o``…)."""


def _git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10, check=True
    ).stdout.strip()


def git_revision(root: Path | None = None) -> dict[str, Any] | None:
    """``{"commit", "dirty"}`` of the git checkout eicore is imported from; None when eicore
    is installed from a wheel (or git is unavailable)."""
    root = root or Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return None
    try:
        commit = _git(root, "rev-parse", "HEAD")
        dirty = bool(_git(root, "status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": dirty}


def digest(value: Any) -> str:
    """sha256 of a JSON value (keys sorted): a stable id of settings."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def judge_ids(described: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each judge's name, an id (digest of everything it records about itself: plugin, model,
    settings) and the hash of its prompt template (None for a judge without a prompt)."""
    return [
        {
            "name": d["name"],
            "id": f"{d.get('plugin', d['name'])}:{digest(d)[:12]}",
            "prompt_sha256": d.get("prompt_template_sha256"),
        }
        for d in described
    ]


def seeds(cfg: DictConfig, metrics: Sequence[Metric]) -> dict[str, Any]:
    """Every ``seed`` the run used, by dotted path: the config's (models, judges' models) and
    each metric's (bootstrap)."""
    found: dict[str, Any] = {}

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                where = f"{path}.{key}" if path else str(key)
                if key == "seed" and value is not None:
                    found[where] = value
                walk(value, where)
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{path}[{i}]")

    tree = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(tree, dict)
    walk({k: v for k, v in tree.items() if k not in ("hydra", "run")}, "")
    for metric in metrics:
        seed = getattr(metric.config, "seed", None)
        if seed is not None:
            found[f"metrics.{getattr(metric.config, 'plugin', type(metric).__name__)}.seed"] = seed
    return found


def hydra_choices() -> dict[str, str]:
    """The config-group names Hydra composed this job from (``model``: ``gpt-4o``…); empty
    outside Hydra."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return {}
    choices = HydraConfig.get().runtime.choices
    return {g: str(choices[g]) for g in CHOICE_GROUPS if choices.get(g) is not None}


def run_provenance(
    cfg: DictConfig, dataset: Dataset, judges: Sequence[dict[str, Any]], metrics: Sequence[Metric]
) -> dict[str, Any]:
    """The ``provenance`` block of metrics.json; ``judges`` as :func:`describe_judges` gives."""
    reg = registry()
    return {
        "eicore": importlib.metadata.version("eicore"),
        "plugins": {p.distribution: p.version for p in reg.plugins.values() if not p.error},
        "git": git_revision(),
        "config_hash": config_hash(cfg),
        "config_sha256": hashlib.sha256(snapshot(cfg).encode()).hexdigest(),
        "choices": hydra_choices(),
        "data": dataset.provenance(),
        "judges": judge_ids(judges),
        "seeds": seeds(cfg, metrics),
    }
