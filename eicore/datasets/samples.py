"""EIBench-shaped files into samples, and the subsets a run selects."""

from __future__ import annotations

import collections
import functools
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loguru import logger

from eicore.types import EMOTIONS, Sample

FOLDER_EMOTIONS = {
    "angry": "angry", "anger": "angry",
    "happy": "happy", "happiness": "happy",
    "sad": "sad", "sadness": "sad",
    "excited": "excited", "excitement": "excited",
}  # fmt: skip
"""Image folder names → EIBench's emotion labels (the basic split's emotion is its folder)."""

_NUMBERED = re.compile(r"^\s*(?:\(\d+\)|\d+\s*[.)]|\d+\s*[-:]\s)\s*")
"""A trigger's numbering: ``1.``, ``1)``, ``(1)``, ``1 -``, ``1:`` (``3-year-old`` is no number)."""
_LEAD = re.compile(r"\s*(\(?)(\d+)\s*([.):-])")
_REFUSAL = re.compile(r"\b(I'm unable|I am unable|I cannot|I can't|as an AI)\b", re.IGNORECASE)
_TYPOS = re.compile(
    r"\b(information of|may caused|can infer to|the angry of|being enjoyment|to be enjoyed"
    r"|the bay\b|What make the|cause the woman angry)",
    re.IGNORECASE,
)
"""The misspellings of EIBench's complex questions ("information of" for "formation of",
"the bay" for "the baby", "may caused"...), flagged ``typo`` (docs/data.md lists them)."""


class DataError(ValueError):
    """A data file that cannot be used; the message names the file and, where it applies, the
    line."""


@dataclass
class DataConfig:
    """Fields every dataset shares: where images live and which samples a run takes."""

    image_root: str | None = None
    emotions: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    limit: int | None = None
    shard: str | None = None
    """``i/n``: keep every n-th sample starting at i (0-based), for cluster jobs."""


def parse_triggers(text: str) -> tuple[str, ...]:
    """``"1. a\\n2. b"`` → ``("a", "b")``; unnumbered lines are kept as they are. A numbered
    list written on one line (``"1. a. 2. b."``) is split where the next number follows."""
    items = (_NUMBERED.sub("", item).strip() for line in text.splitlines() for item in _items(line))
    return tuple(item for item in items if item)


def _items(line: str) -> list[str]:
    """One line of a trigger list as its numbered items: after item n, item n+1 starts where
    its number is written the way n's is (``1.``, ``2.``; ``(1)``, ``(2)``)."""
    first = _LEAD.match(line)
    if first is None:
        return [line]
    opening, number, mark = first[1], int(first[2]), first[3]
    items: list[str] = []
    start, position = 0, first.end()
    while True:
        found = _next_number(opening, number + 1, mark).search(line, position)
        if found is None:
            return [*items, line[start:]]
        items.append(line[start : found.start()])
        start, position, number = found.start(), found.end(), number + 1


@functools.lru_cache(maxsize=256)
def _next_number(opening: str, number: int, mark: str) -> re.Pattern[str]:
    """Where item ``number`` of a one-line list starts (a list's items are numbered alike)."""
    return re.compile(rf"\s{re.escape(opening)}{number}\s*{re.escape(mark)}(?:\s|$)")


def emotion_of(image: str) -> str | None:
    """The emotion an image's folder names: EIBench's label for its folder names, any other
    folder's name as it is (custom data may have ``fear/``), None for no folder."""
    folder = Path(image).parent.name.lower()
    return FOLDER_EMOTIONS.get(folder, folder or None)


def report_emotions(samples: Sequence[Sample], source: Path) -> None:
    """A warning when a basic file's folders are not exactly EIBench's four emotions: another
    folder name is an emotion of its own in the by-emotion recall and in Macro, and an image
    in no folder has no emotion (it counts in Overall only)."""
    others = collections.Counter(s.emotion for s in samples if s.emotion not in EMOTIONS)
    if not others:
        return
    named = [f"{e!r} ({n})" for e, n in sorted(others.items(), key=lambda i: str(i[0])) if e]
    parts = []
    if named:
        parts.append(
            f"emotions other than EIBench's {', '.join(EMOTIONS)}: {', '.join(named)}; each is "
            "an emotion of its own in the by-emotion recall and in Macro"
        )
    if others.get(None):
        parts.append(f"{others[None]} images in no folder have no emotion: Overall only")
    logger.warning("{}: {}", source, "; ".join(parts))


def flags_of(question: str, truth: str) -> tuple[str, ...]:
    """Defects of one sample's question and raw ground-truth text."""
    flags = []
    if _REFUSAL.search(question):
        flags.append("question-is-refusal")
    if question.rstrip().endswith(("'", '"')):
        flags.append("stray-quote")
    if question.rstrip().endswith("."):
        flags.append("trailing-period")
    if _TYPOS.search(question):
        flags.append("typo")
    if any(
        _NUMBERED.sub("", line).strip() == "" and _NUMBERED.match(line)
        for line in truth.splitlines()
    ):
        flags.append("empty-trigger-item")
    return tuple(flags)


class _DuplicateKeyError(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(f"key {key!r} appears twice in one object")
        self.key = key


class _UnwritableTextError(ValueError):
    def __init__(self, text: str) -> None:
        bad = next(c for c in text if 0xD800 <= ord(c) <= 0xDFFF)
        super().__init__(
            f"text {text[:60]!r} holds a lone surrogate (\\u{ord(bad):04x}), which no UTF-8 file "
            "can hold; fix the escape (a pair like \\ud83d\\ude00, or the character itself)"
        )


def _writable(value: Any) -> Any:
    """``value`` if it is a string that UTF-8 can encode (JSON's ``\\ud800`` escape decodes to
    one it cannot: every later write of the run's files would fail on it)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise _UnwritableTextError(value) from None
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook`` refusing a key given twice (``json`` would keep the last silently)
    and text that cannot be written back as UTF-8."""
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if _writable(key) in obj:
            raise _DuplicateKeyError(key)
        obj[key] = _writable(value)
    return obj


def _second_line(text: str, key: str) -> str:
    """``, line N``: where ``key`` appears the second time in a JSON text, when it can tell."""
    found = [m.start() for m in re.finditer(re.escape(json.dumps(key, ensure_ascii=False)), text)]
    return f", line {text[: found[1]].count(chr(10)) + 1}" if len(found) > 1 else ""


def _surrogate_line(text: str) -> str:
    """``, line N``: the line of the first lone surrogate escape in a JSON text."""
    for match in re.finditer(
        r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}(\\u[dD][c-fC-F][0-9a-fA-F]{2})?", text
    ):
        if match[1] is None or match[0][2].lower() in "cdef":
            return f", line {text[: match.start()].count(chr(10)) + 1}"
    return ""


def parse_json(text: str, where: str) -> Any:
    """``text`` as JSON with no key repeated in an object; errors name ``where``."""
    try:
        return json.loads(text, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        raise DataError(f"{where}: malformed JSON ({exc.msg}, column {exc.colno})") from None
    except _DuplicateKeyError as exc:
        raise DataError(f"{where}: {exc}") from None
    except _UnwritableTextError as exc:
        raise DataError(f"{where}: {exc}") from None


def read_text(path: Path) -> str:
    """A UTF-8 file's text (a BOM is dropped); bytes that are not UTF-8 are a DataError
    naming the line."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DataError(
            f"{path}, line {line}: not UTF-8 text (byte {data[exc.start]:#04x}); "
            "save the file as UTF-8"
        ) from None


def read_jsonl(path: Path, single_key: bool = True) -> list[tuple[int, dict[str, Any]]]:
    """Objects of a JSONL file with their 1-based line numbers; blank lines are skipped.

    ``single_key``: every object must be EIBench's ``{key: value}`` shape.
    """
    text = read_text(path)
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        obj = parse_json(line, f"{path}, line {number}")
        if not isinstance(obj, dict) or (single_key and len(obj) != 1):
            expected = "one {key: value} object" if single_key else "a JSON object"
            raise DataError(f"{path}, line {number}: expected {expected}")
        rows.append((number, obj))
    if not rows:
        raise DataError(f"{path}: no samples in file")
    return rows


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise DataError(f"{where}: expected a non-empty string, got {type(value).__name__}")
    return value


def load_basic(questions: Path, ground_truth: Path, split: str = "basic") -> list[Sample]:
    """``user.jsonl`` + ``basic_ground_truth.json``; the sample id is the image path."""
    text = read_text(ground_truth)
    try:
        truth = json.loads(text, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        raise DataError(
            f"{ground_truth}, line {exc.lineno}: malformed JSON ({exc.msg}, column {exc.colno})"
        ) from None
    except _DuplicateKeyError as exc:
        raise DataError(f"{ground_truth}{_second_line(text, exc.key)}: {exc}") from None
    except _UnwritableTextError as exc:
        raise DataError(f"{ground_truth}{_surrogate_line(text)}: {exc}") from None
    if not isinstance(truth, dict):
        raise DataError(f"{ground_truth}: expected an object mapping image path → triggers")
    samples: list[Sample] = []
    seen: set[str] = set()
    for number, row in read_jsonl(questions):
        ((image, question),) = row.items()
        where = f"{questions}, line {number}"
        question = _string(question, where)
        if image in seen:
            raise DataError(f"{where}: duplicate image {image!r}")
        seen.add(image)
        if image not in truth:
            raise DataError(f"{ground_truth}: no ground truth for {image!r} ({where})")
        in_truth = f"{ground_truth}, key {image!r}"
        text = _string(truth[image], in_truth)
        samples.append(_sample(image, split, image, question, text, emotion_of(image), in_truth))
    report_emotions(samples, questions)
    return samples


def load_complex(path: Path, split: str = "complex") -> list[Sample]:
    """``ec_complex.jsonl``: ids are the image path plus a digest of the question."""
    samples: list[Sample] = []
    seen: set[str] = set()
    for number, row in read_jsonl(path):
        ((image, inner),) = row.items()
        where = f"{path}, line {number}"
        if not isinstance(inner, dict) or not inner:
            raise DataError(f"{where}: expected {{image: {{question: triggers}}}}")
        for question, truth in inner.items():
            sample_id = f"{image}#{hashlib.sha256(question.encode()).hexdigest()[:8]}"
            if sample_id in seen:
                raise DataError(f"{where}: question repeated for {image!r}: {question!r}")
            seen.add(sample_id)
            text = _string(truth, where)
            question = _string(question, where)
            samples.append(_sample(sample_id, split, image, question, text, None, where))
    return samples


def _sample(
    id: str, split: str, image: str, question: str, truth: str, emotion: str | None, where: str
) -> Sample:
    triggers = parse_triggers(truth)
    if not triggers:
        raise DataError(f"{where}: empty trigger list for {id!r}")
    return Sample(id, split, image, question, triggers, emotion, flags_of(question, truth), truth)


def report_defects(samples: Sequence[Sample]) -> None:
    """One warning naming the flagged samples: defects are surfaced, never silently fixed."""
    flagged = [f"{s.id} ({', '.join(s.flags)})" for s in samples if s.flags]
    if flagged:
        logger.warning("{} samples flagged as data defects: {}", len(flagged), "; ".join(flagged))


def select(samples: Sequence[Sample], config: DataConfig) -> list[Sample]:
    """Apply the config's subsets in order: emotions, ids, shard, limit."""
    chosen = list(samples)
    if config.limit is not None and config.limit < 0:
        raise DataError(f"data.limit={config.limit}: give a number of samples, 0 or more")
    if config.emotions:
        present = sorted({s.emotion for s in samples if s.emotion}, key=_emotion_order)
        unknown = [e for e in config.emotions if e not in present]
        if unknown:
            raise DataError(
                f"data.emotions: no samples with emotion {unknown}; this data has "
                f"{', '.join(present) or 'no emotion labels'} (lower case, as in "
                f"data.emotions=[{present[0] if present else 'angry'}])"
            )
        chosen = [s for s in chosen if s.emotion in config.emotions]
    if config.ids:
        repeated = sorted({i for i in config.ids if config.ids.count(i) > 1})
        if repeated:
            raise DataError(f"data.ids: {repeated[:5]} given more than once; give each id once")
        by_id = {s.id: s for s in chosen}
        missing = [i for i in config.ids if i not in by_id]
        if missing:
            raise DataError(f"data.ids: unknown sample ids {missing[:5]}")
        chosen = [by_id[i] for i in config.ids]
    if config.shard:
        index, count = parse_shard(config.shard)
        chosen = chosen[index::count]
    if config.limit is not None:
        chosen = chosen[: config.limit]
    return chosen


def _emotion_order(emotion: str) -> tuple[int, str]:
    return (EMOTIONS.index(emotion) if emotion in EMOTIONS else len(EMOTIONS), emotion)


def parse_shard(shard: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", shard)
    if not match or not 0 <= int(match[1]) < int(match[2]):
        raise DataError(f"data.shard={shard!r}: expected i/n with 0 <= i < n")
    return int(match[1]), int(match[2])
