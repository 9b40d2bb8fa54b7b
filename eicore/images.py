"""Image resolution under an image root, and reading images into prompt parts."""

from __future__ import annotations

import io
from pathlib import Path

from eicore.types import ImagePart

MEDIA_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}


class ImageError(Exception):
    """An image that cannot be used for one sample; the run records it and goes on."""


def resolve(image_root: str | Path | None, relative: str) -> Path:
    """The file for ``relative`` under ``image_root``; refuses paths that escape the root."""
    if image_root is None:
        raise ImageError(
            f"image {relative!r} is needed but no image root is set: "
            "set data.image_root=<folder holding EmoSet-118k/ and CAER-S/>"
        )
    root = Path(image_root).expanduser().resolve()
    if Path(relative).is_absolute():
        raise ImageError(
            f"image path {relative!r} is absolute; paths must be relative to data.image_root"
        )
    path = (root / relative).resolve()
    if not path.is_relative_to(root):
        raise ImageError(f"image path {relative!r} escapes data.image_root ({root}); refused")
    return path


def read(image_root: str | Path | None, relative: str) -> ImagePart:
    """Read and check one image; the media type comes from the bytes, not the file name."""
    from PIL import Image, UnidentifiedImageError

    path = resolve(image_root, relative)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ImageError(
            f"image not found: {path} (from {relative!r}; check data.image_root)"
        ) from None
    except OSError as exc:
        raise ImageError(f"image unreadable: {path}: {exc}") from None
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt = img.format
            img.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"not a usable image: {path}: {exc}") from None
    if fmt not in MEDIA_TYPES:
        raise ImageError(f"unsupported image format {fmt} in {path}; use PNG, JPEG, GIF or WebP")
    return ImagePart(path=path, data=data, media_type=MEDIA_TYPES[fmt])
