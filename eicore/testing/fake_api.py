"""A fake Anthropic / OpenAI / Gemini HTTP API on 127.0.0.1, for testing model plugins.

The provider SDKs send requests with ``httpx2``, which httpx mocking libraries do not intercept,
so a plugin is tested against a real local server. :class:`FakeAPI` answers three wire formats
with the providers' response shapes (usage fields included)::

    POST /v1/messages                             Anthropic Messages  (base_url: fake.url)
    POST /v1/chat/completions                     OpenAI chat  (base_url: fake.url + "/v1")
    POST /v1beta/models/{model}:generateContent   Gemini              (base_url: fake.url)

and the two batch APIs, which the real SDKs drive unchanged::

    POST /v1/files, POST /v1/batches, GET /v1/batches/{id}, GET /v1/files/{id}/content
                                                  OpenAI Batch API  (purpose=batch JSONL files)
    POST /v1/messages/batches, GET /v1/messages/batches/{id}[/results]
                                                  Anthropic Message Batches

Only these paths, as servers of each format (the providers' and gateways such as LiteLLM's)
answer them; any other path is a 404, so a client posting to the wrong place fails its test.
A batch refuses what the provider refuses (duplicate or malformed custom ids, lines that are
not JSON or name another endpoint or model, unknown ids); each of its requests is answered by
the script or ``answer`` when the batch ends (``Reply.expired()``: not run in time), logged
with ``Received.batch`` set. ``hold_batches=True`` keeps batches in progress until
``release_batches()``; ``wait_for_request(predicate)`` waits for a request without polling.

Replies come from a script (a queue of :class:`Reply` or plain strings, consumed in order),
then from ``answer`` (a Reply, a string, or a callable given the :class:`Received` request).
Faults are replies too: ``Reply.rate_limited()``, ``Reply.server_error()``, ``Reply.slow(s)``,
``Reply.malformed()``, ``Reply.truncated()``, ``Reply.connection_reset()``, ``Reply.stalled()``,
``Reply.empty()``, ``Reply.refusal()``. ``rate_limit=R`` makes it a rate-limited API: a token
bucket of R requests per second (``burst`` deep) admits requests, and beyond it the fake
answers 429 at once with ``retry-after-ms`` and ``Retry-After`` (the time until the next
token), as the providers do; ``fake.rate_limited`` counts those answers. Every
request is logged (``fake.requests``), with the reply sent and the token counts reported::

    with FakeAPI([Reply.rate_limited(), "1. A raised fist"], latency=0.05) as fake:
        client = AsyncOpenAI(api_key="test-key", base_url=fake.url + "/v1")
        ...
        assert fake.requests[-1].body["model"] == "gpt-4o"

As a pytest fixture: ``with FakeAPI() as fake: yield fake`` (or one server per session and
``fake.reset()`` between tests). ``python -m eicore.testing.fake_api --latency 0.1`` serves from a
process of its own and prints its URL (for benchmarks, where a server in the measured process
would compete for its CPU).
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import datetime
import email.parser
import email.policy
import itertools
import json
import math
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal, Self

Provider = Literal["anthropic", "openai", "gemini"]

DEFAULT_TEXT = "1. The person's facial expression\n2. Something that happened just before"

_GEMINI_PATH = re.compile(r"/v1beta/models/(?P<model>[^/:]+):generateContent")
_FINISH = {
    "anthropic": {"stop": "end_turn", "length": "max_tokens", "refusal": "refusal"},
    "openai": {"stop": "stop", "length": "length", "refusal": "content_filter"},
    "gemini": {"stop": "STOP", "length": "MAX_TOKENS", "refusal": "SAFETY"},
}
"""Abstract finish reasons → each provider's; any other value is sent as it is."""
_ERROR_KIND = {
    "anthropic": {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
                  429: "rate_limit_error", 529: "overloaded_error"},
    "openai": {400: "invalid_request_error", 401: "invalid_request_error",
               404: "invalid_request_error", 429: "rate_limit_exceeded"},
    "gemini": {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 404: "NOT_FOUND",
               429: "RESOURCE_EXHAUSTED", 503: "UNAVAILABLE"},
}  # fmt: skip
_SERVER_ERROR_KIND = {"anthropic": "api_error", "openai": "server_error", "gemini": "INTERNAL"}


@dataclass(frozen=True)
class Reply:
    """What the fake answers to one request."""

    text: str = DEFAULT_TEXT
    """The answer; for a status of 400 or more, the error message."""
    finish: str = "stop"
    """``stop``, ``length`` or ``refusal`` (mapped to each provider's value), or a raw value."""
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    """Seconds to wait before answering, on top of the server's fixed latency."""
    body: bytes | None = None
    """Bytes sent instead of the provider-shaped JSON (e.g. a malformed body)."""
    truncate: bool = False
    """Announce the whole body, send half of it, and close the connection."""
    abort: bool = False
    """Answer nothing: abort the connection (a TCP reset)."""
    stall: bool = False
    """Announce the whole body, send half of it, and keep the connection open without another
    byte until the client gives up or the server stops (a response that never finishes)."""
    echo_headers: bool = False
    """Put the request's headers (API key included) into an error body, as some proxies do."""
    expire: bool = False
    """In a batch: the request expired before it ran (no answer, no error of its own)."""
    input_tokens: int | None = None
    """Reported prompt tokens; default: the words of the request's text."""
    output_tokens: int | None = None
    """Reported answer tokens; default: the words of ``text``."""

    @classmethod
    def rate_limited(cls, retry_after_ms: int | None = 5, retry_after: str | None = None) -> Reply:
        """429 with ``retry-after-ms`` and/or ``Retry-After`` (seconds or an HTTP date)."""
        headers = {"retry-after-ms": str(retry_after_ms)} if retry_after_ms is not None else {}
        if retry_after is not None:
            headers["retry-after"] = retry_after
        return cls(text="rate limit exceeded", status=429, headers=headers)

    @classmethod
    def server_error(cls, status: int = 500, retry_after_ms: int | None = 5) -> Reply:
        """A 5xx answer; ``retry-after-ms`` keeps an SDK's retries quick in tests."""
        headers = {"retry-after-ms": str(retry_after_ms)} if retry_after_ms is not None else {}
        return cls(text="internal server error", status=status, headers=headers)

    @classmethod
    def slow(cls, seconds: float, text: str = DEFAULT_TEXT) -> Reply:
        """A correct answer that arrives ``seconds`` late (beyond a client's timeout, say)."""
        return cls(text=text, delay=seconds)

    @classmethod
    def malformed(cls) -> Reply:
        """Status 200 with a body that is not JSON."""
        return cls(body=b'{"id": "fake", "content": [{"type": "text", "text": "1. cut')

    @classmethod
    def truncated(cls) -> Reply:
        """Status 200, the connection closed halfway through the body."""
        return cls(truncate=True)

    @classmethod
    def connection_reset(cls) -> Reply:
        """The connection reset before any answer."""
        return cls(abort=True)

    @classmethod
    def stalled(cls) -> Reply:
        """Status 200 and half a body, then silence: only the client's timeout ends it."""
        return cls(stall=True)

    @classmethod
    def empty(cls) -> Reply:
        """A well-formed answer with no text."""
        return cls(text="")

    @classmethod
    def expired(cls) -> Reply:
        """In a batch: the request expired before it ran (elsewhere: an ordinary answer)."""
        return cls(expire=True)

    @classmethod
    def refusal(cls, text: str = "I can't help with that request.") -> Reply:
        """The provider's refusal signal (stop reason, finish reason or safety block)."""
        return cls(text=text, finish="refusal")


@dataclass(frozen=True)
class Received:
    """One request as the fake saw it, and what it answered."""

    provider: Provider | None
    method: str
    path: str
    headers: dict[str, str]
    """Lower-cased names."""
    body: Any
    """The parsed JSON body, or None when it was not JSON."""
    model: str | None
    reply: Reply | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    """The usage the fake reported (0 for an error reply)."""
    batch: str | None = None
    """For a request that was one line of a batch: the batch's id (its path is the
    endpoint the line names, its headers those of the batch's creation)."""

    @property
    def images(self) -> list[tuple[str, str]]:
        """``(media type, base64 data)`` of every inline image in the body, in order."""
        found: list[tuple[str, str]] = []
        _collect_images(self.body, found)
        return found


Script = Callable[[Received], "Reply | str"]


class FakeAPI:
    """A threaded HTTP server on 127.0.0.1 that speaks three providers' wire formats.

    ``script`` replies are used first, in order, then ``answer``; ``latency`` is added to every
    response. Start and stop it once, with ``with`` or :meth:`start` / :meth:`stop`.
    """

    def __init__(
        self,
        script: Iterable[Reply | str] = (),
        *,
        answer: Reply | str | Script = DEFAULT_TEXT,
        latency: float = 0.0,
        port: int = 0,
        rate_limit: float | None = None,
        burst: float | None = None,
        hold_batches: bool = False,
    ) -> None:
        self.answer = answer
        self.hold_batches = hold_batches
        """Keep batches in progress until :meth:`release_batches` (else each ends on the status
        check after the one that first sees it in progress)."""
        self._batches: dict[str, FakeBatch] = {}
        self._files: dict[str, tuple[str, str, bytes]] = {}
        """File id → (purpose, file name, bytes)."""
        self._logged = threading.Condition()
        self.latency = latency
        self.bucket = TokenBucket(rate_limit, burst) if rate_limit else None
        self._script: collections.deque[Reply | str] = collections.deque(script)
        self._log: list[Received] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._server = _Server(("127.0.0.1", port), _Handler)
        self._server.fake = self
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``: the Anthropic and Gemini base URL (OpenAI: + ``/v1``)."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        if self._stopping.is_set():
            raise RuntimeError("a stopped FakeAPI does not start again; make a new one")
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                name=f"FakeAPI:{self.port}", daemon=True,
            )  # fmt: skip
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, wake delayed replies and close open connections."""
        if self._thread is None:
            return
        self._stopping.set()
        self._server.shutdown()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._server.server_close()
        self._thread.join(timeout=5)
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- script and log --------------------------------------------------------------------
    def enqueue(self, *replies: Reply | str) -> None:
        """Append replies to the script."""
        with self._lock:
            self._script.extend(replies)

    def reset(
        self, script: Iterable[Reply | str] = (), answer: Reply | str | Script = DEFAULT_TEXT
    ) -> None:
        """A fresh script, answer and request log (to reuse one server across tests)."""
        with self._lock:
            self._script = collections.deque(script)
            self.answer = answer
            self._log.clear()
            self._batches.clear()
            self._files.clear()

    @property
    def requests(self) -> list[Received]:
        """A copy of the log of received requests, oldest first."""
        with self._lock:
            return list(self._log)

    def wait_for_requests(self, n: int, timeout: float = 5.0) -> list[Received]:
        """The request log once it holds at least ``n`` requests (or after ``timeout`` seconds):
        a client can give up before a busy server has logged what it sent."""
        deadline = time.monotonic() + timeout
        while len(log := self.requests) < n and time.monotonic() < deadline:
            time.sleep(0.01)
        return log

    def _next_reply(self, request: Received) -> Reply:
        with self._lock:
            planned = self._script.popleft() if self._script else None
            answer = self.answer
        if planned is None:
            planned = answer(request) if callable(answer) else answer
        return Reply(text=planned) if isinstance(planned, str) else planned

    def _record(self, request: Received) -> None:
        with self._lock:
            self._log.append(request)
        with self._logged:
            self._logged.notify_all()

    def wait_for_request(
        self, matches: Callable[[Received], bool], timeout: float = 30.0
    ) -> Received:
        """The first logged request ``matches`` accepts, waiting for it (woken by each request,
        not polling); TimeoutError after ``timeout`` seconds without one."""
        deadline = time.monotonic() + timeout
        with self._logged:
            while True:
                found = [r for r in self.requests if matches(r)]
                if found:
                    return found[0]
                if not self._logged.wait(deadline - time.monotonic()):
                    raise TimeoutError(f"no matching request within {timeout} s")

    # -- batches ---------------------------------------------------------------------------
    @property
    def batches(self) -> list[FakeBatch]:
        """The batches created, oldest first (refused creations are not among them)."""
        with self._lock:
            return list(self._batches.values())

    def release_batches(self) -> None:
        """Stop holding batches: each held one ends at its next status check."""
        with self._lock:
            self.hold_batches = False

    @property
    def rate_limited(self) -> int:
        """Requests answered 429 by the token bucket (``rate_limit``)."""
        return self.bucket.refused if self.bucket else 0


class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` saved (default: one second's worth)."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        if rate <= 0:
            raise ValueError(f"rate_limit must be above 0, got {rate}")
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate)
        self.refused = 0
        self._tokens = self.burst
        self._at = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> float:
        """0 when a request may pass (a token is spent), else the seconds until one may."""
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
            self._at = now
            if self._tokens >= 1:
                self._tokens -= 1
                return 0.0
            self.refused += 1
            return (1 - self._tokens) / self.rate


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    allow_reuse_port = True  # ``--processes N``: N servers on one port, the kernel shares them out
    request_queue_size = 1024  # the listen backlog: a run opens many connections at once
    fake: FakeAPI


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = 60  # an idle keep-alive connection is closed after this many seconds
    server: _Server

    def setup(self) -> None:
        super().setup()
        fake = self.server.fake
        with fake._lock:
            fake._connections.add(self.connection)

    def finish(self) -> None:
        fake = self.server.fake
        with fake._lock:
            fake._connections.discard(self.connection)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the request log is ``FakeAPI.requests``."""

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        headers = {k.lower(): v for k, v in self.headers.items()}
        provider = _batch_provider(path)
        self.server.fake._record(Received(provider, "GET", path, headers, None, None))
        if provider is None:
            self._send(404, _json({"error": {"message": f"no route for GET {path}"}}), {})
            return
        status, payload, kind = _batch_get(self.server.fake, provider, path)
        self._send(status, payload, {}, content_type=kind)

    def do_POST(self) -> None:
        fake = self.server.fake
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        path = self.path.split("?", 1)[0]
        headers = {k.lower(): v for k, v in self.headers.items()}
        if (batching := _batch_provider(path)) is not None:
            fake._record(Received(batching, "POST", path, headers, body, None))
            status, payload = _batch_post(fake, batching, path, headers, raw, body)
            self._send(status, payload, {})
            return
        provider, model = _route(path, body)
        request = Received(provider, "POST", path, headers, body, model)
        if provider is None:
            fake._record(request)
            self._send(404, _json({"error": {"message": f"no route for POST {path}"}}), {})
            return
        if fake.bucket is not None and (wait := fake.bucket.take()) > 0:
            reply = Reply.rate_limited(math.ceil(wait * 1000), str(max(1, math.ceil(wait))))
            fake._record(Received(provider, "POST", path, headers, body, model, reply))
            self._send(429, _json(_error_body(provider, reply, None)), reply.headers)
            return
        reply = fake._next_reply(request)
        tokens = (0, 0)
        if reply.body is not None:
            payload = reply.body
        elif reply.status >= 400:
            payload = _json(_error_body(provider, reply, headers if reply.echo_headers else None))
        else:
            tokens = (
                reply.input_tokens if reply.input_tokens is not None else _words(body),
                reply.output_tokens if reply.output_tokens is not None else len(reply.text.split()),
            )
            payload = _json(_success_body(provider, model or "", reply, tokens, next(fake._ids)))
        fake._record(
            Received(provider, "POST", path, headers, body, model, reply, tokens[0], tokens[1])
        )
        if fake._stopping.wait(fake.latency + reply.delay):
            self.close_connection = True
            return
        if reply.abort:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            return
        self._send(reply.status, payload, reply.headers, truncate=reply.truncate or reply.stall)
        if reply.stall:
            fake._stopping.wait()

    def _send(
        self,
        status: int,
        payload: bytes,
        headers: Mapping[str, str],
        truncate: bool = False,
        content_type: str = "application/json",
    ) -> None:
        phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else ""
        head = [f"HTTP/1.1 {status} {phrase}", f"Content-Type: {content_type}",
                f"Content-Length: {len(payload)}"]  # fmt: skip
        head += [f"{k}: {v}" for k, v in headers.items()]
        if truncate:
            payload = payload[: len(payload) // 2]
            self.close_connection = True
        data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + payload
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:  # the client gave up (its timeout): nothing to answer
            self.close_connection = True


# -- batches ---------------------------------------------------------------------------------
_OPENAI_BATCH = re.compile(r"/v1/(?:files|batches)(?:/(?P<id>[^/]+)(?P<rest>/content)?)?")
_ANTHROPIC_BATCH = re.compile(r"/v1/messages/batches(?:/(?P<id>[^/]+)(?P<rest>/results)?)?")
_CUSTOM_ID = re.compile(r"[a-zA-Z0-9_-]{1,64}")
"""Message Batches' custom ids (the Batch API takes any string)."""
OPENAI_BATCH_ENDPOINTS = frozenset(
    {"/v1/responses", "/v1/chat/completions", "/v1/embeddings", "/v1/completions",
     "/v1/moderations", "/v1/images/generations", "/v1/images/edits", "/v1/videos"}
)  # fmt: skip
"""What the Batch API accepts as ``endpoint``; the fake serves only /v1/chat/completions."""
ANTHROPIC_PARAMS = frozenset(
    {"model", "max_tokens", "messages", "system", "temperature", "top_p", "top_k",
     "stop_sequences", "metadata", "tools", "tool_choice", "thinking", "service_tier"}
)  # fmt: skip
"""The Messages parameters a batch request may carry (an SDK-only key such as ``extra_body``
is refused, as the API refuses any unknown field)."""


@dataclass
class FakeBatch:
    """One batch the fake accepted: who made it, its requests, and how far it got."""

    id: str
    provider: Provider
    requests: dict[str, Any]
    """Custom id → request body (OpenAI: the line's ``body``; Anthropic: ``params``)."""
    headers: dict[str, str]
    created: float
    status: str
    """OpenAI: validating, failed, in_progress, completed; Anthropic: in_progress, ended."""
    endpoint: str = "/v1/messages"
    checks: int = 0
    """Status checks so far (the first one only ever sees it in progress)."""
    input_file: str = ""
    """OpenAI: the id of the uploaded file of requests."""
    errors: list[dict[str, Any]] = field(default_factory=list)
    """OpenAI: why the input file failed validation."""
    output: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    """OpenAI: the error file's lines (Anthropic keeps every result in ``output``)."""
    ended: float | None = None
    output_file: str | None = None
    error_file: str | None = None


def _batch_provider(path: str) -> Provider | None:
    if _ANTHROPIC_BATCH.fullmatch(path):
        return "anthropic"
    if _OPENAI_BATCH.fullmatch(path):
        return "openai"
    return None


def _refusal(provider: Provider, status: int, message: str) -> tuple[int, bytes]:
    return status, _json(_error_body(provider, Reply(text=message, status=status), None))


def _batch_post(
    fake: FakeAPI, provider: Provider, path: str, headers: dict[str, str], raw: bytes, body: Any
) -> tuple[int, bytes]:
    """Create a file or a batch (cancelling a batch is not served: a 404)."""
    if provider == "anthropic":
        if path != "/v1/messages/batches":
            return _refusal(provider, 404, f"no route for POST {path}")
        return _create_message_batch(fake, headers, body)
    if path == "/v1/files":
        return _upload(fake, headers, raw)
    if path == "/v1/batches":
        return _create_openai_batch(fake, headers, body)
    return _refusal(provider, 404, f"no route for POST {path}")


def _upload(fake: FakeAPI, headers: dict[str, str], raw: bytes) -> tuple[int, bytes]:
    kind = headers.get("content-type", "")
    if not kind.startswith("multipart/form-data"):
        return _refusal("openai", 400, "files are uploaded as multipart/form-data")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {kind}\r\n\r\n".encode() + raw
    )
    fields: dict[str, tuple[str | None, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            fields[name] = (part.get_filename(), payload)
    if "file" not in fields or "purpose" not in fields:
        return _refusal("openai", 400, "a file upload needs the fields 'file' and 'purpose'")
    purpose = fields["purpose"][1].decode()
    if purpose != "batch":
        return _refusal("openai", 400, f"the fake takes files for purpose 'batch', not {purpose!r}")
    filename, data = fields["file"]
    with fake._lock:
        file_id = f"file-fake{next(fake._ids):06d}"
        fake._files[file_id] = (purpose, filename or "upload.jsonl", data)
    return 200, _json(_file_object(file_id, purpose, filename or "upload.jsonl", len(data)))


def _file_object(file_id: str, purpose: str, filename: str, size: int) -> dict[str, Any]:
    return {"id": file_id, "object": "file", "bytes": size, "created_at": int(time.time()),
            "filename": filename, "purpose": purpose, "status": "processed",
            "expires_at": None, "status_details": None}  # fmt: skip


def _create_openai_batch(fake: FakeAPI, headers: dict[str, str], body: Any) -> tuple[int, bytes]:
    if not isinstance(body, dict):
        return _refusal("openai", 400, "the body must be a JSON object")
    for name in ("input_file_id", "endpoint", "completion_window"):
        if name not in body:
            return _refusal("openai", 400, f"Missing required parameter: '{name}'.")
    if body["completion_window"] != "24h":
        return _refusal("openai", 400, "completion_window: only '24h' is supported")
    if body["endpoint"] not in OPENAI_BATCH_ENDPOINTS:
        return _refusal("openai", 400, f"endpoint: {body['endpoint']!r} is not supported")
    if body["endpoint"] != "/v1/chat/completions":
        return _refusal("openai", 400, "the fake serves batches of /v1/chat/completions only")
    with fake._lock:
        found = fake._files.get(body["input_file_id"])
    if found is None:
        return _refusal("openai", 404, f"No such File object: {body['input_file_id']}")
    purpose, _, data = found
    if purpose != "batch":
        return _refusal("openai", 400, "the input file must have been uploaded for purpose 'batch'")
    requests, errors = _read_batch_file(data, body["endpoint"])
    with fake._lock:
        batch = FakeBatch(f"batch_fake{next(fake._ids):06d}", "openai", requests, headers,
                          time.time(), "validating", endpoint=body["endpoint"],
                          input_file=body["input_file_id"], errors=errors)  # fmt: skip
        fake._batches[batch.id] = batch
    return 200, _json(_openai_batch(batch))


def _read_batch_file(data: bytes, endpoint: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The requests of a Batch API input file, and what is wrong with its lines (as the
    validating step reports it: any error fails the whole batch)."""
    requests: dict[str, Any] = {}
    errors: list[dict[str, Any]] = []
    models = set()

    def wrong(n: int, code: str, message: str) -> None:
        errors.append({"code": code, "line": n, "message": message, "param": None})

    for n, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError:
            wrong(n, "invalid_json_line", "This line is not parseable as valid JSON.")
            continue
        if not isinstance(item, dict) or not isinstance(item.get("custom_id"), str):
            wrong(n, "missing_required_parameter", "Missing required parameter: 'custom_id'.")
        elif item.get("method") != "POST":
            wrong(n, "invalid_method", "The method must be 'POST'.")
        elif item.get("url") != endpoint:
            wrong(n, "mismatched_endpoint", f"The url must be the batch's endpoint {endpoint}.")
        elif not isinstance(item.get("body"), dict) or "model" not in item["body"]:
            wrong(n, "missing_required_parameter", "Missing required parameter: 'body.model'.")
        elif item["custom_id"] in requests:
            wrong(n, "duplicate_custom_id", f"The custom_id {item['custom_id']!r} is not unique.")
        else:
            requests[item["custom_id"]] = item["body"]
            models.add(item["body"]["model"])
    if not requests and not errors:
        wrong(0, "empty_file", "The input file has no requests.")
    if len(models) > 1:
        wrong(0, "mismatched_model", "All requests of a batch must use the same model.")
    return requests, errors


def _create_message_batch(fake: FakeAPI, headers: dict[str, str], body: Any) -> tuple[int, bytes]:
    requests = body.get("requests") if isinstance(body, dict) else None
    if not isinstance(requests, list) or not requests:
        return _refusal("anthropic", 400, "requests: Field required (a non-empty list)")
    if isinstance(body, dict) and set(body) - {"requests"}:
        return _refusal("anthropic", 400, f"{sorted(set(body) - {'requests'})[0]}: Extra inputs "
                        "are not permitted")  # fmt: skip
    taken: dict[str, Any] = {}
    for n, request in enumerate(requests):
        custom_id = request.get("custom_id") if isinstance(request, dict) else None
        if not isinstance(custom_id, str) or not _CUSTOM_ID.fullmatch(custom_id):
            return _refusal("anthropic", 400, f"requests.{n}.custom_id: String should match "
                            "pattern '^[a-zA-Z0-9_-]{1,64}$'")  # fmt: skip
        if custom_id in taken:
            return _refusal("anthropic", 400, f"requests.{n}: custom_id {custom_id!r} is not "
                            "unique within the batch")  # fmt: skip
        if not isinstance(request.get("params"), dict):
            return _refusal("anthropic", 400, f"requests.{n}.params: Field required")
        taken[custom_id] = request["params"]
    with fake._lock:
        batch = FakeBatch(f"msgbatch_fake{next(fake._ids):06d}", "anthropic", taken, headers,
                          time.time(), "in_progress")  # fmt: skip
        fake._batches[batch.id] = batch
    return 200, _json(_message_batch(batch, fake.url))


def _batch_get(fake: FakeAPI, provider: Provider, path: str) -> tuple[int, bytes, str]:
    """A batch's status (advancing it one step), its results, or a file's content."""
    match = (_ANTHROPIC_BATCH if provider == "anthropic" else _OPENAI_BATCH).fullmatch(path)
    assert match is not None
    item, rest = match["id"], match["rest"]
    if item is None:  # listing is not served
        return (*_refusal(provider, 404, f"no route for GET {path}"), "application/json")
    if path.startswith("/v1/files/"):
        with fake._lock:
            found = fake._files.get(item)
        if found is None:
            return (*_refusal(provider, 404, f"No such File object: {item}"), "application/json")
        purpose, filename, data = found
        if rest == "/content":
            return 200, data, "application/octet-stream"
        return 200, _json(_file_object(item, purpose, filename, len(data))), "application/json"
    with fake._lock:
        batch = fake._batches.get(item)
    if batch is None:
        return (*_refusal(provider, 404, f"No batch found with id '{item}'."), "application/json")
    if rest == "/results":
        if batch.status != "ended":
            message = f"batch {item} has not ended; its results are not available yet"
            return (*_refusal(provider, 400, message), "application/json")
        lines = "".join(json.dumps(line) + "\n" for line in batch.output)
        return 200, lines.encode(), "application/binary"
    _advance(fake, batch)
    shaped = _message_batch(batch, fake.url) if provider == "anthropic" else _openai_batch(batch)
    return 200, _json(shaped), "application/json"


def _advance(fake: FakeAPI, batch: FakeBatch) -> None:
    """One status check's worth of progress: OpenAI validating → in_progress (or failed),
    then, unless batches are held, → completed; Anthropic in_progress (seen once) → ended.
    The requests are answered when the batch ends."""
    with fake._lock:
        batch.checks += 1
        if batch.status == "validating":
            batch.status = "failed" if batch.errors else "in_progress"
            return
        if batch.status != "in_progress" or fake.hold_batches or batch.checks < 2:
            return
        batch.status = "ending"
    for custom_id, request in batch.requests.items():
        _answer_line(fake, batch, custom_id, request)
    with fake._lock:
        if batch.provider == "openai":
            for attr, lines in (("output_file", batch.output), ("error_file", batch.failed)):
                if lines:
                    file_id = f"file-fake{next(fake._ids):06d}"
                    data = "".join(json.dumps(line) + "\n" for line in lines).encode()
                    fake._files[file_id] = ("batch_output", f"{batch.id}_{attr}.jsonl", data)
                    setattr(batch, attr, file_id)
        batch.ended = time.time()
        batch.status = "completed" if batch.provider == "openai" else "ended"


def _answer_line(fake: FakeAPI, batch: FakeBatch, custom_id: str, request: Any) -> None:
    """Answer one request of ``batch`` as the endpoint would (the script and ``answer``
    decide), logged as a request of its own; a fault that breaks a connection is a 500 here."""
    provider = batch.provider
    model = request.get("model") if isinstance(request, dict) else None
    received = Received(provider, "POST", batch.endpoint, batch.headers, request, model,
                        batch=batch.id)  # fmt: skip
    reply = fake._next_reply(received)
    if reply.abort or reply.truncate or reply.stall or reply.body is not None:
        reply = Reply("the server failed to answer", status=500)
    if provider == "anthropic" and reply.status < 400 and not reply.expire:
        unknown = sorted(set(request) - ANTHROPIC_PARAMS)
        missing = [k for k in ("model", "max_tokens", "messages") if k not in request]
        if unknown or missing:
            what = f"{unknown[0]}: Extra inputs are not permitted" if unknown else (
                f"{missing[0]}: Field required")  # fmt: skip
            reply = Reply(what, status=400)
    tokens = (0, 0)
    n = next(fake._ids)
    line: dict[str, Any]
    if reply.expire:
        if provider == "anthropic":
            line = {"custom_id": custom_id, "result": {"type": "expired"}}
        else:
            line = {"id": f"batch_req_fake{n:06d}", "custom_id": custom_id, "response": None,
                    "error": {"code": "batch_expired", "message": "This request could not be "
                              "executed before the completion window expired."}}  # fmt: skip
    elif reply.status >= 400:
        error = _error_body(provider, reply, None)
        if provider == "anthropic":
            line = {"custom_id": custom_id, "result": {"type": "errored", "error": {
                **error, "request_id": f"req_fake{n:06d}"}}}  # fmt: skip
        else:
            line = {"id": f"batch_req_fake{n:06d}", "custom_id": custom_id, "error": None,
                    "response": {"status_code": reply.status, "request_id": f"req_fake{n:06d}",
                                 "body": error}}  # fmt: skip
    else:
        tokens = (
            reply.input_tokens if reply.input_tokens is not None else _words(request),
            reply.output_tokens if reply.output_tokens is not None else len(reply.text.split()),
        )
        answer = _success_body(provider, model or "", reply, tokens, n)
        if provider == "anthropic":
            line = {"custom_id": custom_id, "result": {"type": "succeeded", "message": answer}}
        else:
            line = {"id": f"batch_req_fake{n:06d}", "custom_id": custom_id, "error": None,
                    "response": {"status_code": 200, "request_id": f"req_fake{n:06d}",
                                 "body": answer}}  # fmt: skip
    fake._record(dataclasses.replace(received, reply=reply, input_tokens=tokens[0],
                                     output_tokens=tokens[1]))  # fmt: skip
    with fake._lock:
        ok = reply.status < 400 and not reply.expire
        (batch.output if ok or provider == "anthropic" else batch.failed).append(line)


def _iso(at: float | None) -> str | None:
    if at is None:
        return None
    return datetime.datetime.fromtimestamp(at, datetime.UTC).isoformat().replace("+00:00", "Z")


def _message_batch(batch: FakeBatch, url: str) -> dict[str, Any]:
    ended = batch.status == "ended"
    counts = {"processing": 0 if ended else len(batch.requests), "succeeded": 0, "errored": 0,
              "canceled": 0, "expired": 0}  # fmt: skip
    for line in batch.output if ended else []:
        counts[line["result"]["type"]] += 1
    return {
        "id": batch.id, "type": "message_batch",
        "processing_status": "ended" if ended else "in_progress",
        "request_counts": counts, "ended_at": _iso(batch.ended), "created_at": _iso(batch.created),
        "expires_at": _iso(batch.created + 86400), "archived_at": None,
        "cancel_initiated_at": None,
        "results_url": f"{url}/v1/messages/batches/{batch.id}/results" if ended else None,
    }  # fmt: skip


def _openai_batch(batch: FakeBatch) -> dict[str, Any]:
    status = "in_progress" if batch.status == "ending" else batch.status
    done = status == "completed"
    created = int(batch.created)
    ended = int(batch.ended) if done and batch.ended else None
    errors = {"object": "list", "data": batch.errors} if status == "failed" else None
    return {
        "id": batch.id, "object": "batch", "endpoint": batch.endpoint, "errors": errors,
        "input_file_id": batch.input_file, "completion_window": "24h",
        "status": status, "output_file_id": batch.output_file, "error_file_id": batch.error_file,
        "created_at": created, "in_progress_at": created if status != "validating" else None,
        "expires_at": created + 86400, "finalizing_at": ended,
        "completed_at": ended,
        "failed_at": created if status == "failed" else None, "expired_at": None,
        "cancelling_at": None, "cancelled_at": None,
        "request_counts": {"total": len(batch.requests),
                           "completed": len(batch.output) if done else 0,
                           "failed": len(batch.failed) if done else 0},
        "metadata": None,
    }  # fmt: skip


def _route(path: str, body: Any) -> tuple[Provider | None, str | None]:
    model = body.get("model") if isinstance(body, dict) else None
    if path == "/v1/chat/completions":
        return "openai", model
    if path == "/v1/messages":
        return "anthropic", model
    if match := _GEMINI_PATH.fullmatch(path):
        return "gemini", match["model"]
    return None, None


def _json(data: Any) -> bytes:
    return json.dumps(data).encode()


def _words(body: Any) -> int:
    """Words in the text of a request body (``text``, ``content`` and ``system`` strings)."""
    if isinstance(body, dict):
        return sum(
            len(v.split())
            if isinstance(v, str) and k in ("text", "content", "system")
            else _words(v)
            for k, v in body.items()
        )
    if isinstance(body, list):
        return sum(_words(v) for v in body)
    return 0


def _collect_images(node: Any, found: list[tuple[str, str]]) -> None:
    if isinstance(node, list):
        for item in node:
            _collect_images(item, found)
        return
    if not isinstance(node, dict):
        return
    source = node.get("source")
    if node.get("type") == "image" and isinstance(source, dict):  # Anthropic
        found.append((source.get("media_type", ""), source.get("data", "")))
        return
    url = (
        node.get("image_url", {}).get("url", "") if isinstance(node.get("image_url"), dict) else ""
    )
    if url.startswith("data:"):  # OpenAI: data:<mime>;base64,<data>
        head, _, data = url.partition(",")
        found.append((head[len("data:") :].split(";")[0], data))
        return
    inline = node.get("inlineData") or node.get("inline_data")
    if isinstance(inline, dict):  # Gemini
        found.append(
            (inline.get("mimeType") or inline.get("mime_type", ""), inline.get("data", ""))
        )
        return
    for value in node.values():
        _collect_images(value, found)


def _success_body(
    provider: Provider, model: str, reply: Reply, tokens: tuple[int, int], n: int
) -> dict[str, Any]:
    finish = _FINISH[provider].get(reply.finish, reply.finish)
    refused = reply.finish == "refusal"
    inp, out = tokens
    if provider == "anthropic":
        return {
            "id": f"msg_fake{n:06d}", "type": "message", "role": "assistant", "model": model,
            "content": [{"type": "text", "text": reply.text}] if reply.text else [],
            "stop_reason": finish, "stop_sequence": None,
            "usage": {"input_tokens": inp, "output_tokens": out},
        }  # fmt: skip
    if provider == "openai":
        message = {"role": "assistant", "content": None if refused else reply.text,
                   "refusal": reply.text if refused else None}  # fmt: skip
        return {
            "id": f"chatcmpl-fake{n:06d}", "object": "chat.completion", "created": int(time.time()),
            "model": model, "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "message": message, "logprobs": None,
                         "finish_reason": finish}],
            "usage": {"prompt_tokens": inp, "completion_tokens": out, "total_tokens": inp + out},
        }  # fmt: skip
    candidate: dict[str, Any] = {"finishReason": finish, "index": 0}
    if refused:
        candidate["safetyRatings"] = [
            {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": True}
        ]
    else:
        candidate["content"] = {
            "role": "model",
            "parts": [{"text": reply.text}] if reply.text else [],
        }
    return {
        "candidates": [candidate],
        "usageMetadata": {"promptTokenCount": inp, "candidatesTokenCount": out,
                          "totalTokenCount": inp + out},
        "modelVersion": model, "responseId": f"fake{n:06d}",
    }  # fmt: skip


def _error_body(
    provider: Provider, reply: Reply, echoed: Mapping[str, str] | None
) -> dict[str, Any]:
    message = reply.text + (f" (request headers: {dict(echoed)})" if echoed else "")
    server = _SERVER_ERROR_KIND[provider]
    kind = _ERROR_KIND[provider].get(reply.status, server if reply.status >= 500 else "error")
    if provider == "anthropic":
        return {"type": "error", "error": {"type": kind, "message": message}}
    if provider == "openai":
        return {"error": {"message": message, "type": kind, "param": None, "code": None}}
    return {"error": {"code": reply.status, "message": message, "status": kind}}


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve a fake provider API on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=0, help="0: a free port")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to each reply")
    parser.add_argument("--rate-limit", type=float, help="requests/s; beyond: 429 + Retry-After")
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="servers on the one port, each a process of its own (more than one interpreter's "
        "worth of capacity, for benchmarks); each has its own script and log",
    )
    args = parser.parse_args()
    if args.processes < 1:
        parser.error(f"--processes must be at least 1, got {args.processes}")
    if args.processes > 1 and args.rate_limit:
        parser.error(
            "--rate-limit needs --processes 1: each process would have a bucket of its own"
        )
    signal.signal(signal.SIGTERM, _stop)  # Popen.terminate(): stop the other processes too
    with FakeAPI(latency=args.latency, port=args.port, rate_limit=args.rate_limit) as fake:
        command = [sys.executable, "-m", "eicore.testing.fake_api", "--port", str(fake.port),
                   "--latency", str(args.latency)]  # fmt: skip
        others = [
            subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
            for _ in range(args.processes - 1)
        ]
        try:
            for other in others:  # each prints its URL once it listens
                assert other.stdout is not None
                other.stdout.readline()
            print(fake.url, flush=True)
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
        finally:
            for other in others:
                other.terminate()
            for other in others:
                other.wait(timeout=10)


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    main()
