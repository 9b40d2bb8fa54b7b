"""``eicore view``: the viewer served on 127.0.0.1, full-size images from the image root, and the
review mode's save endpoint."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

from eicore.viewer.judge_review import answered, checked_labels, judge_review_page, save_labels
from eicore.viewer.page import render_page
from eicore.viewer.report import build_payload, image_root_of, report_title
from eicore.viewer.review import (
    Annotation,
    checked_review,
    load_annotations,
    review_page,
    save_review,
)
from eicore.viewer.runs import ViewerError, load_run

HOST = "127.0.0.1"
IMAGE_PREFIX = "/image/"
SAVE_PATH = "/api/review"
IMAGE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".bmp": "image/bmp",
}
MAX_POST_BYTES = 1_000_000


@dataclass
class Site:
    """What the server serves: the page, the image root, and (review mode) where to save."""

    page: Callable[[], bytes]
    """The page, built when it is requested (review mode shows what was saved so far)."""
    image_root: Path | None
    review_dir: Path | None = None
    reviewer: str | None = None
    annotations: list[Annotation] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    save: Callable[[Any], dict[str, Any]] | None = None
    """Saves a posted body (under the lock) and returns the reply, for tasks other than the
    annotation review (the judge review); raises ViewerError on a bad body."""


def report_site(run_dirs: Sequence[Path], image_root: Path | None) -> Site:
    """The sample browser of ``run_dirs``, images served from ``image_root`` (default: the
    runs' ``data.image_root``)."""
    root = image_root or image_root_of([load_run(d) for d in run_dirs])
    base = IMAGE_PREFIX if root else None
    payload = build_payload(run_dirs, root, thumbnails=False, image_base=base)
    page = render_page(payload, report_title(run_dirs)).encode("utf-8")
    return Site(lambda: page, Path(root) if root else None)


def review_site(run_dir: Path, reviewer: str, image_root: Path | None) -> Site:
    """The review page of the annotate run ``run_dir`` for ``reviewer``."""
    root = image_root or load_run(run_dir).image_root
    annotations = load_annotations(run_dir)
    review_page(run_dir, reviewer, root)  # fail now, not at the first request, on bad input

    def page() -> bytes:
        return review_page(run_dir, reviewer, root).encode("utf-8")

    return Site(page, Path(root) if root else None, run_dir, reviewer, annotations)


def judge_review_site(run_dir: Path, reviewer: str, image_root: Path | None) -> Site:
    """The judge-review page of the run ``run_dir`` for ``reviewer``: label each answer's
    ground-truth triggers matched or missed."""
    root = image_root or load_run(run_dir).image_root
    records = answered(run_dir)
    totals = {r.sample.id: len(r.sample.triggers) for r in records}
    order = [r.sample.id for r in records]
    judge_review_page(run_dir, reviewer, root)  # fail now on bad input

    def page() -> bytes:
        return judge_review_page(run_dir, reviewer, root).encode("utf-8")

    def save(body: Any) -> dict[str, Any]:
        labels = checked_labels(body, reviewer, totals)
        reviewed = save_labels(run_dir, reviewer, labels, order)
        return {"saved": list(labels.labels), "reviewed": reviewed}

    return Site(page, Path(root) if root else None, run_dir, reviewer, save=save)


def image_file(root: Path | None, relative: str) -> tuple[HTTPStatus, Path | str]:
    """The file ``relative`` names under ``root``, or the status and reason it is refused."""
    if root is None:
        return HTTPStatus.NOT_FOUND, "no image root: pass --image-root or set data.image_root"
    parts = PurePosixPath(relative).parts
    if not relative or relative.startswith("/") or "\\" in relative or ".." in parts:
        return HTTPStatus.FORBIDDEN, f"refused: {relative!r} is not a path inside the image root"
    base = root.expanduser().resolve()
    path = (base / relative).resolve()
    if not path.is_relative_to(base):
        return HTTPStatus.FORBIDDEN, f"refused: {relative!r} leads outside the image root"
    if path.suffix.lower() not in IMAGE_TYPES or not path.is_file():
        return HTTPStatus.NOT_FOUND, f"no image {relative!r} under the image root"
    return HTTPStatus.OK, path


class Handler(BaseHTTPRequestHandler):
    server: ViewerServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        """Quiet: the terminal shows the URL, not every request."""

    def _send(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _text(self, status: HTTPStatus, text: str) -> None:
        self._send(status, (text + "\n").encode("utf-8"), "text/plain; charset=utf-8")

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        site = self.server.site
        path = urlsplit(self.path).path
        if path in ("/", "/index.html"):
            with site.lock:  # never between a save's files
                page = site.page()
            self._send(HTTPStatus.OK, page, "text/html; charset=utf-8")
        elif path.startswith(IMAGE_PREFIX):
            status, found = image_file(site.image_root, unquote(path[len(IMAGE_PREFIX) :]))
            if isinstance(found, str):
                self._text(status, found)
            else:
                self._send(status, found.read_bytes(), IMAGE_TYPES[found.suffix.lower()])
        else:
            self._text(HTTPStatus.NOT_FOUND, f"not found: {path}")

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        site = self.server.site
        if urlsplit(self.path).path != SAVE_PATH or site.review_dir is None:
            self._text(HTTPStatus.NOT_FOUND, "not found (saving needs `eicore view --review`)")
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_POST_BYTES:
            self._text(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "review too large")
            return
        try:
            body = json.loads(self.rfile.read(length) or b"null")
            if site.save is not None:
                with site.lock:
                    reply = json.dumps(site.save(body)).encode("utf-8")
                self._send(HTTPStatus.OK, reply, "application/json")
                return
            review = checked_review(body, {a.image for a in site.annotations})
        except (ViewerError, json.JSONDecodeError, UnicodeDecodeError) as exc:
            self._text(HTTPStatus.BAD_REQUEST, str(exc))
            return
        assert site.reviewer is not None
        with site.lock:
            reviews = save_review(site.review_dir, site.reviewer, review, site.annotations)
        saved = {"triggers": list(review.triggers), "rating": review.rating}
        reply = json.dumps({"saved": saved, "reviewed": len(reviews)}).encode("utf-8")
        self._send(HTTPStatus.OK, reply, "application/json")


class ViewerServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, site: Site, port: int) -> None:
        self.site = site
        super().__init__((HOST, port), Handler)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server_address[1]}/"
