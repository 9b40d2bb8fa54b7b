"""Image resolution under an image root, and reading images into prompt parts."""

from __future__ import annotations

import functools
import io
import os
from pathlib import Path

from eicore.types import ImagePart

MEDIA_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}
END_MARKERS = {"JPEG": b"\xff\xd9", "GIF": b"\x3b"}
"""How a whole file of these formats ends (Pillow's ``verify`` does not notice a cut JPEG or GIF;
PNG and WebP it does)."""


class ImageError(Exception):
    """An image that cannot be used for one sample; the run records it and goes on."""


def resolve(image_root: str | Path | None, relative: str) -> Path:
    """The file for ``relative`` under ``image_root``; refuses paths that escape the root."""
    if image_root is None:
        raise ImageError(
            f"image {relative!r} is needed but no image root is set: "
            "set data.image_root=<folder holding EmoSet-118k/ and CAER-S/>"
        )
    root = _resolved(os.path.abspath(os.path.expanduser(image_root)))
    if Path(relative).is_absolute():
        raise ImageError(
            f"image path {relative!r} is absolute; paths must be relative to data.image_root"
        )
    path = (root / relative).resolve()
    if not path.is_relative_to(root):
        raise ImageError(f"image path {relative!r} escapes data.image_root ({root}); refused")
    return path


@functools.lru_cache(maxsize=8)
def _resolved(image_root: str) -> Path:
    """The (absolute) image root with its symlinks resolved: once a run, not once a sample."""
    return Path(image_root).resolve()


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
    if not data:
        raise ImageError(f"not a usable image: {path}: the file is empty (0 bytes)")
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt = img.format
            img.verify()
        if fmt in END_MARKERS and not data.rstrip(b"\0\r\n ").endswith(END_MARKERS[fmt]):
            with Image.open(io.BytesIO(data)) as img:
                img.load()  # no end marker: decode it all (rare) to tell trailing bytes from a cut
    except UnidentifiedImageError:
        raise ImageError(
            f"not a usable image: {path}: not an image in any format Pillow reads"
        ) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"not a usable image: {path}: {exc}") from None
    if fmt not in MEDIA_TYPES:
        raise ImageError(f"unsupported image format {fmt} in {path}; use PNG, JPEG, GIF or WebP")
    return ImagePart(path=path, data=data, media_type=MEDIA_TYPES[fmt])
