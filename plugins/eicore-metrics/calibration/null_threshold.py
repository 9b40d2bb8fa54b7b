"""Calibrate the semantic judge's threshold against a null of unrelated trigger lists.

For every ground-truth trigger of EIBench basic sample i, take its best cosine against the
triggers of a randomly chosen (seeded) sample j of a *different* emotion: a "match" there is
chance, since j's triggers describe another image and another feeling. Percentiles of that
null bound how often the judge would credit an unrelated answer. Printed for reference:

- ``pair``: best cosine against j's triggers (the null the default threshold is read from);
- ``units``: against j's trigger list cut into the judge's answer units (clauses included);
- ``units x3``: against the units of three such samples, the length of a long model answer;
- ``same emotion``: j drawn from the same emotion, with a different question (not a null:
  shared emotion-level triggers such as a frown are real overlap; shown for contrast).

With ``--records`` (a run's records.jsonl), the answers in it are rescored at several
thresholds and the recall (overall, macro, per emotion) printed for each.

    python null_threshold.py /path/to/eibench [--records runs/<run>/records.jsonl]
"""

from __future__ import annotations

import argparse
import json
import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from statistics import fmean

import numpy as np
from eicore_metrics.embeddings import model_version, shared_encoder
from eicore_metrics.semantic import DEFAULT_THRESHOLD, answer_units, best_matches, strip_marks

from eicore import EMOTIONS, Sample, build

PERCENTILES = (50, 90, 95, 99, 99.9)
THRESHOLDS = (0.5, 0.6, 0.7)


def as_answer(triggers: Sequence[str]) -> str:
    return "\n".join(f"{n}. {t}" for n, t in enumerate(triggers, 1))


def null_cosines(
    samples: Sequence[Sample],
    pick: Callable[[Sample], list[Sample]],
    units: Callable[[list[Sample]], list[str]],
) -> np.ndarray:
    """Each trigger's best cosine against the units of the samples ``pick`` draws for it."""
    encoder = shared_encoder()
    cosines = []
    for sample in samples:
        others = units(pick(sample))
        triggers = [strip_marks(t) for t in sample.triggers]
        similarity = encoder.encode(triggers) @ encoder.encode(others).T
        cosines.extend(similarity.max(axis=1))
    return np.array(cosines)


def pickers(samples: Sequence[Sample], seed: int) -> dict[str, Callable[[Sample], list[Sample]]]:
    """Each null's draw of other samples; every null has its own generator seeded with ``seed``
    (so ``pair`` and ``units`` draw the same samples)."""
    by_emotion: dict[str | None, list[Sample]] = defaultdict(list)
    for s in samples:
        by_emotion[s.emotion].append(s)

    def other_emotion(k: int) -> Callable[[Sample], list[Sample]]:
        rng = random.Random(seed)
        return lambda s: rng.sample([o for o in samples if o.emotion != s.emotion], k)

    def same_emotion() -> Callable[[Sample], list[Sample]]:
        rng = random.Random(seed)

        def pick(s: Sample) -> list[Sample]:
            return [rng.choice([o for o in by_emotion[s.emotion] if o.question != s.question])]

        return pick

    return {
        "pair": other_emotion(1),
        "units": other_emotion(1),
        "units x3": other_emotion(3),
        "same emotion": same_emotion(),
    }


def unit_makers() -> dict[str, Callable[[list[Sample]], list[str]]]:
    def triggers(picked: list[Sample]) -> list[str]:
        return [strip_marks(t) for s in picked for t in s.triggers]

    def units(picked: list[Sample]) -> list[str]:
        return answer_units(as_answer(triggers(picked)))

    return {"pair": triggers, "units": units, "units x3": units, "same emotion": triggers}


def print_nulls(samples: Sequence[Sample], seed: int, thresholds: Sequence[float]) -> None:
    picks, makers = pickers(samples, seed), unit_makers()
    head = ["null", "n", *(f"p{p:g}" for p in PERCENTILES), *(f"P(>={t:g})" for t in thresholds)]
    print(" | ".join(head))
    for name in picks:
        cosines = null_cosines(samples, picks[name], makers[name])
        cells = [name, str(len(cosines))]
        cells += [f"{np.percentile(cosines, p):.3f}" for p in PERCENTILES]
        cells += [f"{np.mean(cosines >= t):.3%}" for t in thresholds]
        print(" | ".join(cells))


def print_recalls(records_path: Path, thresholds: Sequence[float]) -> None:
    """Rescore a run's answers at each threshold; per-sample recall averaged as EIBench does."""
    scores: dict[float, dict[str, list[float]]] = {t: defaultdict(list) for t in thresholds}
    for line in records_path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record["status"] != "answered":
            continue
        triggers, emotion = record["sample"]["triggers"], record["sample"]["emotion"]
        units = answer_units(record["response"]["text"])
        cosines = np.array([m.cosine for m in best_matches(triggers, units)] if units else [])
        for t in thresholds:
            scores[t][emotion].append(float(np.sum(cosines >= t)) / len(triggers))
    print("threshold | overall | macro | " + " | ".join(EMOTIONS))
    for t in thresholds:
        by_emotion = scores[t]
        overall = fmean(v for values in by_emotion.values() for v in values)
        macro = fmean(fmean(values) for values in by_emotion.values())
        cells = [f"{100 * fmean(by_emotion[e]):.2f}" if by_emotion[e] else "-" for e in EMOTIONS]
        print(f"{t:g} | {100 * overall:.2f} | {100 * macro:.2f} | " + " | ".join(cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "data_root", type=Path, help="folder with user.jsonl and basic_ground_truth.json"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--records", type=Path, help="a run's records.jsonl to rescore")
    args = parser.parse_args()
    samples = build("dataset", {"plugin": "eibench", "root": str(args.data_root)}).load()
    thresholds = sorted({*THRESHOLDS, DEFAULT_THRESHOLD})
    print(f"encoder: {model_version()}; seed {args.seed}; default threshold {DEFAULT_THRESHOLD}")
    print_nulls(samples, args.seed, thresholds)
    if args.records:
        print_recalls(args.records, thresholds)


if __name__ == "__main__":
    main()
