"""The built-in ``images`` dataset: unannotated images to annotate (``eicore annotate``).

Samples come from a folder of images — the emotion is each image's parent folder name, the
question a template filled with it — or from a JSONL file of ``{"image", "question"?,
"emotion"?}`` objects with paths relative to ``data.image_root``. They have no ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from eicore.datasets.samples import DataConfig, DataError, emotion_of, read_jsonl
from eicore.hookspecs import Register
from eicore.interfaces import Dataset
from eicore.plugins import hookimpl
from eicore.types import Sample

SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".webp"}


@dataclass
class ImagesConfig(DataConfig):
    items: str | None = None
    """A JSONL file of ``{"image": ..., "question": ..., "emotion": ...}``; else every image
    under ``image_root`` is a sample."""
    question: str = "Why does the person in the image feel {emotion}?"
    """The initial query for an image without its own question; ``{emotion}`` is filled in."""
    split: str = "images"


class Images(Dataset):
    config: ImagesConfig

    def __init__(self, config: ImagesConfig) -> None:
        if not config.image_root:
            raise DataError("data=images needs data.image_root, the folder of images")
        self.config = config

    def load(self) -> list[Sample]:
        if self.config.items:
            rows = self._from_jsonl(Path(self.config.items).expanduser())
        else:
            rows = self._from_folder(Path(self.config.image_root or "").expanduser())
        return [
            Sample(
                id=image,
                split=self.config.split,
                image=image,
                question=question or self.config.question.format(emotion=emotion or "this way"),
                triggers=(),
                emotion=emotion,
            )
            for image, question, emotion in rows
        ]

    def _from_folder(self, root: Path) -> list[tuple[str, str | None, str | None]]:
        if not root.is_dir():
            raise DataError(f"data.image_root={root} is not a folder")
        files = sorted(p for p in root.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file())
        if not files:
            raise DataError(f"no images ({', '.join(sorted(SUFFIXES))}) under {root}")
        for p in files:
            try:
                str(p).encode("utf-8")
            except UnicodeEncodeError:  # undecodable bytes in the name: no file could hold it
                raise DataError(f"{ascii(str(p))}: the file name is not UTF-8; rename it") from None
        return [
            (str(p.relative_to(root)), None, emotion_of(str(p.relative_to(root)))) for p in files
        ]

    def _from_jsonl(self, path: Path) -> list[tuple[str, str | None, str | None]]:
        rows = []
        seen: dict[str, int] = {}
        for number, row in read_jsonl(path, single_key=False):
            image = row.get("image")
            if not isinstance(image, str) or not image:
                raise DataError(f'{path}, line {number}: needs an "image" path')
            if image in seen:
                raise DataError(
                    f"{path}, line {number}: image {image!r} is already on line {seen[image]}; "
                    "annotations hold one question per image (the shape of user.jsonl)"
                )
            seen[image] = number
            rows.append((image, row.get("question"), row.get("emotion") or emotion_of(image)))
        return rows


@hookimpl
def eicore_register_datasets(register: Register) -> None:
    register("images", Images, ImagesConfig)
