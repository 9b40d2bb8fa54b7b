"""One evaluation job: build the components a config names, run them, write the run directory."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from loguru import logger
from omegaconf import DictConfig, OmegaConf

from eicore import logs, report
from eicore.calls import ModelClient, RoleHandle
from eicore.config import (
    ConfigError,
    RunSettings,
    check_top_level,
    config_hash,
    run_settings,
    snapshot,
)
from eicore.data import report_defects, select
from eicore.interfaces import Dataset, Metric, Strategy
from eicore.judging import build_judges, describe_judges
from eicore.judgments import judgment_files
from eicore.outputs import run_counts, write_run
from eicore.plugins import registry
from eicore.provenance import run_provenance
from eicore.redact import redact_tree
from eicore.runner import Components, Progress, run_samples
from eicore.store import CallCache, RunStore, cache_home
from eicore.types import Call, Sample


def run_dir_of(cfg: DictConfig) -> Path:
    """Hydra's output folder for this job when Hydra runs it, else ``run.root/run.name``."""
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        return Path(HydraConfig.get().runtime.output_dir)
    settings = run_settings(cfg)
    return Path(settings.root) / settings.name


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    """Run (or resume) the job ``cfg`` describes; returns its metrics."""
    check_top_level(cfg)
    settings = run_settings(cfg)
    logs.configure(None, settings.log_level)
    started = time.perf_counter()
    reg = registry()

    dataset: Dataset = reg.build("dataset", cfg.data)
    samples = select(dataset.load(), dataset.config)
    report_defects(samples)
    strategy: Strategy = reg.build("strategy", cfg.strategy)
    metrics = build_metrics(cfg)
    with contextlib.ExitStack() as closing:
        cache = open_call_cache(settings, closing)
        judges = build_judges(cfg, cache)
        clients = _clients(cfg, strategy, cache)
        image_root = dataset.config.image_root
        roles = {role: RoleHandle(client, role, []) for role, client in clients.items()}
        if strategy.needs_image(roles) and not image_root:
            seeing = [role for role, client in clients.items() if client.accepts_images]
            raise ConfigError(
                f"the {'/'.join(seeing)} model accepts images but data.image_root is not set: "
                "set it to the folder holding the images"
            )
        run_dir = run_dir_of(cfg)
        store = RunStore(run_dir)
        closing.callback(store.close)
        store.check_config(config_hash(cfg))
        logs.configure(run_dir, settings.log_level)
        closing.callback(logs.configure, None, settings.log_level)
        (run_dir / "config.yaml").write_text(snapshot(cfg), encoding="utf-8")
        logger.info("run {}: {} samples → {}", settings.name, len(samples), run_dir)
        parts = Components(strategy, clients, judges, image_root)
        progress = Progress(total=len(samples))
        try:
            asyncio.run(_run_and_close(samples, parts, store, settings, progress))
        finally:
            stored = store.records()
            records = [stored[s.id] for s in samples if s.id in stored]
            counts = run_counts(records, _call_cost(clients))
            result: dict[str, Any] = {"complete": len(records) == len(samples), **counts}
            for metric in metrics:
                result.update(metric.compute(records))
            result["strategy"] = redact_tree(strategy.describe())
            result["judges"] = describe_judges(judges)
            result["provenance"] = run_provenance(cfg, dataset, result["judges"], metrics)
            files = {**strategy.artifacts(records), **judgment_files(records)}
            write_run(run_dir, records, result, files)
            _summarise(cfg, result, progress, clients, time.perf_counter() - started)
    return result


async def _run_and_close(
    samples: list[Sample],
    parts: Components,
    store: RunStore,
    settings: RunSettings,
    progress: Progress,
) -> None:
    try:
        await run_samples(samples, parts, store, settings.concurrency, progress, settings.progress)
    finally:
        for client in {id(c): c for c in parts.clients.values()}.values():
            await client.aclose()
        for judge in parts.judges:
            await judge.aclose()


def open_call_cache(settings: RunSettings, closing: contextlib.ExitStack) -> CallCache | None:
    """The shared call cache unless ``run.cache=false``; closed when ``closing`` exits."""
    if not settings.cache:
        return None
    cache = CallCache(Path(settings.cache_dir or cache_home()) / "calls.sqlite")
    closing.callback(cache.close)
    return cache


def _clients(
    cfg: DictConfig, strategy: Strategy, cache: CallCache | None
) -> dict[str, ModelClient]:
    """One client per distinct model config; roles without their own config use ``model``."""
    reg = registry()
    roles = cfg.get("roles") or {}
    by_config: dict[str, ModelClient] = {}
    clients = {}
    for role in strategy.roles:
        node = roles.get(role) or cfg.model
        key = OmegaConf.to_yaml(node)
        if key not in by_config:
            by_config[key] = ModelClient(reg.build("model", node), cache)
        clients[role] = by_config[key]
    return clients


def build_metrics(cfg: DictConfig) -> list[Metric]:
    """The metrics ``cfg.metrics`` names, with their settings from ``metric_options.<name>``."""
    options = cfg.get("metric_options") or {}
    return [
        registry().build("metric", {"plugin": name, **options.get(name, {})})
        for name in cfg.metrics
    ]


def _call_cost(clients: dict[str, ModelClient]) -> Callable[[Call], float | None]:
    """A traced call's estimated dollars, priced by the model of its role."""

    def cost(call: Call) -> float | None:
        client = clients.get(call.role)
        return client.model.cost(call.completion) if client else None

    return cost


def _summarise(
    cfg: DictConfig,
    result: dict[str, Any],
    progress: Progress,
    clients: dict[str, ModelClient],
    seconds: float,
) -> None:
    distinct = {id(c): c for c in clients.values()}.values()
    made = sum(c.calls_made for c in distinct)
    cached = sum(c.calls_cached for c in distinct)
    logger.info(
        "this invocation: {} answered, {} failed, {} resumed; {} calls made, {} cached; {:.1f}s",
        progress.answered,
        progress.failed,
        progress.skipped,
        made,
        cached,
        seconds,
    )
    if not result["complete"]:
        logger.warning(
            "stopped with {} of {} samples done; run the same command again to resume",
            result["n_samples"],
            progress.total,
        )
    if "recall" in result:
        label = (
            f"{cfg.model.plugin} / {cfg.strategy.plugin} / {OmegaConf.select(cfg, 'data.split')}"
        )
        print(report.run_table(label, result, progress.total))
    if "cost_usd" in result:
        cost = result["cost_usd"]
        unpriced = cost["calls_unpriced"]
        print(
            f"estimated cost: ${cost['estimated']:.4f} for {cost['calls_priced']} calls"
            + (f" ({unpriced} calls without a price)" if unpriced else "")
        )
    if result["n_failed"]:
        logger.warning("{} samples failed: {}", result["n_failed"], result["errors"])
