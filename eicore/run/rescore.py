"""``eicore score``: judge answers again without calling the answering model.

Two sources of answers: a run directory's stored records, or a predictions file in EIBench's
original output shape (``{"<image path>": "<answer>"}`` per line; complex answers either in the
data's line order — every line's image matching, one line per question — or as
``{"<image>": {"<question>": "<answer>"}}``). Results go to a folder of their own
(``<run>/scores/<judges>__<hash>``), never over the run's own metrics. A predictions file is
paired with the data by stable id; missing, duplicated and unknown answers are listed in
``metrics.json`` (``source.predictions``) and left out of the means, never silently averaged
over; a complex file that cannot be paired without guessing is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections import Counter
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from loguru import logger
from omegaconf import DictConfig, OmegaConf

from eicore.datasets.samples import DataError, read_jsonl
from eicore.interfaces import Dataset, Judge, ModelRole
from eicore.log import RoleUsage, RunLog, usage_of
from eicore.log import read as read_log
from eicore.log.files import METRICS, read_records
from eicore.log.finish import finish
from eicore.plugins import registry
from eicore.report import run_tables
from eicore.run import console, threads
from eicore.run.calls import ModelClient, RoleHandle
from eicore.run.job import build_metrics, call_cost, open_call_cache
from eicore.run.judges import JUDGE_ROLE, build_judges, describe_judges, judge_clients
from eicore.run.loop import in_flight_for, judge_answer
from eicore.run.settings import ConfigError, config_hash, run_settings, snapshot
from eicore.run.store import RunStore
from eicore.secrets.masking import MASK, SECRET_FIELD
from eicore.types import Response, Sample, SampleRecord


@dataclass
class PredictionsReport:
    """How a predictions file lined up with the data; every list names samples or lines."""

    file: str
    lines: int
    paired: int = 0
    missing: list[str] = field(default_factory=list)
    """Sample ids with no answer in the file."""
    duplicates: list[str] = field(default_factory=list)
    """Images answered more than once (basic): none of their answers is scored."""
    unknown: list[str] = field(default_factory=list)
    """Keys of the file that name no sample of the split."""

    @property
    def clean(self) -> bool:
        return not (self.missing or self.duplicates or self.unknown)


def compose(overrides: Sequence[str]) -> DictConfig:
    """The ``score`` config with command-line overrides (judges, data, run settings)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_module

    registry().store_configs()
    with initialize_config_module(config_module="eicore.conf", version_base="1.3"):
        return hydra_compose(config_name="score", overrides=list(overrides))


def _complex_answers(
    path: Path, rows: list[tuple[int, dict[str, Any]]], samples: Sequence[Sample]
) -> dict[str, str]:
    """Complex answers by sample id, from either shape; a file that cannot be paired without
    guessing is refused, naming its first line that does not line up."""
    nested = [isinstance(next(iter(obj.values())), dict) for _, obj in rows]
    if all(nested):  # {"<image>": {"<question>": "<answer>"}}
        by_key = {(s.image, s.question): s.id for s in samples}
        answers: dict[str, str] = {}
        for number, obj in rows:
            ((image, inner),) = obj.items()
            for question, answer in inner.items():
                key = (image, question)
                if not isinstance(answer, str) or key not in by_key or by_key[key] in answers:
                    what = "answered twice" if key in by_key else "not a question of the data"
                    if not isinstance(answer, str):
                        what = "its answer is not a string"
                    raise DataError(f"{path}, line {number}: {image} / {question!r}: {what}")
                answers[by_key[key]] = answer
        return answers
    if any(nested):
        first = next(number for (number, _), n in zip(rows, nested, strict=True) if not n)
        raise DataError(f"{path}, line {first}: mixes the line-ordered and the nested shapes")
    for i, ((number, obj), sample) in enumerate(zip(rows, samples, strict=False)):
        ((image, answer),) = obj.items()
        if image != sample.image or not isinstance(answer, str):
            raise DataError(
                f"{path}, line {number}: answers {image}, but question {i + 1} of the data is "
                f"about {sample.image}; line-ordered complex predictions must answer every "
                f"question in the data's order, or use {{image: {{question: answer}}}}"
            )
    if len(rows) != len(samples):
        number = rows[len(samples)][0] if len(rows) > len(samples) else rows[-1][0] + 1
        raise DataError(
            f"{path}, line {number}: {len(rows)} answers for {len(samples)} questions; "
            "line-ordered complex predictions need exactly one line per question, or use "
            "{image: {question: answer}}"
        )
    return {s.id: next(iter(obj.values())) for (_, obj), s in zip(rows, samples, strict=True)}


def pair_predictions(
    path: Path, samples: Sequence[Sample], split: str
) -> tuple[list[SampleRecord], PredictionsReport]:
    """Answered records for the samples the file answers, and what did not line up."""
    numbered = read_jsonl(path)
    rows = [next(iter(obj.items())) for _, obj in numbered]
    found = PredictionsReport(str(path), len(rows))
    answers: dict[str, str] = {}
    if split == "complex":
        answers = _complex_answers(path, numbered, samples)
        found.missing = [s.id for s in samples if s.id not in answers]
    else:
        bad = [image for image, answer in rows if not isinstance(answer, str)]
        if bad:
            raise DataError(f"{path}: answers must be strings (not for {bad[:3]})")
        counts = Counter(image for image, _ in rows)
        ids = {s.id for s in samples}
        found.duplicates = sorted(image for image, n in counts.items() if n > 1)
        found.unknown = sorted(image for image in counts if image not in ids)
        found.missing = [s.id for s in samples if s.id not in counts]
        answers = {image: answer for image, answer in rows if counts[image] == 1 and image in ids}
    found.paired = len(answers)
    records = [
        SampleRecord(s, "answered", Response(answers[s.id])) for s in samples if s.id in answers
    ]
    return records, found


async def rejudge(
    records: Sequence[SampleRecord],
    judges: Sequence[Judge],
    clients: Mapping[str, ModelClient],
    concurrency: int,
) -> list[SampleRecord]:
    """Each answered record with the judgments of ``judges`` (in place of its old ones), each
    with the calls its judge made through ``clients`` (role → client)."""
    limit = asyncio.Semaphore(in_flight_for(clients.values(), concurrency))

    async def one(record: SampleRecord) -> SampleRecord:
        if record.status != "answered" or record.response is None:
            return record
        async with limit:
            text = record.response.text
            judgments = [await judge_answer(j, record.sample, text, clients) for j in judges]
        return dataclasses.replace(record, judgments=tuple(judgments))

    try:
        answered = [r.sample for r in records if r.status == "answered" and r.response is not None]
        for judge in judges:
            await judge.prepare(answered)
        return list(await asyncio.gather(*(one(r) for r in records)))
    finally:
        for client in {id(c): c for c in clients.values()}.values():
            await client.aclose()
        for judge in judges:
            await judge.aclose()


def stored_records(run_dir: Path) -> list[SampleRecord]:
    """A run's records in sample order (records.jsonl's, then any it has not listed yet) from
    its store, the run's lock held while reading."""
    if not (run_dir / "run.sqlite").is_file():
        raise DataError(f"{run_dir}: no run.sqlite here; is this an eicore run directory?")
    store = RunStore(run_dir)
    try:
        by_id = store.records()
    finally:
        store.close()
    order = [r.sample.id for r in read_records(run_dir)]
    ids = [i for i in order if i in by_id] + [i for i in by_id if i not in set(order)]
    return [by_id[i] for i in ids]


@dataclass
class StoredJudging:
    """A run's stored answers with judges ready to judge them again, for commands that probe
    or re-judge a run without calling its answering model (``eicore judge-check``)."""

    records: list[SampleRecord]
    judges: list[Judge]
    concurrency: int
    roles: dict[str, ModelRole]
    """Role → traced, cached model role: ``judge:<name>`` for each judge that asks a model,
    and each extra role the overrides give a model (``+model@<role>=<name>``)."""

    def role(self, name: str) -> ModelRole | None:
        """The model role ``name``, or None when nothing gave it a model."""
        return self.roles.get(name)


@contextlib.asynccontextmanager
async def stored_judging(
    run_dir: Path, overrides: Sequence[str] = (), extra_roles: Sequence[str] = ()
) -> AsyncIterator[StoredJudging]:
    """Open ``run_dir``'s stored records with the judges the overrides give (else the run's
    own) and their models through the shared call cache; every client is closed on exit."""
    cfg = compose(overrides)
    settings = run_settings(cfg)
    console.configure(None, settings.log_level)
    threads.set_threads(settings.threads)
    records = stored_records(run_dir)
    judges = build_judges(judges_config(cfg, run_dir))
    with contextlib.ExitStack() as closing:
        cache = open_call_cache(settings, closing)
        clients = judge_clients(judges, cache)
        for role in extra_roles:
            if cfg.get(role):
                clients[role] = ModelClient(registry().build("model", cfg[role]), cache)
        roles: dict[str, ModelRole] = {n: RoleHandle(c, n, []) for n, c in clients.items()}
        try:
            yield StoredJudging(records, judges, settings.concurrency, roles)
        finally:
            for client in {id(c): c for c in clients.values()}.values():
                await client.aclose()
            for judge in judges:
                await judge.aclose()


def judges_config(cfg: DictConfig, run_dir: Path | None) -> DictConfig:
    """The judges to use: those given on the command line, else the run's own."""
    source = cfg
    if not (cfg.get("judge") or cfg.get("judges")):
        if run_dir is None:
            raise ConfigError("give a judge to score predictions with, e.g. `judge=semantic`")
        ran = OmegaConf.to_container(OmegaConf.load(run_dir / "config.yaml"))
        source = OmegaConf.create(_unmasked(ran))
    tree: dict[str, Any] = {"judges": source.get("judges") or {}}
    if source.get("judge"):
        tree["judge"] = source.judge
    if cfg.get("paper"):  # where the paper-* judges read the original scripts
        tree["paper"] = cfg.paper
    return OmegaConf.create(tree)


def _unmasked(tree: Any) -> Any:
    """A config snapshot with masked secrets set to None, so a model takes its key from the
    environment again instead of the mask."""
    if isinstance(tree, dict):
        return {
            k: None if SECRET_FIELD.search(str(k)) and v == MASK else _unmasked(v)
            for k, v in tree.items()
        }
    if isinstance(tree, list):
        return [_unmasked(v) for v in tree]
    return tree


def score(
    cfg: DictConfig,
    records: Sequence[SampleRecord],
    judging: DictConfig,
    out_parent: Path,
    source: dict[str, Any],
    answered_usage: Mapping[str, RoleUsage] | None = None,
) -> tuple[Path, RunLog]:
    """Judge ``records`` with the judges of ``judging``; write ``out_parent/<label>``.

    The log's usage holds the judges' calls made now, and the answers' calls as the run that
    made them counted and priced them (``answered_usage``; else as their traces count them).
    """
    settings = run_settings(cfg)
    console.configure(None, settings.log_level)
    threads.set_threads(settings.threads)
    metrics = build_metrics(cfg)
    judges = build_judges(judging)
    if not judges:
        raise ConfigError("no judge to score with: give `judge=<name>`")
    with contextlib.ExitStack() as closing:
        cache = open_call_cache(settings, closing)
        clients = judge_clients(judges, cache)
        label = "+".join(j.name for j in judges) + "__" + config_hash(judging)
        out = out_parent / label
        out.mkdir(parents=True, exist_ok=True)
        console.configure(out, settings.log_level)
        closing.callback(console.configure, None, settings.log_level)
        config_text = snapshot(judging)
        (out / "config.yaml").write_text(config_text, encoding="utf-8")
        described = describe_judges(judges, clients)
        judged = asyncio.run(rejudge(records, judges, clients, settings.concurrency))
        usage = usage_of(judged, call_cost(clients))
        for role, ran in (answered_usage or {}).items():
            usage[role] = ran  # the answers' calls were made (and priced) by the run
        log = finish(
            out,
            judged,
            complete=bool(source.get("complete", True)),
            metrics=metrics,
            judges=described,
            config=yaml.safe_load(config_text),
            usage=usage,
            source=source,
        )
    logger.info("scored {} answers → {}", log.completeness.n_answered, out)
    return out, log


def score_run(run_dir: Path, cfg: DictConfig) -> tuple[Path, RunLog]:
    """Re-judge a run directory's stored answers into ``<run>/scores/<label>``."""
    records = stored_records(run_dir)
    source: dict[str, Any] = {"run_dir": str(run_dir), "complete": True}
    ran_usage = None
    if (run_dir / METRICS).is_file():
        ran = read_log(run_dir)
        provenance = ran.provenance.to_dict() if ran.provenance else None
        source.update(complete=ran.complete, provenance=provenance)
        ran_usage = {r: u for r, u in ran.usage.items() if not r.startswith(JUDGE_ROLE)}
    judging = judges_config(cfg, run_dir)
    return score(cfg, records, judging, run_dir / "scores", source, ran_usage)


def score_predictions(
    path: Path,
    cfg: DictConfig,
    out: Path | None,
    answered_by: dict[str, str | None] | None = None,
) -> tuple[Path, RunLog]:
    """Judge an EIBench-shaped predictions file against ``cfg.data``; ``answered_by`` records
    the model and strategy presets the answers were made with, as the user declares them."""
    dataset: Dataset = registry().build("dataset", cfg.data)
    samples = dataset.load()
    records, found = pair_predictions(path, samples, cfg.data.split)
    for kind in ("missing", "duplicates", "unknown"):
        items = getattr(found, kind)
        if items:
            logger.warning("{} {}: {}", len(items), kind, "; ".join(items[:10]))
    source = {
        "predictions": dataclasses.asdict(found),
        "n_data_samples": len(samples),
        "data": dataset.provenance(),
        "complete": found.clean,
        "answered_by": {k: v for k, v in (answered_by or {}).items() if v},
    }
    parent = out or path.with_name(path.stem + ".scores")
    return score(cfg, records, judges_config(cfg, None), parent, source)


def summary(log: RunLog, label: str) -> str:
    """The printed table with how many samples were scored of how many there are, and what the
    judges' calls cost."""
    n_data = (log.source or {}).get("n_data_samples", log.completeness.n_samples)
    lines = [run_tables.run_table(label, log, n_data)]
    for role, usage in log.usage.items():
        if role.startswith(JUDGE_ROLE):
            cost = "" if usage.cost_usd is None else f", ${usage.cost_usd:.4f}"
            lines.append(
                f"{role}: {usage.calls_made} calls made, {usage.calls_cached} cached, "
                f"{usage.input_tokens}+{usage.output_tokens} tokens{cost}"
            )
    if not log.complete:
        lines.append("INCOMPLETE: see `source` in metrics.json for what is missing")
    return "\n".join(lines)
