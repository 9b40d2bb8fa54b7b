"""Agreement between raters — Cohen's kappa, Krippendorff's alpha — and the report of
reviewers' 0–5 quality ratings."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from eicore.datasets.samples import read_jsonl
from eicore.viewer.review import RATING_SCALE, RATINGS, REVIEWS, is_rating
from eicore.viewer.runs import ViewerError

Level = Literal["nominal", "ordinal", "interval"]


def cohen_kappa(x: Sequence[Hashable], y: Sequence[Hashable]) -> float | None:
    """Unweighted Cohen's kappa of two raters' labels of the same units; None when there are
    none or chance agreement is total (both always gave one and the same label).

    Pure Python on the joint counts (one pass): lists of a few thousand labels take about 2 ms,
    so a bootstrap can call it a thousand times."""
    n = len(x)
    joint = Counter(zip(x, y, strict=True))
    if n == 0:
        return None
    rows: Counter[Hashable] = Counter()
    columns: Counter[Hashable] = Counter()
    agreed = 0
    for (a, b), count in joint.items():
        rows[a] += count
        columns[b] += count
        agreed += count if a == b else 0
    expected = sum(count * columns[label] for label, count in rows.items()) / (n * n)
    return None if expected == 1 else (agreed / n - expected) / (1 - expected)


def _distance(level: Level, counts: dict[float, float]) -> dict[tuple[float, float], float]:
    """Squared distance δ² between every pair of observed values, at ``level``."""
    values = sorted(counts)
    d: dict[tuple[float, float], float] = {}
    for i, c in enumerate(values):
        for k in values[i:]:
            if level == "nominal":
                delta = 0.0 if c == k else 1.0
            elif level == "interval":
                delta = (c - k) ** 2
            else:  # ordinal: the values between c and k, counting c and k by halves
                between = sum(counts[g] for g in values if c <= g <= k)
                delta = (between - (counts[c] + counts[k]) / 2) ** 2
            d[c, k] = d[k, c] = delta
    return d


def krippendorff_alpha(units: Sequence[Sequence[float]], level: Level = "ordinal") -> float | None:
    """Krippendorff's alpha of ``units``, each the values the coders gave one unit (missing
    values left out). Units with fewer than two values carry no information and are skipped.
    None when nothing is pairable or every value is the same (alpha is undefined)."""
    pairable = [list(u) for u in units if len(u) >= 2]
    coincidence: dict[tuple[float, float], float] = defaultdict(float)
    for unit in pairable:
        m = len(unit)
        for i, c in enumerate(unit):
            for j, k in enumerate(unit):
                if i != j:
                    coincidence[c, k] += 1 / (m - 1)
    counts: dict[float, float] = defaultdict(float)
    for (c, _), o in coincidence.items():
        counts[c] += o
    n = sum(counts.values())
    if len(counts) < 2:
        return None
    delta = _distance(level, counts)
    observed = sum(o * delta[pair] for pair, o in coincidence.items())
    expected = sum(counts[c] * counts[k] * delta[c, k] for c in counts for k in counts) / (n - 1)
    return 1 - observed / expected


@dataclass(frozen=True)
class Agreement:
    """How far reviewers agree on the images at least two of them rated."""

    reviewers: list[str]
    n_images: int
    """Images rated by anyone."""
    n_shared: int
    """Images rated by two reviewers or more (the ones alpha is computed over)."""
    alpha_ordinal: float | None
    alpha_interval: float | None
    mean_rating: dict[str, float]
    ratings_histogram: dict[str, dict[int, int]]


def ratings_files(paths: Sequence[Path]) -> list[Path]:
    """Each path as ratings files: an annotate run (all of ``reviews/*/ratings.jsonl``), a
    reviewer's folder, or a ratings file itself."""
    files: list[Path] = []
    for path in paths:
        if path.is_file():
            files.append(path)
        elif (path / RATINGS).is_file():
            files.append(path / RATINGS)
        elif (path / REVIEWS).is_dir():
            files.extend(sorted((path / REVIEWS).glob(f"*/{RATINGS}")))
        else:
            raise ViewerError(f"{path}: no ratings found (expected {REVIEWS}/<reviewer>/{RATINGS})")
    return files


def read_ratings(files: Sequence[Path]) -> dict[str, dict[str, int]]:
    """``{reviewer: {image: rating}}`` from ratings files (the reviewer named in each line)."""
    by_reviewer: dict[str, dict[str, int]] = {}
    sources: dict[str, Path] = {}
    for path in files:
        for number, row in read_jsonl(path, single_key=False):
            reviewer, image, rating = row.get("reviewer"), row.get("image"), row.get("rating")
            where = f"{path}, line {number}"
            if not isinstance(reviewer, str) or not isinstance(image, str):
                raise ViewerError(f"{where}: expected reviewer and image strings")
            if not is_rating(rating):
                raise ViewerError(f"{where}: rating must be an integer 0–5, got {rating!r}")
            if sources.setdefault(reviewer, path) != path:
                raise ViewerError(
                    f"{where}: reviewer {reviewer!r} also rates in {sources[reviewer]}"
                )
            by_reviewer.setdefault(reviewer, {})[image] = rating
    return by_reviewer


def agreement(ratings: dict[str, dict[str, int]]) -> Agreement:
    """Alpha (ordinal, the 0–5 scale's level, and interval) over images rated by ≥ 2 reviewers."""
    reviewers = sorted(ratings)
    images = sorted({i for r in ratings.values() for i in r})
    units = [[ratings[r][i] for r in reviewers if i in ratings[r]] for i in images]
    shared = [u for u in units if len(u) >= 2]
    return Agreement(
        reviewers=reviewers,
        n_images=len(images),
        n_shared=len(shared),
        alpha_ordinal=krippendorff_alpha(shared, "ordinal"),
        alpha_interval=krippendorff_alpha(shared, "interval"),
        mean_rating={r: sum(ratings[r].values()) / len(ratings[r]) for r in reviewers},
        ratings_histogram={
            r: {v: Counter(ratings[r].values())[v] for v in RATING_SCALE} for r in reviewers
        },
    )


def agreement_markdown(result: Agreement) -> str:
    def fmt(alpha: float | None) -> str:
        return (
            "undefined (too few shared ratings or no variation)"
            if alpha is None
            else f"{alpha:.3f}"
        )

    lines = [
        "# Reviewer agreement",
        "",
        f"{len(result.reviewers)} reviewers; {result.n_images} images rated, "
        f"{result.n_shared} by two or more.",
        "",
        f"- Krippendorff's alpha (ordinal): {fmt(result.alpha_ordinal)}",
        f"- Krippendorff's alpha (interval): {fmt(result.alpha_interval)}",
        "",
        "| reviewer | images | mean | " + " | ".join(str(v) for v in RATING_SCALE) + " |",
        "|---|---|---|" + "---|" * 6,
    ]
    for r in result.reviewers:
        hist = result.ratings_histogram[r]
        lines.append(
            f"| {r} | {sum(hist.values())} | {result.mean_rating[r]:.2f} | "
            + " | ".join(str(hist[v]) for v in RATING_SCALE)
            + " |"
        )
    return "\n".join(lines) + "\n"


def write_agreement(out_dir: Path, result: Agreement) -> tuple[Path, Path]:
    """``agreement.md`` and ``agreement.json`` in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    md, js = out_dir / "agreement.md", out_dir / "agreement.json"
    md.write_text(agreement_markdown(result), encoding="utf-8")
    js.write_text(json.dumps(asdict(result), indent=2) + "\n", encoding="utf-8")
    return md, js
