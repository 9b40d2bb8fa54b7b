"""Image resolution under an image root, and reading images into prompt parts."""

from __future__ import annotations

import functools
import io
import os
import stat
import warnings
from pathlib import Path

from eicore.types import ImagePart

MEDIA_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}
END_MARKERS = {"JPEG": b"\xff\xd9", "GIF": b"\x3b"}
"""How a whole file of these formats ends (Pillow's ``verify`` does not notice a cut JPEG or GIF;
PNG and WebP it does)."""
MAX_BYTES = 64 * 2**20
"""The largest image file read (no provider takes more than about 20 MB per image)."""
MAX_PIXELS = 50_000_000
"""The most pixels an image may claim: a few kilobytes of PNG can claim 400 megapixels (a
decompression bomb), gigabytes once decoded; the largest EIBench image has under 1 megapixel."""


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
    if os.path.isabs(relative):
        raise ImageError(
            f"image path {relative!r} is absolute; paths must be relative to data.image_root"
        )
    path = os.path.realpath(os.path.join(root, relative))  # str: a Path's costs twice as much
    if path != root and not path.startswith(root.rstrip(os.sep) + os.sep):
        raise ImageError(f"image path {relative!r} escapes data.image_root ({root}); refused")
    return Path(path)


@functools.lru_cache(maxsize=8)
def _resolved(image_root: str) -> str:
    """The (absolute) image root with its symlinks resolved: once a run, not once a sample."""
    return os.path.realpath(image_root)


def read_file(path: Path, limit: int = MAX_BYTES, source: str = "") -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them. Anything else (a FIFO,
    a device, a folder) is refused before it is read: reading one could block forever.
    ``source``: where the path came from, for the message of a missing file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO opens at once, unread
    except FileNotFoundError:
        raise ImageError(f"image not found: {path} ({source}check data.image_root)") from None
    except OSError as exc:
        raise ImageError(f"image unreadable: {path}: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        mode = info.st_mode
        if not stat.S_ISREG(mode):
            kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file (a FIFO or a device)"
            raise ImageError(f"not a usable image: {path}: {kind}")
        chunks, size = [], 0
        want = min(limit, info.st_size) + 1  # its size and a byte more (it may have grown): a
        while size <= limit:  # buffer of `limit` bytes cost more than a small image's read
            chunk = os.read(fd, want)
            chunks.append(chunk)
            size += len(chunk)
            if len(chunk) < want:  # the end of the file
                break
            want = limit + 1 - size
        data = b"".join(chunks)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise ImageError(f"not a usable image: {path}: larger than {limit // 2**20} MB; refused")
    return data


def read(image_root: str | Path | None, relative: str) -> ImagePart:
    """Read and check one image; the media type comes from the bytes, not the file name."""
    path = resolve(image_root, relative)
    data = read_file(path, source=f"from {relative!r}; ")
    if not data:
        raise ImageError(f"not a usable image: {path}: the file is empty (0 bytes)")
    fmt = check(data, path)
    return ImagePart(path=path, data=data, media_type=MEDIA_TYPES[fmt])


def check(data: bytes, path: Path) -> str:
    """The format of the image ``data`` (read from ``path``) once it is known to decode and to
    be of a sane size; an ImageError naming ``path`` otherwise."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                fmt = img.format
                pixels = img.width * img.height
                if pixels > MAX_PIXELS:
                    raise ImageError(
                        f"not a usable image: {path}: {img.width}x{img.height} pixels is more "
                        f"than {MAX_PIXELS:,} (a decompression bomb?); refused"
                    )
                img.verify()
            if fmt in END_MARKERS and not data.rstrip(b"\0\r\n ").endswith(END_MARKERS[fmt]):
                with Image.open(io.BytesIO(data)) as img:
                    img.load()  # no end marker: decode it all (rare): trailing bytes, or a cut?
    except UnidentifiedImageError:
        raise ImageError(
            f"not a usable image: {path}: not an image in any format Pillow reads"
        ) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(f"not a usable image: {path}: too many pixels ({exc})") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"not a usable image: {path}: {exc}") from None
    if fmt not in MEDIA_TYPES:
        raise ImageError(f"unsupported image format {fmt} in {path}; use PNG, JPEG, GIF or WebP")
    return str(fmt)
