"""Human review of ``eicore annotate`` output: each reviewer's refined triggers and 0–5 ratings.

A reviewer's files live in ``<annotate run>/reviews/<reviewer>/``:

- ``basic_ground_truth.json`` and ``user.jsonl``: the reviewed images (those left with at least
  one trigger) in EIBench's shapes, ready for ``data.ground_truth=`` / ``data.questions=``;
- ``ratings.jsonl``: one ``{"image", "reviewer", "rating"}`` per reviewed image.

Every file is rewritten whole on each save (written to a temporary file, then renamed).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard

from eicore.datasets.samples import parse_triggers, read_jsonl
from eicore.log.files import write_jsonl
from eicore.run.store import dump_json
from eicore.types import Call, Completion
from eicore.viewer.page import render_page
from eicore.viewer.runs import ViewerError, read_json
from eicore.viewer.samples import call_entry

REVIEWS = "reviews"
RATINGS = "ratings.jsonl"
GROUND_TRUTH = "basic_ground_truth.json"
QUESTIONS = "user.jsonl"
REVIEW_FILE = "cfsa_review.jsonl"
"""The strategy's review file of an annotate run: one row per image (its id, image, emotion,
question and trace, and the strategy's steps, shown as they are named)."""
RATING_SCALE = range(0, 6)
_REVIEWER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class Annotation:
    """One machine-annotated image as the annotate run wrote it."""

    image: str
    question: str
    triggers: tuple[str, ...]
    emotion: str | None
    original_question: str | None
    phases: dict[str, Any]
    trace: list[dict[str, Any]]


@dataclass(frozen=True)
class Review:
    """One reviewer's verdict on one image."""

    image: str
    triggers: tuple[str, ...]
    rating: int


def is_rating(value: Any) -> TypeGuard[int]:
    """An integer of the 0–5 scale (not a bool, not 5.0)."""
    return isinstance(value, int) and not isinstance(value, bool) and value in RATING_SCALE


def check_reviewer(name: str) -> str:
    if not _REVIEWER.match(name):
        raise ViewerError(
            f"reviewer name {name!r}: use 1–64 letters, digits, '.', '_' or '-' "
            "(it names a folder under reviews/)"
        )
    return name


SAMPLE_FIELDS = frozenset({"id", "image", "emotion", "question", "trace"})
"""Fields of a review row that are the sample's (or its trace), not the strategy's steps."""


def phases_of(row: dict[str, Any]) -> dict[str, str | list[list[str]]]:
    """The strategy's own steps of one review row, in its order, whatever it names them: text
    as text, a list of (question, answer) pairs as pairs, anything else as JSON."""
    phases: dict[str, str | list[list[str]]] = {}
    for name, value in row.items():
        if name in SAMPLE_FIELDS or value in (None, "", []):
            continue
        if isinstance(value, list) and all(
            isinstance(v, list | tuple) and len(v) == 2 for v in value
        ):
            phases[name] = [[str(q), str(a)] for q, a in value]
        else:
            phases[name] = value if isinstance(value, str) else json.dumps(value)
    return phases


def load_annotations(run_dir: Path) -> list[Annotation]:
    """The images of an ``eicore annotate`` run, in its order, with every CFSA phase."""
    missing = [n for n in (QUESTIONS, GROUND_TRUTH) if not (run_dir / n).is_file()]
    if missing:
        raise ViewerError(f"{run_dir}: not an `eicore annotate` run (missing {', '.join(missing)})")
    truth = read_json(run_dir / GROUND_TRUTH)
    if not isinstance(truth, dict):
        raise ViewerError(f"{run_dir / GROUND_TRUTH}: expected an object of image → triggers")
    phases: dict[str, dict[str, Any]] = {}
    traces: dict[str, list[dict[str, Any]]] = {}
    if (run_dir / REVIEW_FILE).is_file():
        for number, row in read_jsonl(run_dir / REVIEW_FILE, single_key=False):
            image = str(row.get("image"))
            phases[image] = row
            try:
                calls = [
                    Call(**{**c, "completion": Completion(**c["completion"])})
                    for c in row.get("trace", [])
                ]
            except (KeyError, TypeError) as exc:
                where = f"{run_dir / REVIEW_FILE}, line {number}"
                raise ViewerError(f"{where}: malformed trace ({exc!r})") from None
            traces[image] = [call_entry(c) for c in calls]
    annotations = []
    for number, row in read_jsonl(run_dir / QUESTIONS):
        ((image, question),) = row.items()
        if image not in truth:
            raise ViewerError(
                f"{run_dir / GROUND_TRUTH}: no triggers for {image!r} "
                f"({run_dir / QUESTIONS}, line {number})"
            )
        p = phases.get(image, {})
        annotations.append(
            Annotation(
                image=image,
                question=str(question),
                triggers=parse_triggers(str(truth[image])),
                emotion=p.get("emotion"),
                original_question=p.get("question"),
                phases=phases_of(p),
                trace=traces.get(image, []),
            )
        )
    return annotations


def reviewer_dir(run_dir: Path, reviewer: str) -> Path:
    return run_dir / REVIEWS / check_reviewer(reviewer)


def load_reviews(run_dir: Path, reviewer: str) -> dict[str, Review]:
    """What ``reviewer`` has saved so far, by image."""
    folder = reviewer_dir(run_dir, reviewer)
    if not (folder / RATINGS).is_file():
        return {}
    truth = read_json(folder / GROUND_TRUTH) if (folder / GROUND_TRUTH).is_file() else {}
    reviews = {}
    for number, row in read_jsonl(folder / RATINGS, single_key=False):
        image, rating = row.get("image"), row.get("rating")
        if not isinstance(image, str) or not is_rating(rating):
            raise ViewerError(f"{folder / RATINGS}, line {number}: expected image and rating 0–5")
        reviews[image] = Review(image, parse_triggers(str(truth.get(image, ""))), rating)
    return reviews


def checked_review(body: Any, images: set[str]) -> Review:
    """A review posted by the page, checked: a known image, trigger strings, a rating 0–5."""
    if not isinstance(body, dict):
        raise ViewerError("expected a JSON object with image, triggers and rating")
    image, triggers, rating = body.get("image"), body.get("triggers"), body.get("rating")
    if image not in images:
        raise ViewerError(f"unknown image {image!r}")
    if not isinstance(triggers, list) or not all(isinstance(t, str) for t in triggers):
        raise ViewerError("triggers must be a list of strings")
    if not is_rating(rating):
        raise ViewerError(f"rating must be an integer 0–5, got {rating!r}")
    cleaned = tuple(" ".join(t.split()) for t in triggers)
    return Review(str(image), tuple(t for t in cleaned if t), rating)


def save_review(
    run_dir: Path, reviewer: str, review: Review, annotations: list[Annotation]
) -> dict[str, Review]:
    """Record ``review`` and rewrite the reviewer's three files; returns all their reviews."""
    reviews = {**load_reviews(run_dir, reviewer), review.image: review}
    folder = reviewer_dir(run_dir, reviewer)
    folder.mkdir(parents=True, exist_ok=True)
    done = [a for a in annotations if a.image in reviews]
    kept = [a for a in done if reviews[a.image].triggers]
    truth = {
        a.image: "\n".join(f"{n}. {t}" for n, t in enumerate(reviews[a.image].triggers, 1))
        for a in kept
    }
    write_jsonl(folder / QUESTIONS, [{a.image: a.question} for a in kept])
    dump_json(folder / GROUND_TRUTH, truth)
    rows = [
        {"image": a.image, "reviewer": reviewer, "rating": reviews[a.image].rating} for a in done
    ]
    write_jsonl(folder / RATINGS, rows)
    return reviews


def review_payload(
    run_dir: Path, reviewer: str, image_root: str | Path | None, token: str
) -> dict[str, Any]:
    """The viewer's data in review mode: every annotated image with the reviewer's saved
    verdict, if any (nothing else is preselected). Images come from the server's ``/image/``;
    ``token`` is the server session's, which the page sends with every save."""
    annotations = load_annotations(run_dir)
    saved = load_reviews(run_dir, reviewer)
    items = []
    for a in annotations:
        r = saved.get(a.image)
        items.append(
            {
                "image": a.image,
                "question": a.question,
                "original_question": a.original_question,
                "emotion": a.emotion,
                "triggers": list(a.triggers),
                "phases": a.phases,
                "trace": a.trace,
                "saved": {"triggers": list(r.triggers), "rating": r.rating} if r else None,
            }
        )
    return editor_payload("review", reviewer, image_root, token, items)


def editor_payload(
    mode: str, reviewer: str, image_root: object, token: str, items: list[dict[str, Any]]
) -> dict[str, Any]:
    """The data of a page that saves (``review``, ``judge-review``): its items, the reviewer,
    and where images come from and saves go, with the session's token."""
    return {
        "mode": mode,
        "reviewer": reviewer,
        "imageBase": "/image/" if image_root else None,
        "saveUrl": "/api/review",
        "token": token,
        "items": items,
    }


def review_page(run_dir: Path, reviewer: str, image_root: str | Path | None, token: str) -> str:
    """The review page for ``reviewer``; images are served from ``image_root`` when set."""
    return render_page(
        review_payload(run_dir, reviewer, image_root, token), f"eicore review: {run_dir.name}"
    )
