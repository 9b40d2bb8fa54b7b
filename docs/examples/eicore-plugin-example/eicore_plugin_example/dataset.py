"""``triggers-csv``: your own samples in a CSV file with ``image``, ``question`` and ``triggers``
columns (triggers separated by ``;``) and optional ``id`` and ``emotion`` columns."""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

from eicore import DataConfig, DataError, Dataset, Sample

COLUMNS = ("image", "question", "triggers")


@dataclass
class TriggersCSVConfig(DataConfig):
    path: str | None = None
    """The CSV file; image paths in it are relative to ``image_root``."""
    separator: str = ";"
    """What separates the triggers inside the ``triggers`` column."""
    split: str = "csv"
    """The split name, shown in run names and reports."""


class TriggersCSV(Dataset):
    """One sample per row; a sample's id is its ``id`` column, else its image path."""

    config: TriggersCSVConfig

    def __init__(self, config: TriggersCSVConfig) -> None:
        if not config.path:
            raise DataError("data=triggers-csv needs data.path, the CSV file")
        self.config = config
        self.path = Path(config.path).expanduser()

    def load(self) -> list[Sample]:
        try:
            with self.path.open(newline="", encoding="utf-8") as f:
                return self._samples(csv.DictReader(f))
        except OSError as exc:
            raise DataError(f"{self.path}: {exc.strerror or exc}") from None

    def _samples(self, reader: csv.DictReader[str]) -> list[Sample]:
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(f"{self.path}, line 1: missing column(s) {', '.join(missing)}")
        samples: list[Sample] = []
        seen: dict[str, int] = {}
        for row in reader:
            line = reader.line_num
            triggers = [t.strip() for t in (row["triggers"] or "").split(self.config.separator)]
            if not row["image"] or not row["question"] or not any(triggers):
                raise DataError(f"{self.path}, line {line}: needs an image, a question, triggers")
            sample_id = row.get("id") or row["image"]
            if sample_id in seen:
                raise DataError(
                    f"{self.path}, line {line}: id {sample_id!r} is already on line "
                    f"{seen[sample_id]}; give each row its own `id`"
                )
            seen[sample_id] = line
            samples.append(
                Sample(
                    id=sample_id,
                    split=self.config.split,
                    image=row["image"],
                    question=row["question"],
                    triggers=tuple(t for t in triggers if t),
                    emotion=row.get("emotion") or None,
                )
            )
        return samples

    def provenance(self) -> dict[str, str]:
        """The file and its digest, recorded in metrics.json."""
        return {
            "file": str(self.path),
            "sha256": hashlib.sha256(self.path.read_bytes()).hexdigest(),
        }
