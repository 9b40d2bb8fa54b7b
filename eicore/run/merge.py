"""``eicore merge``: the shards of one run (jobs with ``data.shard=i/n``) into the run directory
an unsharded job of the same config makes, with the same records in the same order and so the
same metrics (bootstrap CIs included)."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from loguru import logger
from omegaconf import DictConfig, OmegaConf

from eicore.datasets.samples import parse_shard, select
from eicore.interfaces import Dataset, Strategy
from eicore.log import Provenance, RoleUsage, RunLog
from eicore.log.directories import RunDirError, load_run
from eicore.log.finish import finish
from eicore.plugins import registry
from eicore.report.summary import flatten
from eicore.run.job import build_metrics
from eicore.run.rescore import stored_records
from eicore.run.settings import config_hash, identity_tree, snapshot
from eicore.run.store import RunStore
from eicore.types import SampleRecord


@dataclass(frozen=True)
class Shard:
    path: Path
    index: int
    count: int
    config: dict[str, Any]
    log: RunLog


def load_shard(path: Path) -> Shard:
    run = load_run(path)
    if run.config is None or run.log is None:
        raise RunDirError(f"{path}: not a finished run directory (needs config.yaml, metrics.json)")
    shard = (run.config.get("data") or {}).get("shard")
    if not shard:
        raise RunDirError(f"{path / 'config.yaml'}: not a shard (data.shard is not set)")
    if (run.config.get("data") or {}).get("limit") is not None:
        raise RunDirError(
            f"{path / 'config.yaml'}: data.limit applies within each shard, so shards with a "
            "limit are no partition of one run; subset with data.emotions or data.ids instead"
        )
    index, count = parse_shard(str(shard))
    return Shard(path, index, count, run.config, run.log)


def _unsharded(config: dict[str, Any]) -> dict[str, Any]:
    return {**config, "data": {**config["data"], "shard": None}}


def check_shards(shards: Sequence[Shard]) -> None:
    """The same config but for data.shard, the same data files, each of ``0/n … n-1/n`` once."""
    first = shards[0]
    expected = flatten(identity_tree(OmegaConf.create(_unsharded(first.config))))
    for shard in shards[1:]:
        given = flatten(identity_tree(OmegaConf.create(_unsharded(shard.config))))
        differing = sorted(
            k for k in expected.keys() | given.keys() if expected.get(k) != given.get(k)
        )
        if differing:
            raise RunDirError(
                f"{shard.path} is not a shard of the same run as {first.path}: "
                + ", ".join(f"{k}={given.get(k)} (not {expected.get(k)})" for k in differing[:5])
            )
        if _data_digests(shard) != _data_digests(first):
            raise RunDirError(f"{shard.path} was run on other data files than {first.path}")
    counts = {s.count for s in shards}
    if len(counts) > 1:
        raise RunDirError(f"shards of different sizes: {sorted(f'/{n}' for n in counts)}")
    count = first.count
    seen: dict[int, Path] = {}
    for shard in shards:
        if shard.index in seen:
            raise RunDirError(
                f"overlapping shards: {shard.index}/{count} is both {seen[shard.index]} and "
                f"{shard.path}"
            )
        seen[shard.index] = shard.path
    missing = [f"{i}/{count}" for i in range(count) if i not in seen]
    if missing:
        raise RunDirError(f"missing shards: {', '.join(missing)} (of {count})")


def _data_digests(shard: Shard) -> dict[str, str]:
    provenance = shard.log.provenance
    files = (provenance.data.get("files") if provenance else None) or {}
    return {name: str(info.get("sha256")) for name, info in files.items()}


def _merged_records(shards: Sequence[Shard], cfg: DictConfig) -> tuple[list[SampleRecord], bool]:
    """The shards' records in the unsharded run's sample order; and whether every sample of
    that run is there."""
    dataset: Dataset = registry().build("dataset", cfg.data)
    samples = select(dataset.load(), dataset.config)
    by_id: dict[str, SampleRecord] = {}
    for shard in sorted(shards, key=lambda s: s.index):
        for record in stored_records(shard.path):
            if record.sample.id in by_id:
                raise RunDirError(f"overlapping shards: sample {record.sample.id!r} is in two")
            by_id[record.sample.id] = record
    unknown = sorted(set(by_id) - {s.id for s in samples})
    if unknown:
        raise RunDirError(f"the shards hold samples the data does not: {unknown[:5]}")
    records = [by_id[s.id] for s in samples if s.id in by_id]
    return records, len(records) == len(samples)


def merge(dirs: Sequence[Path], out: Path | None = None) -> tuple[Path, RunLog]:
    """Merge the shard run directories ``dirs`` into ``out`` (default: beside the first shard,
    named as the unsharded run would be); returns the directory and its log."""
    if not dirs:
        raise RunDirError("give the shard run directories to merge")
    shards = [load_shard(Path(d)) for d in dirs]
    check_shards(shards)
    first = shards[0]
    cfg = OmegaConf.create(_unsharded(first.config))
    digest = config_hash(cfg)
    old = first.log.provenance.config_hash if first.log.provenance else ""
    name = first.path.name
    name = (name[: -len(old)] if old and name.endswith(old) else name + "__") + digest
    OmegaConf.update(cfg, "run.name", name, force_add=True)
    run_dir = out or first.path.parent / name
    records, complete = _merged_records(shards, cfg)
    if not complete:
        logger.warning("some shards are unfinished: the merged run is incomplete")

    store = RunStore(run_dir)
    try:
        store.check_config(digest)
        for record in records:
            store.put(record)
    finally:
        store.close()
    config_text = snapshot(cfg)
    (run_dir / "config.yaml").write_text(config_text, encoding="utf-8")
    strategy: Strategy = registry().build("strategy", cfg.strategy)
    ordered = sorted(shards, key=lambda s: s.index)
    provenance = first.log.provenance or Provenance("", "")
    log = finish(
        run_dir,
        records,
        complete=complete,
        metrics=build_metrics(cfg),
        judges=first.log.judges,
        config=yaml.safe_load(config_text),
        usage=_summed_usage(shards),
        strategy=first.log.strategy,
        provenance=dataclasses.replace(
            provenance,
            config_hash=digest,
            config_sha256=hashlib.sha256(config_text.encode()).hexdigest(),
            merged_from=[str(s.path) for s in ordered],
        ),
        files=strategy.artifacts(records),
    )
    return run_dir, log


def _summed_usage(shards: Sequence[Shard]) -> dict[str, RoleUsage]:
    """Each role's usage over the shards: the calls, tokens and costs each shard's run made."""
    usage: dict[str, RoleUsage] = {}
    for shard in shards:
        for role, used in shard.log.usage.items():
            usage[role] = usage.get(role, RoleUsage()) + used
    return usage
