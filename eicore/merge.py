"""``eicore merge``: the shards of one run (jobs with ``data.shard=i/n``) into the run directory
an unsharded job of the same config makes, with the same records in the same order and so the
same metrics (bootstrap CIs included)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loguru import logger
from omegaconf import DictConfig, OmegaConf

from eicore.config import config_hash, identity_tree, snapshot
from eicore.data import parse_shard, select
from eicore.evaluation import build_metrics
from eicore.interfaces import Dataset, Strategy
from eicore.judgments import judgment_files
from eicore.outputs import run_counts, write_run
from eicore.plugins import registry
from eicore.rundirs import RunDirError, load_run
from eicore.scoring import stored_records
from eicore.store import RunStore
from eicore.summary import flatten
from eicore.types import SampleRecord


@dataclass(frozen=True)
class Shard:
    path: Path
    index: int
    count: int
    config: dict[str, Any]
    metrics: dict[str, Any]


def load_shard(path: Path) -> Shard:
    run = load_run(path)
    if run.config is None or run.metrics is None:
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
    return Shard(path, index, count, run.config, run.metrics)


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
    files = ((shard.metrics.get("provenance") or {}).get("data") or {}).get("files") or {}
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


def merge(dirs: Sequence[Path], out: Path | None = None) -> tuple[Path, dict[str, Any]]:
    """Merge the shard run directories ``dirs`` into ``out`` (default: beside the first shard,
    named as the unsharded run would be); returns the directory and its metrics."""
    if not dirs:
        raise RunDirError("give the shard run directories to merge")
    shards = [load_shard(Path(d)) for d in dirs]
    check_shards(shards)
    first = shards[0]
    cfg = OmegaConf.create(_unsharded(first.config))
    digest = config_hash(cfg)
    old = str(first.metrics.get("provenance", {}).get("config_hash", ""))
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
    (run_dir / "config.yaml").write_text(snapshot(cfg), encoding="utf-8")
    result = _metrics(shards, cfg, records, complete, digest)
    strategy: Strategy = registry().build("strategy", cfg.strategy)
    write_run(run_dir, records, result, {**strategy.artifacts(records), **judgment_files(records)})
    return run_dir, result


def _metrics(
    shards: Sequence[Shard],
    cfg: DictConfig,
    records: Sequence[SampleRecord],
    complete: bool,
    digest: str,
) -> dict[str, Any]:
    """metrics.json of the merged run: counts and metrics over its records, the shards' costs
    summed, the first shard's provenance with the merged config's hashes."""
    first = shards[0].metrics
    result: dict[str, Any] = {"complete": complete, **run_counts(records)}
    costs = [s.metrics["cost_usd"] for s in shards if "cost_usd" in s.metrics]
    if costs:
        result["cost_usd"] = {
            "estimated": round(sum(c["estimated"] for c in costs), 6),
            "calls_priced": sum(c["calls_priced"] for c in costs),
            "calls_unpriced": sum(c["calls_unpriced"] for c in costs),
        }
    for metric in build_metrics(cfg):
        result.update(metric.compute(records))
    result["strategy"] = first.get("strategy")
    result["judges"] = first.get("judges")
    result["provenance"] = {
        **(first.get("provenance") or {}),
        "config_hash": digest,
        "config_sha256": hashlib.sha256(snapshot(cfg).encode()).hexdigest(),
        "merged_from": [str(s.path) for s in sorted(shards, key=lambda s: s.index)],
    }
    return result
