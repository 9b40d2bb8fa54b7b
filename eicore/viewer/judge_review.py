"""Human labels of model answers: the viewer's judge-review task, and what they correct.

A reviewer marks each ground-truth trigger of an answer ``matched`` or ``missed`` (nothing is
preselected). Their labels live in ``<run>/reviews/<reviewer>/judge_labels.jsonl``, one
``{"sample", "reviewer", "labels"}`` per reviewed answer, rewritten whole on each save.

From them: a sample's human recall (matched / triggers, averaged over its reviewers), and the
prediction-powered (PPI) estimate of a judge's recall over the whole run — the judge's mean on
the answers nobody labelled, corrected by the mean human − judge difference on those labelled —
with its normal-approximation CI (Angelopoulos et al., 2023).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist, fmean, pvariance
from typing import Any

from eicore.datasets.samples import read_jsonl
from eicore.log.files import write_jsonl
from eicore.types import SampleRecord
from eicore.viewer.page import render_page
from eicore.viewer.review import REVIEWS, editor_payload, reviewer_dir
from eicore.viewer.runs import ViewerError, load_records

LABELS_FILE = "judge_labels.jsonl"
LABELS = ("matched", "missed")


@dataclass(frozen=True)
class Labels:
    """One reviewer's labels of one answer's ground-truth triggers."""

    sample: str
    reviewer: str
    labels: tuple[str, ...]

    @property
    def recall(self) -> float:
        return sum(v == "matched" for v in self.labels) / len(self.labels)


def answered(run_dir: Path) -> list[SampleRecord]:
    """The run's answered records with at least one trigger: what can be labelled."""
    return [
        r
        for r in load_records(run_dir)
        if r.status == "answered" and r.response is not None and r.sample.triggers
    ]


def read_labels(path: Path) -> list[Labels]:
    """One reviewer's labels file, checked row by row."""
    found = []
    for number, row in read_jsonl(path, single_key=False):
        sample, reviewer, labels = row.get("sample"), row.get("reviewer"), row.get("labels")
        if (
            not isinstance(sample, str)
            or not isinstance(reviewer, str)
            or not isinstance(labels, list)
            or not labels
            or any(v not in LABELS for v in labels)
        ):
            raise ViewerError(f"{path}, line {number}: expected sample, reviewer and labels")
        found.append(Labels(sample, reviewer, tuple(labels)))
    return found


def all_labels(run_dir: Path) -> list[Labels]:
    """Every reviewer's labels of the run's answers."""
    folder = run_dir / REVIEWS
    files = sorted(folder.glob(f"*/{LABELS_FILE}")) if folder.is_dir() else []
    return [labels for path in files for labels in read_labels(path)]


def checked_labels(body: Any, reviewer: str, totals: dict[str, int]) -> Labels:
    """Labels posted by the page: a known sample, one of matched/missed per trigger."""
    if not isinstance(body, dict):
        raise ViewerError("expected a JSON object with sample and labels")
    sample, labels = body.get("sample"), body.get("labels")
    if sample not in totals:
        raise ViewerError(f"unknown sample {sample!r}")
    if not isinstance(labels, list) or any(v not in LABELS for v in labels):
        raise ViewerError("labels must be a list of 'matched' or 'missed'")
    if len(labels) != totals[str(sample)]:
        raise ViewerError(
            f"expected {totals[str(sample)]} labels (one per trigger), got {len(labels)}"
        )
    return Labels(str(sample), reviewer, tuple(labels))


def save_labels(run_dir: Path, reviewer: str, labels: Labels, order: Sequence[str]) -> int:
    """Record ``labels`` and rewrite the reviewer's file in the run's order; how many saved."""
    folder = reviewer_dir(run_dir, reviewer)
    path = folder / LABELS_FILE
    saved = {lab.sample: lab for lab in read_labels(path)} if path.is_file() else {}
    saved[labels.sample] = labels
    folder.mkdir(parents=True, exist_ok=True)
    rows = [
        {"sample": i, "reviewer": reviewer, "labels": list(saved[i].labels)}
        for i in order
        if i in saved
    ]
    write_jsonl(path, rows)
    return len(rows)


def judge_review_payload(
    run_dir: Path, reviewer: str, image_root: Any, token: str
) -> dict[str, Any]:
    """The page's data: every answer with its triggers and this reviewer's saved labels (none
    preselected for an answer not yet labelled; the judges' verdicts are not shown). ``token``
    is the server session's, which the page sends with every save."""
    path = reviewer_dir(run_dir, reviewer) / LABELS_FILE
    saved = {lab.sample: lab for lab in read_labels(path)} if path.is_file() else {}
    items = [
        {
            "sample": r.sample.id,
            "image": r.sample.image,
            "question": r.sample.question,
            "emotion": r.sample.emotion,
            "answer": r.response.text if r.response else "",
            "triggers": list(r.sample.triggers),
            "saved": list(saved[r.sample.id].labels) if r.sample.id in saved else None,
        }
        for r in answered(run_dir)
    ]
    return editor_payload("judge-review", reviewer, image_root, token, items)


def judge_review_page(run_dir: Path, reviewer: str, image_root: Any, token: str) -> str:
    payload = judge_review_payload(run_dir, reviewer, image_root, token)
    return render_page(payload, f"eicore judge review: {run_dir.name}")


def human_recall(labels: Sequence[Labels]) -> dict[str, float]:
    """Sample → recall by its reviewers' labels (the mean when several labelled it)."""
    by_sample: dict[str, list[float]] = {}
    for lab in labels:
        by_sample.setdefault(lab.sample, []).append(lab.recall)
    return {s: fmean(v) for s, v in by_sample.items()}


def ppi_recall(
    judge_scores: dict[str, float], human: dict[str, float], level: float = 0.95
) -> dict[str, Any] | None:
    """The PPI estimate of mean recall and its CI: the judge's mean on unlabelled samples plus
    the mean human − judge difference on labelled ones. None without two labelled samples."""
    labelled = [s for s in human if s in judge_scores]
    if len(labelled) < 2:
        return None
    rest = [judge_scores[s] for s in judge_scores if s not in human]
    gaps = [human[s] - judge_scores[s] for s in labelled]
    pool = rest or [judge_scores[s] for s in labelled]
    estimate = fmean(pool) + fmean(gaps)
    z = NormalDist().inv_cdf(0.5 + level / 2)
    spread = math.sqrt(pvariance(pool) / len(pool) + pvariance(gaps) / len(gaps))
    return {
        "recall": estimate,
        "ci": [estimate - z * spread, estimate + z * spread],
        "judge_recall": fmean(judge_scores.values()),
        "human_recall_labelled": fmean(human[s] for s in labelled),
        "n_labelled": len(labelled),
        "n_unlabelled": len(rest),
        "level": level,
    }


def run_ppi(run_dir: Path, level: float = 0.95) -> dict[str, dict[str, Any]]:
    """Judge → PPI-corrected recall of the run, for each judge (empty without human labels)."""
    labels = all_labels(run_dir)
    if not labels:
        return {}
    human = human_recall(labels)
    records = answered(run_dir)
    judges = list(dict.fromkeys(j.judge for r in records for j in r.judgments))
    out = {}
    for judge in judges:
        scores = {}
        for r in records:
            j = next((j for j in r.judgments if j.judge == judge), None)
            if j is not None and j.score is not None:
                scores[r.sample.id] = j.score
        found = ppi_recall(scores, human, level)
        if found is not None:
            out[judge] = found
    return out


def _credits(record: SampleRecord, judge: str) -> list[int] | None:
    """A judge's matched-or-not per trigger of a record; None when it only counted."""
    j = next((j for j in record.judgments if j.judge == judge), None)
    if j is None or j.status != "ok":
        return None
    if j.triggers:
        return [int(t.verdict != "missed") for t in j.triggers]
    if j.matched or j.recalled == 0:
        return [int(i in j.matched) for i in range(j.total)]
    return None


def label_agreement(run_dir: Path) -> dict[str, Any]:
    """Judge–human and human–human agreement on the run's labelled answers, per trigger:
    Cohen's kappa of every pair (on the triggers both labelled) and Krippendorff's alpha
    (nominal) of the humans, and of each judge with the humans."""
    from eicore.viewer.agreement import cohen_kappa, krippendorff_alpha

    labels = all_labels(run_dir)
    if not labels:
        raise ViewerError(f"{run_dir}: no judge-review labels (reviews/*/{LABELS_FILE})")
    records = {r.sample.id: r for r in answered(run_dir)}
    humans = sorted({lab.reviewer for lab in labels})
    by_human = {h: {lab.sample: lab.labels for lab in labels if lab.reviewer == h} for h in humans}
    judges = list(dict.fromkeys(j.judge for r in records.values() for j in r.judgments))
    units: dict[tuple[str, int], dict[str, int]] = {}
    for h, given in by_human.items():
        for sample, values in given.items():
            for i, v in enumerate(values):
                units.setdefault((sample, i), {})[h] = int(v == "matched")
    for judge in judges:
        for sample, trigger in list(units):
            credits = _credits(records[sample], judge) if sample in records else None
            if credits is not None and trigger < len(credits):
                units[sample, trigger][judge] = credits[trigger]

    def pair(a: str, b: str) -> dict[str, Any]:
        shared = [u for u in units.values() if a in u and b in u]
        return {"raters": [a, b], "n_triggers": len(shared),
                "kappa": cohen_kappa([u[a] for u in shared], [u[b] for u in shared])}  # fmt: skip

    def alpha(raters: Sequence[str]) -> float | None:
        return krippendorff_alpha(
            [[float(u[r]) for r in raters if r in u] for u in units.values()], "nominal"
        )

    return {
        "reviewers": humans,
        "judges": judges,
        "n_samples": len({lab.sample for lab in labels}),
        "n_triggers": len(units),
        "human_human": {
            "pairs": [pair(a, b) for k, a in enumerate(humans) for b in humans[k + 1 :]],
            "alpha": alpha(humans),
        },
        "judge_human": {
            judge: {"pairs": [pair(judge, h) for h in humans], "alpha": alpha([judge, *humans])}
            for judge in judges
        },
    }


def label_agreement_text(result: dict[str, Any]) -> str:
    """The printed agreement: kappa per pair of raters, alpha per group."""

    def num(v: float | None) -> str:
        return "—" if v is None else f"{v:.3f}"

    lines = [
        f"judge-review labels: {len(result['reviewers'])} reviewers, {result['n_samples']} "
        f"answers, {result['n_triggers']} triggers (per-trigger agreement)",
        f"human–human: alpha {num(result['human_human']['alpha'])}",
    ]
    lines += [
        f"  kappa {p['raters'][0]} ~ {p['raters'][1]}: {num(p['kappa'])} on {p['n_triggers']}"
        for p in result["human_human"]["pairs"]
    ]
    for judge, found in result["judge_human"].items():
        lines.append(f"judge {judge} with the humans: alpha {num(found['alpha'])}")
        lines += [
            f"  kappa {judge} ~ {p['raters'][1]}: {num(p['kappa'])} on {p['n_triggers']}"
            for p in found["pairs"]
        ]
    return "\n".join(lines)
