"""``eicore judge-check``: bias probes of a judge on a run's stored answers.

Each probe changes something that should not change a sound judge's recall and judges again
(through the run's call cache; the answering model is never called):

- ``order``: the ground-truth triggers in another order (one seed per permutation);
- ``shuffle``: the answer's items (sentences) in another order;
- ``verbosity``: the answer followed by generic filler that names no trigger;
- ``paraphrase``: each trigger reworded by a model role (``paraphraser``).

Per probe: the mean shift of per-sample recall (probed − original) and the share of samples whose
recall changed, each with a percentile bootstrap CI over samples (a sample's k seeds are
averaged first, so the CI is over samples, not seeds). A probe *detects* a bias when the shift's
CI excludes 0 or the changed share's CI excludes 0.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from string import Template

import numpy as np
from loguru import logger

from eicore import Judge, ModelRole, Prompt, Sample, SampleRecord, excerpt
from eicore_metrics.semantic import sentences
from eicore_metrics.statistics import Bootstrap, mean_ci

FILLER = (
    "It is worth bearing in mind that many things can sway how we react.",
    "A single snapshot rarely tells the whole tale.",
    "The same instant can mean unlike things to unlike viewers.",
    "Much of what goes on may also be hidden from view.",
    "All in all, this deserves a careful and fair look.",
)
"""Generic sentences with no content about any image: what the verbosity probe appends. Their
words of 5+ letters are (nearly) absent from EIBench's triggers, so that a judge matching words
is not handed matches by the filler itself."""

PARAPHRASE = """Reword the following sentence so that it means exactly the same, using \
different words where you can. Reply with the reworded sentence only.

$trigger"""

PROBES = ("order", "shuffle", "verbosity", "paraphrase")


@dataclass(frozen=True)
class ProbeResult:
    probe: str
    n: int
    """Samples probed (those the judge scored both ways)."""
    seeds: int
    mean_original: float
    mean_probed: float
    mean_shift: float
    shift_ci: list[float] | None
    changed: float
    """The share of samples whose recall changed (averaged over seeds)."""
    changed_ci: list[float] | None
    detected: bool


def permuted(sample: Sample, seed: int) -> Sample:
    """The sample with its triggers in a seeded order other than the original (when possible)."""
    order = list(range(len(sample.triggers)))
    rng = random.Random(f"{sample.id}:{seed}")
    for _ in range(10):
        rng.shuffle(order)
        if order != sorted(order) or len(order) < 2:
            break
    return replace(sample, triggers=tuple(sample.triggers[i] for i in order))


def shuffled(answer: str, key: str, seed: int) -> str:
    """The answer's sentences in a seeded order, one per line."""
    items = sentences(answer)
    rng = random.Random(f"{key}:{seed}")
    for _ in range(10):
        order = items[:]
        rng.shuffle(order)
        if order != items or len(items) < 2:
            break
    return "\n".join(order)


def padded(answer: str, sentences_added: int = len(FILLER)) -> str:
    """The answer followed by ``sentences_added`` generic filler sentences."""
    filler = " ".join(FILLER[i % len(FILLER)] for i in range(sentences_added))
    return f"{answer.rstrip()}\n\n{filler}"


async def paraphrased(sample: Sample, role: ModelRole, template: str = PARAPHRASE) -> Sample:
    """The sample with each trigger reworded by ``role`` (an empty reply keeps the trigger)."""
    reworded = []
    for trigger in sample.triggers:
        completion = await role.complete(
            Prompt.user(Template(template).substitute(trigger=trigger))
        )
        reworded.append(completion.text.strip() or trigger)
    return replace(sample, triggers=tuple(reworded))


Variant = Callable[[SampleRecord, int], Awaitable[tuple[Sample, str]]]


def variant_of(probe: str, paraphraser: ModelRole | None) -> Variant:
    """How ``probe`` changes a record's sample and answer for one seed."""

    async def order(record: SampleRecord, seed: int) -> tuple[Sample, str]:
        return permuted(record.sample, seed), _answer(record)

    async def shuffle(record: SampleRecord, seed: int) -> tuple[Sample, str]:
        return record.sample, shuffled(_answer(record), record.sample.id, seed)

    async def verbosity(record: SampleRecord, seed: int) -> tuple[Sample, str]:
        return record.sample, padded(_answer(record))

    async def paraphrase(record: SampleRecord, seed: int) -> tuple[Sample, str]:
        assert paraphraser is not None
        return await paraphrased(record.sample, paraphraser), _answer(record)

    variants: dict[str, Variant] = {
        "order": order, "shuffle": shuffle, "verbosity": verbosity, "paraphrase": paraphrase,
    }  # fmt: skip
    if probe == "paraphrase" and paraphraser is None:
        raise ValueError("the paraphrase probe needs a model: `+model@paraphraser=<name>`")
    if probe not in variants:
        raise ValueError(f"unknown probe {probe!r}; choose from {', '.join(PROBES)}")
    return variants[probe]


def _answer(record: SampleRecord) -> str:
    return record.response.text if record.response else ""


def summarise(
    probe: str, pairs: dict[str, list[tuple[float, float]]], seeds: int, boot: Bootstrap
) -> ProbeResult:
    """One probe's figures from each sample's (original, probed) recalls over the seeds."""
    ids = [i for i, p in pairs.items() if p]
    original = np.array([pairs[i][0][0] for i in ids])
    probed = np.array([np.mean([b for _, b in pairs[i]]) for i in ids])
    shifts = [float(np.mean([b - a for a, b in pairs[i]])) for i in ids]
    changed = [float(np.mean([not np.isclose(a, b) for a, b in pairs[i]])) for i in ids]
    shift_ci, changed_ci = mean_ci(shifts, boot), mean_ci(changed, boot)
    detected = bool(
        (shift_ci is not None and (shift_ci[0] > 0 or shift_ci[1] < 0))
        or (changed_ci is not None and changed_ci[0] > 0)
    )
    return ProbeResult(
        probe=probe,
        n=len(ids),
        seeds=seeds,
        mean_original=float(original.mean()) if ids else float("nan"),
        mean_probed=float(probed.mean()) if ids else float("nan"),
        mean_shift=float(np.mean(shifts)) if ids else float("nan"),
        shift_ci=shift_ci,
        changed=float(np.mean(changed)) if ids else float("nan"),
        changed_ci=changed_ci,
        detected=detected,
    )


async def probe_judge(
    records: Sequence[SampleRecord],
    judge: Judge,
    probes: Sequence[str],
    seeds: int,
    boot: Bootstrap,
    concurrency: int = 4,
    paraphraser: ModelRole | None = None,
    model: ModelRole | None = None,
) -> list[ProbeResult]:
    """Each probe's figures for ``judge`` on the answered ``records``; ``model`` is the judge's
    model role when it asks one."""
    answered = [r for r in records if r.status == "answered" and r.response is not None]
    limit = asyncio.Semaphore(max(1, concurrency))

    async def score(sample: Sample, answer: str) -> float | None:
        """The judge's recall, or None (the pair is left out of ``n``) when it fails."""
        async with limit:
            try:
                return (await judge.judge(sample, answer, model)).score
            except Exception as exc:  # a judge's failure leaves one sample out, never the check
                logger.warning(
                    "judge {} failed on {}: {}", judge.name, sample.id, excerpt(str(exc), 200)
                )
                return None

    originals = await asyncio.gather(*(score(r.sample, _answer(r)) for r in answered))
    results = []
    for probe in probes:
        variant = variant_of(probe, paraphraser)
        runs = 1 if probe in ("verbosity", "paraphrase") else max(1, seeds)

        async def one(record: SampleRecord, seed: int, variant: Variant) -> float | None:
            sample, answer = await variant(record, seed)
            return await score(sample, answer)

        jobs = [(r, s) for r in answered for s in range(runs)]
        probed = await asyncio.gather(*(one(r, s, variant) for r, s in jobs))
        pairs: dict[str, list[tuple[float, float]]] = {r.sample.id: [] for r in answered}
        first = {r.sample.id: o for r, o in zip(answered, originals, strict=True)}
        for (record, _), value in zip(jobs, probed, strict=True):
            base = first[record.sample.id]
            if base is not None and value is not None:
                pairs[record.sample.id].append((base, value))
        results.append(summarise(probe, pairs, runs, boot))
    return results


def probes_table(judge: str, results: Sequence[ProbeResult]) -> str:
    """The printed figures: one line per probe, ×100."""

    def ci(interval: list[float] | None) -> str:
        return "—" if interval is None else f"[{100 * interval[0]:+.2f}, {100 * interval[1]:+.2f}]"

    lines = [f"judge {judge}: recall ×100, shift = probed − original, 95% bootstrap CIs"]
    for r in results:
        changed = "—" if r.changed_ci is None else (
            f"[{100 * r.changed_ci[0]:.1f}, {100 * r.changed_ci[1]:.1f}]"
        )  # fmt: skip
        lines.append(
            f"  {r.probe:<10} n={r.n:<4} seeds={r.seeds}  shift {100 * r.mean_shift:+.2f} "
            f"{ci(r.shift_ci)}  changed {100 * r.changed:.1f}% {changed}  "
            + ("BIAS DETECTED" if r.detected else "no bias detected")
        )
    return "\n".join(lines)
