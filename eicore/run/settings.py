"""The run's own settings, the config hash that names a run, and the redacted snapshot."""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from eicore.interfaces import RUNTIME_FIELDS
from eicore.secrets.masking import SECRET_FIELD, redact_tree

IDENTITY_KEYS = ("data", "model", "roles", "strategy", "judge", "judges", "metrics")
"""The parts of a config that decide a run's results (``run.*`` only decides how it runs)."""
TOP_LEVEL_KEYS = (*IDENTITY_KEYS, "metric_options", "paper", "run", "hydra")
"""Every top-level key a composed config may hold: any other (``+modle=openai``) is a typo that
nothing would read."""
LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL")


@dataclass
class RunSettings:
    """``run.*``: how a run runs and where it is written; none of it changes results."""

    name: str = "default"
    """The run directory's name under ``root``; the default names model, strategy, split and
    config hash, so the same command resumes the same run."""
    root: str = "runs"
    """Folder of run directories (multiruns go to ``<root>/sweeps``)."""
    concurrency: int = 8
    """Samples in flight at once; ``auto``: ``max_concurrency`` samples, and each API model's
    calls in flight found by AIMD (:mod:`eicore.run.concurrency`)."""
    max_concurrency: int = 64
    """``concurrency=auto``: the most samples, and calls to one model, in flight."""
    auto_concurrency: bool = False
    """Set by ``concurrency=auto``."""
    threads: int | None = None
    """CPU threads for torch and BLAS/OpenMP pools; None: the CPUs this process may use
    (affinity, cgroup quota, ``SLURM_CPUS_PER_TASK``; :mod:`eicore.run.threads`)."""
    cache: bool = True
    """Reuse identical model calls from the shared call cache."""
    cache_dir: str | None = None
    """Where the call cache lives; default ``$EICORE_CACHE`` or the user cache folder."""
    progress: bool = True
    """Show a progress bar on stderr."""
    log_level: str = "INFO"
    """Loguru level for the console and the run's eicore.log."""

    @property
    def adaptive(self) -> int | None:
        """The adaptive limit's ceiling under ``concurrency=auto``, else None."""
        return self.max_concurrency if self.auto_concurrency else None


class ConfigError(ValueError):
    """A configuration that cannot run; raised before any model call.

    Plugins raise it (``from eicore import ConfigError``) for a setting they cannot use, with a
    message naming the setting and what to give instead: the command prints that one line and
    exits with status 2, no traceback.
    """


def did_you_mean(word: str, options: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the option closest to ``word``, or ``""``."""
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_top_level(cfg: DictConfig) -> None:
    """Refuse a top-level key no part of eicore reads (it would be silently ignored)."""
    unknown = [str(k) for k in cfg if k not in TOP_LEVEL_KEYS]
    if unknown:
        key = unknown[0]
        raise ConfigError(
            f"unknown setting {key!r}{did_you_mean(key, TOP_LEVEL_KEYS)}: the top-level "
            f"settings are {', '.join(TOP_LEVEL_KEYS[:-1])}"
        )


def run_settings(cfg: DictConfig) -> RunSettings:
    """``cfg.run`` checked against :class:`RunSettings` (unknown keys and bad types fail here)."""
    try:
        given = OmegaConf.to_container(cfg.run, resolve=True) if "run" in cfg else {}
        assert isinstance(given, dict)
        if given.get("concurrency") == "auto":
            given["concurrency"] = given.get("max_concurrency", RunSettings.max_concurrency)
            given["auto_concurrency"] = True
        merged = OmegaConf.merge(OmegaConf.structured(RunSettings), given)
        settings = OmegaConf.to_object(merged)
    except OmegaConfBaseException as exc:
        raise ConfigError(f"run: {exc}") from None
    assert isinstance(settings, RunSettings)
    if settings.concurrency < 1:
        raise ConfigError(
            f"run.concurrency must be at least 1 (or auto), got {settings.concurrency}"
        )
    if settings.max_concurrency < 1:
        raise ConfigError(f"run.max_concurrency must be at least 1, got {settings.max_concurrency}")
    if settings.threads is not None and settings.threads < 1:
        raise ConfigError(f"run.threads must be at least 1 (or null), got {settings.threads}")
    level = settings.log_level.upper()
    if level not in LOG_LEVELS:
        raise ConfigError(
            f"run.log_level={settings.log_level!r}{did_you_mean(level, LOG_LEVELS)}: "
            f"expected one of {', '.join(LOG_LEVELS)}"
        )
    settings.log_level = level
    return settings


def _drop_runtime(tree: Any) -> Any:
    """The tree without fields that change how a run goes (or who pays), not its results."""
    if isinstance(tree, dict):
        return {
            k: _drop_runtime(v)
            for k, v in tree.items()
            if k not in RUNTIME_FIELDS - {"plugin"} and not SECRET_FIELD.search(str(k))
        }
    if isinstance(tree, list):
        return [_drop_runtime(v) for v in tree]
    return tree


def identity_tree(cfg: DictConfig) -> dict[str, Any]:
    """The result-deciding parts of a config (:data:`IDENTITY_KEYS`), runtime fields and
    secrets left out."""
    tree = {k: OmegaConf.to_container(cfg[k], resolve=True) for k in IDENTITY_KEYS if k in cfg}
    identity: dict[str, Any] = _drop_runtime(tree)
    return identity


def config_hash(cfg: DictConfig) -> str:
    """A digest of the result-deciding parts of a config; equal configs resume the same run."""
    payload = json.dumps(identity_tree(cfg), sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:10]


def _hash_resolver(*, _root_: DictConfig) -> str:
    return config_hash(_root_)


def register_resolvers() -> None:
    """``${eicore.config_hash:}``: used in the default run name."""
    if not OmegaConf.has_resolver("eicore.config_hash"):
        OmegaConf.register_new_resolver("eicore.config_hash", _hash_resolver)


def snapshot(cfg: DictConfig) -> str:
    """The composed config as YAML, Hydra's own node left out and secrets masked."""
    tree = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(tree, dict)
    tree.pop("hydra", None)
    return OmegaConf.to_yaml(OmegaConf.create(redact_tree(tree)))
