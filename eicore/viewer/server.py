"""``eicore view``: the viewer served on 127.0.0.1, full-size images from the image root, and the
review mode's save endpoint.

A local web server is still a web server: any page the reviewer's browser opens can send it
requests, and a DNS name can be rebound to 127.0.0.1. So every request must name this server
in its ``Host`` (else 421); a write must come from the server's own origin and carry the
session's token, which only the page the server served holds (else 403); a body has a size
limit and a read timeout; and every request ends in a status code, never a traceback.
"""

from __future__ import annotations

import hmac
import json
import secrets
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

from eicore.datasets.images import MAX_BYTES, ImageError, read_file
from eicore.log import read as read_log
from eicore.report.html import build_payload, image_root_of, report_title
from eicore.viewer.judge_review import answered, checked_labels, judge_review_page, save_labels
from eicore.viewer.page import render_page
from eicore.viewer.review import (
    Annotation,
    checked_review,
    load_annotations,
    review_page,
    save_review,
)
from eicore.viewer.runs import ViewerError, load_run, run_info

HOST = "127.0.0.1"
HOST_NAMES = (HOST, "localhost")
"""The names a request may give this server by (``Host``, ``Origin``)."""
IMAGE_PREFIX = "/image/"
SAVE_PATH = "/api/review"
TOKEN_HEADER = "X-Eicore-Token"
"""Where a write carries the session token (a custom header: a foreign page cannot send one
without the browser asking this server first, which it never allows)."""
IMAGE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".bmp": "image/bmp",
}
MAX_POST_BYTES = 1_000_000
MAX_NAME_BYTES = 255
"""The longest file name a file system takes."""
READ_TIMEOUT = 10.0
"""Seconds a request may take to send its headers or body before it is answered 408."""


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
    token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    """This session's write token: in the review page, checked on every write."""
    save: Callable[[Any], dict[str, Any]] | None = None
    """Saves a posted body (under the lock) and returns the reply, for tasks other than the
    annotation review (the judge review); raises ViewerError on a bad body."""


def report_site(run_dirs: Sequence[Path], image_root: Path | None) -> Site:
    """The sample browser of ``run_dirs``, images served from ``image_root`` (default: the
    runs' ``data.image_root``)."""
    logs = [read_log(d) for d in run_dirs]
    root = image_root or image_root_of([run_info(log) for log in logs])
    base = IMAGE_PREFIX if root else None
    payload = build_payload(logs, root, thumbnails=False, image_base=base)
    page = render_page(payload, report_title(logs)).encode("utf-8")
    return Site(lambda: page, Path(root) if root else None)


def review_site(run_dir: Path, reviewer: str, image_root: Path | None) -> Site:
    """The review page of the annotate run ``run_dir`` for ``reviewer``."""
    root = image_root or load_run(run_dir).image_root
    annotations = load_annotations(run_dir)
    token = secrets.token_urlsafe(32)
    review_page(run_dir, reviewer, root, token)  # fail now, not at the first request, on bad input

    def page() -> bytes:
        return review_page(run_dir, reviewer, root, token).encode("utf-8")

    return Site(page, Path(root) if root else None, run_dir, reviewer, annotations, token=token)


def judge_review_site(run_dir: Path, reviewer: str, image_root: Path | None) -> Site:
    """The judge-review page of the run ``run_dir`` for ``reviewer``: label each answer's
    ground-truth triggers matched or missed."""
    root = image_root or load_run(run_dir).image_root
    records = answered(run_dir)
    totals = {r.sample.id: len(r.sample.triggers) for r in records}
    order = [r.sample.id for r in records]
    token = secrets.token_urlsafe(32)
    judge_review_page(run_dir, reviewer, root, token)  # fail now on bad input

    def page() -> bytes:
        return judge_review_page(run_dir, reviewer, root, token).encode("utf-8")

    def save(body: Any) -> dict[str, Any]:
        labels = checked_labels(body, reviewer, totals)
        reviewed = save_labels(run_dir, reviewer, labels, order)
        return {"saved": list(labels.labels), "reviewed": reviewed}

    return Site(page, Path(root) if root else None, run_dir, reviewer, token=token, save=save)


def image_file(root: Path | None, relative: str) -> tuple[HTTPStatus, Path | str]:
    """The file ``relative`` names under ``root``, or the status and reason it is refused.
    Whether it is a regular file is for the reader to say
    (:func:`eicore.datasets.images.read_file`): asked here, the answer could change before the
    read."""
    if root is None:
        return HTTPStatus.NOT_FOUND, "no image root: pass --image-root or set data.image_root"
    if any(ord(c) < 32 or ord(c) == 127 for c in relative):
        return HTTPStatus.BAD_REQUEST, "refused: an image name holds a control character"
    parts = PurePosixPath(relative).parts
    if not relative or relative.startswith("/") or "\\" in relative or ".." in parts:
        return HTTPStatus.FORBIDDEN, f"refused: {relative!r} is not a path inside the image root"
    if any(len(p.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES for p in parts):
        return HTTPStatus.NOT_FOUND, "no image of a name that long under the image root"
    try:
        base = root.expanduser().resolve()
        path = (base / relative).resolve()
        if not path.is_relative_to(base):
            return HTTPStatus.FORBIDDEN, f"refused: {relative!r} leads outside the image root"
        if path.suffix.lower() not in IMAGE_TYPES:
            return HTTPStatus.NOT_FOUND, f"no image {relative!r} under the image root"
    except (OSError, ValueError):
        return HTTPStatus.NOT_FOUND, f"no image {relative!r} under the image root"
    return HTTPStatus.OK, path


class Handler(BaseHTTPRequestHandler):
    server: ViewerServer

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.read_timeout)  # for the headers and the body

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        """Quiet: the terminal shows the URL, not every request."""

    def parse_request(self) -> bool:
        """The base's, with a request whose headers stop coming answered 408."""
        try:
            return super().parse_request()
        except TimeoutError:
            self.close_connection = True
            self._text(HTTPStatus.REQUEST_TIMEOUT, "the request's headers did not arrive in time")
            return False

    def _send(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(body)

    def _text(self, status: HTTPStatus, text: str) -> None:
        self._send(status, (text + "\n").encode("utf-8"), "text/plain; charset=utf-8")

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self._answer(self._get)

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self._answer(self._post)

    def _answer(self, respond: Callable[[], None]) -> None:
        """``respond`` for a request that names this server; whatever happens, a status code."""
        port = self.server.server_address[1]
        if (self.headers.get("Host") or "").strip().lower() not in {
            f"{name}:{port}" for name in HOST_NAMES
        }:
            self._refuse(HTTPStatus.MISDIRECTED_REQUEST, f"this server answers only {HOST}:{port}")
            return
        try:
            respond()
        except TimeoutError:
            self.close_connection = True
            self._text(HTTPStatus.REQUEST_TIMEOUT, "the request's body did not arrive in time")
        except ConnectionError:
            self.close_connection = True  # the client left: nobody to answer
        except Exception as exc:  # a last resort: the request still gets its status code
            print(f"eicore view: {self.command} failed: {type(exc).__name__}", file=sys.stderr)
            self.close_connection = True
            self._text(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error (see the terminal)")

    def _get(self) -> None:
        site = self.server.site
        path = urlsplit(self.path).path
        if path in ("/", "/index.html"):
            with site.lock:  # never between a save's files
                page = site.page()
            self._send(HTTPStatus.OK, page, "text/html; charset=utf-8")
        elif path.startswith(IMAGE_PREFIX):
            relative = unquote(path[len(IMAGE_PREFIX) :])
            status, found = image_file(site.image_root, relative)
            if isinstance(found, str):
                self._text(status, found)
                return
            try:
                data = read_file(found)  # a FIFO or a device is refused, never read: no hang
            except ImageError:
                wanted = f"a regular file of at most {MAX_BYTES // 2**20} MB"
                self._text(HTTPStatus.NOT_FOUND, f"no usable image {relative!r}: {wanted}")
                return
            self._send(status, data, IMAGE_TYPES[found.suffix.lower()])
        else:
            self._text(HTTPStatus.NOT_FOUND, f"not found: {path!r}")

    def _post(self) -> None:
        site = self.server.site
        if urlsplit(self.path).path != SAVE_PATH or site.review_dir is None:
            self._refuse(HTTPStatus.NOT_FOUND, "not found (saving needs `eicore view --review`)")
            return
        raw = self._body()  # read first: a refusal sent over an unread body can be lost
        if raw is None:
            return
        refused = self._write_refusal()
        if refused:
            self._text(HTTPStatus.FORBIDDEN, refused)
            return
        if self.headers.get_content_type() != "application/json":
            self._text(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "a review is sent as application/json")
            return
        try:
            body = json.loads(raw)
            if site.save is not None:
                with site.lock:
                    reply = json.dumps(site.save(body)).encode("utf-8")
                self._send(HTTPStatus.OK, reply, "application/json")
                return
            review = checked_review(body, {a.image for a in site.annotations})
        except (ViewerError, ValueError, RecursionError) as exc:
            self._text(HTTPStatus.BAD_REQUEST, str(exc))
            return
        assert site.reviewer is not None
        with site.lock:
            reviews = save_review(site.review_dir, site.reviewer, review, site.annotations)
        saved = {"triggers": list(review.triggers), "rating": review.rating}
        reply = json.dumps({"saved": saved, "reviewed": len(reviews)}).encode("utf-8")
        self._send(HTTPStatus.OK, reply, "application/json")

    def _refuse(self, status: HTTPStatus, text: str) -> None:
        """Answer ``status`` before reading the request's body, then close: the body is read
        (when it has a usable length) so that the answer is not lost to a reset."""
        given = (self.headers.get("Content-Length") or "").strip()
        if given.isdigit() and int(given) <= MAX_POST_BYTES:
            try:
                self.rfile.read(int(given))
            except TimeoutError:
                pass
        self.close_connection = True
        self._text(status, text)

    def _write_refusal(self) -> str | None:
        """Why this write is refused: another site's page sent it, or it lacks the token."""
        port = self.server.server_address[1]
        origin = self.headers.get("Origin")
        if origin is not None and origin.lower() not in {f"http://{h}:{port}" for h in HOST_NAMES}:
            return "refused: a write must come from this server's own page"
        if self.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
            return "refused: a write must come from this server's own page"
        token = self.headers.get(TOKEN_HEADER, "")
        if not hmac.compare_digest(token.encode(), self.server.site.token.encode()):
            return "refused: missing or wrong session token (reload the page)"
        return None

    def _body(self) -> bytes | None:
        """The request's body, or None once a reason it is refused has been sent."""
        given = self.headers.get("Content-Length")
        if given is None or self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            self._text(HTTPStatus.LENGTH_REQUIRED, "send the body with a Content-Length")
            return None
        if not given.strip().isdigit():
            self.close_connection = True
            self._text(HTTPStatus.BAD_REQUEST, "Content-Length is not a number of bytes")
            return None
        length = int(given)
        if length > MAX_POST_BYTES:
            self.close_connection = True
            self._text(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "review too large")
            return None
        raw = self.rfile.read(length)
        if len(raw) < length:
            self.close_connection = True
            self._text(HTTPStatus.BAD_REQUEST, "the body ended before its Content-Length")
            return None
        return raw


class ViewerServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, site: Site, port: int, read_timeout: float = READ_TIMEOUT) -> None:
        self.site = site
        self.read_timeout = read_timeout
        super().__init__((HOST, port), Handler)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server_address[1]}/"
