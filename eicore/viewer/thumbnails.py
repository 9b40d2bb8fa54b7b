"""Small JPEG thumbnails of a run's images, as data URIs to embed in a page."""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from loguru import logger

from eicore.datasets.images import ImageError, read
from eicore.run.threads import budget

THUMBNAIL_PX = 128
"""The longer side of a thumbnail."""
JPEG_QUALITY = 70
CHUNK = 64
"""Images the thumbnail process makes between two checks that its run is still there."""


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


def thumbnail_uris(image_root: str | Path, relatives: Iterable[str]) -> dict[str, str | None]:
    """:func:`thumbnail_uri` of each image, made here, on a thread per CPU the process may use
    (Pillow decodes and encodes without the GIL)."""
    wanted = list(dict.fromkeys(relatives))
    if not wanted:
        return {}
    with ThreadPoolExecutor(budget().threads, thread_name_prefix="thumbnails") as pool:
        uris = pool.map(lambda relative: thumbnail_uri(image_root, relative), wanted)
        return dict(zip(wanted, uris, strict=True))


class ThumbnailProcess:
    """The thumbnails of a run's images, made by a process of their own while the run goes on.

    A run's event loop keeps its interpreter's one running thread busy, and report.html needs
    the thumbnails only once the run has ended: made there, in the run's own interpreter, they
    were the last ~1 s (synthetic images) to ~7 s (photos) of a 1,615-sample run. The process
    reads each image through the same checks; it runs in a session of its own, so a Ctrl-C
    at the terminal is the run's alone to handle, and it is killed when the run closes it.
    Whatever it could not make (it failed, or was killed) :meth:`uris` leaves out, and the
    report makes it in process."""

    def __init__(self, image_root: str | Path, relatives: Iterable[str]) -> None:
        wanted = json.dumps(list(dict.fromkeys(relatives)))
        self._made: dict[str, str | None] = {}
        self._process = subprocess.Popen(
            [sys.executable, "-c", "from eicore.viewer.thumbnails import main; main()",
             str(Path(image_root).absolute())],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True,
        )  # fmt: skip
        self._reader = threading.Thread(
            target=self._collect, args=(wanted,), name="thumbnails", daemon=True
        )
        self._reader.start()

    @classmethod
    def start(
        cls, image_root: str | Path | None, relatives: Iterable[str]
    ) -> ThumbnailProcess | None:
        """The process for these images, or None when there is no image root or the run may
        use one CPU only (it would compete with the run for it)."""
        if not image_root or budget().threads < 2:
            return None
        return cls(image_root, relatives)

    def _collect(self, wanted: str) -> None:
        out, err = self._process.communicate(wanted.encode("utf-8"))
        if self._process.returncode == 0 and out:  # none: it saw its run gone
            self._made = json.loads(out)
        elif self._process.returncode > 0:  # killed by close(): nothing to say
            last = err.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no message"]
            logger.debug("thumbnails process exited {}: {}", self._process.returncode, last[0])

    def uris(self) -> dict[str, str | None]:
        """The thumbnails made, by relative path (waits for the process to end)."""
        self._reader.join()
        return self._made

    def close(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
        self._reader.join()


def main() -> None:
    """The thumbnail process: the image root as its argument, a JSON list of relative paths
    on stdin; a JSON object of their URIs on stdout. It yields the CPU to the run it works
    for (a lower priority): the run's calls wait on its one busy interpreter thread."""
    if hasattr(os, "nice"):
        os.nice(10)
    run = os.getppid()
    relatives = json.load(sys.stdin)
    made: dict[str, str | None] = {}
    for start in range(0, len(relatives), CHUNK):
        if os.getppid() != run:  # the run was killed: nobody will read them
            return
        made |= thumbnail_uris(sys.argv[1], relatives[start : start + CHUNK])
    json.dump(made, sys.stdout)
