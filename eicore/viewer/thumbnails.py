"""Small JPEG thumbnails of a run's images, as data URIs to embed in a page."""

from __future__ import annotations

import base64
import io
from pathlib import Path

from eicore.datasets.images import ImageError, read

THUMBNAIL_PX = 128
"""The longer side of a thumbnail."""
JPEG_QUALITY = 70


def thumbnail_uri(image_root: str | Path, relative: str, size: int = THUMBNAIL_PX) -> str | None:
    """A ``data:image/jpeg`` URI of the image at ``relative`` under ``image_root``, at most
    ``size`` pixels on its longer side; None when the image is missing, unreadable or would
    leave the root. Images are read and checked as a run reads them (a regular file of sane
    size and pixel count), so no image can stall or crash the writing of a report."""
    from PIL import Image

    try:
        part = read(image_root, relative)
        with Image.open(io.BytesIO(part.data)) as img:
            img.draft("RGB", (size, size))  # JPEG: decode at a reduced scale, much faster
            small = img.convert("RGB")
            small.thumbnail((size, size))
    except (ImageError, OSError, ValueError):
        return None
    out = io.BytesIO()
    small.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode("ascii")
