"""One evaluation job: build the components a config names, run them, write the run directory."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import yaml
from loguru import logger
from omegaconf import DictConfig, OmegaConf

from eicore.datasets.samples import report_defects, select
from eicore.interfaces import Dataset, Judge, Metric, Strategy
from eicore.log import Provenance, RunLog
from eicore.log.finish import finish
from eicore.plugins import registry
from eicore.report import run_tables
from eicore.run import console, threads
from eicore.run.calls import ModelClient, RoleHandle
from eicore.run.judges import build_judges, describe_judges, judge_clients
from eicore.run.loop import Components, Progress, run_samples
from eicore.run.provenance import run_provenance
from eicore.run.settings import (
    ConfigError,
    RunSettings,
    check_top_level,
    config_hash,
    run_settings,
    snapshot,
)
from eicore.run.store import CallCache, RunStore, cache_home
from eicore.secrets.masking import redact_tree
from eicore.types import Call, Sample, SampleRecord
from eicore.viewer.thumbnails import ThumbnailProcess


def run_dir_of(cfg: DictConfig) -> Path:
    """Hydra's output folder for this job when Hydra runs it, else ``run.root/run.name``."""
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        return Path(HydraConfig.get().runtime.output_dir)
    settings = run_settings(cfg)
    return Path(settings.root) / settings.name


def evaluate(cfg: DictConfig) -> RunLog:
    """Run (or resume) the job ``cfg`` describes; returns its run log."""
    check_top_level(cfg)
    settings = run_settings(cfg)
    console.configure(None, settings.log_level)
    threads.set_threads(settings.threads)
    started = time.perf_counter()
    reg = registry()

    dataset: Dataset = reg.build("dataset", cfg.data)
    samples = select(dataset.load(), dataset.config)
    report_defects(samples)
    strategy: Strategy = reg.build("strategy", cfg.strategy)
    metrics = build_metrics(cfg)
    judges = build_judges(cfg)
    with contextlib.ExitStack() as closing:
        cache = open_call_cache(settings, closing)
        clients = _clients(cfg, strategy, judges, cache, settings.adaptive)
        image_root = dataset.config.image_root
        roles = {role: RoleHandle(clients[role], role, []) for role in strategy.roles}
        if strategy.needs_image(roles) and not image_root:
            seeing = [role for role, handle in roles.items() if handle.accepts_images]
            raise ConfigError(
                f"the {'/'.join(seeing)} model accepts images but data.image_root is not set: "
                "set it to the folder holding the images"
            )
        run_dir = run_dir_of(cfg)
        store = RunStore(run_dir)
        closing.callback(store.close)
        store.check_config(config_hash(cfg))
        console.configure(run_dir, settings.log_level)
        closing.callback(console.configure, None, settings.log_level)
        config_text = snapshot(cfg)
        (run_dir / "config.yaml").write_text(config_text, encoding="utf-8")
        logger.info("run {}: {} samples → {}", settings.name, len(samples), run_dir)
        config = yaml.safe_load(config_text)
        reg.notify("eicore_run_start", run_dir=run_dir, config=config, samples=len(samples))

        def on_sample(record: SampleRecord, step: int) -> None:
            reg.notify("eicore_sample_end", run_dir=run_dir, record=record, step=step)

        thumbnails = ThumbnailProcess.start(image_root, (s.image for s in samples))
        if thumbnails is not None:
            closing.callback(thumbnails.close)
        parts = Components(strategy, clients, judges, image_root, on_sample)
        progress = Progress(total=len(samples))
        try:
            asyncio.run(_run_and_close(samples, parts, store, settings, progress))
        finally:
            stored = store.records()
            records = [stored[s.id] for s in samples if s.id in stored]
            described = describe_judges(judges, clients)
            log = finish(
                run_dir,
                records,
                complete=len(records) == len(samples),
                metrics=metrics,
                judges=described,
                config=config,
                cost=call_cost(clients),
                strategy=redact_tree(strategy.describe()),
                provenance=Provenance.from_dict(run_provenance(cfg, dataset, described, metrics)),
                files=strategy.artifacts(records),
                thumbnails=thumbnails.uris() if thumbnails is not None else None,
            )
            reg.notify("eicore_run_end", run_dir=run_dir, log=log)
            _summarise(cfg, log, progress, clients, time.perf_counter() - started)
    return log


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
            await client.aclose()  # judges' models too: their roles are among the clients
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
    cfg: DictConfig,
    strategy: Strategy,
    judges: Sequence[Judge],
    cache: CallCache | None,
    adaptive: int | None = None,
) -> dict[str, ModelClient]:
    """One client per distinct model config: the strategy's roles (those without their own
    config use ``model``) and ``judge:<name>`` for each judge that asks a model (``adaptive``:
    the ceiling of the strategy's clients' AIMD limits, ``run.concurrency=auto``)."""
    reg = registry()
    roles = cfg.get("roles") or {}
    by_config: dict[str, ModelClient] = {}
    clients = {}
    for role in strategy.roles:
        node = roles.get(role) or cfg.model
        key = OmegaConf.to_yaml(node)
        if key not in by_config:
            by_config[key] = ModelClient(reg.build("model", node), cache, adaptive)
        clients[role] = by_config[key]
    return {**clients, **judge_clients(judges, cache, by_config)}


def build_metrics(cfg: DictConfig) -> list[Metric]:
    """The metrics ``cfg.metrics`` names, with their settings from ``metric_options.<name>``."""
    options = cfg.get("metric_options") or {}
    return [
        registry().build("metric", {"plugin": name, **options.get(name, {})})
        for name in cfg.metrics
    ]


def call_cost(clients: dict[str, ModelClient]) -> Callable[[Call], float | None]:
    """A traced call's estimated dollars, priced by the model of its role."""

    def cost(call: Call) -> float | None:
        client = clients.get(call.role)
        return client.model.cost(call.completion) if client else None

    return cost


def _summarise(
    cfg: DictConfig,
    log: RunLog,
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
    done = log.completeness
    if not done.complete:
        logger.warning(
            "stopped with {} of {} samples done; run the same command again to resume",
            done.n_samples,
            progress.total,
        )
    if log.recall_by_judge:
        label = (
            f"{cfg.model.plugin} / {cfg.strategy.plugin} / {OmegaConf.select(cfg, 'data.split')}"
        )
        print(run_tables.run_table(label, log, progress.total))
    total = log.total_usage
    if total.cost_usd is not None:
        unpriced = total.calls_unpriced
        print(
            f"estimated cost: ${total.cost_usd:.4f} for {total.calls_priced} calls"
            + (f" ({unpriced} calls without a price)" if unpriced else "")
            + _by_role(log)
        )
    if done.n_failed:
        logger.warning("{} samples failed: {}", done.n_failed, done.errors)


def _by_role(log: RunLog) -> str:
    """``; answerer $0.0012, judge:llm $0.0003`` when more than one role has a price."""
    priced = [(r, u.cost_usd) for r, u in log.usage.items() if u.cost_usd is not None]
    return "; " + ", ".join(f"{r} ${c:.4f}" for r, c in priced) if len(priced) > 1 else ""
