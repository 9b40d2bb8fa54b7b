"""A fake Anthropic / OpenAI / Gemini HTTP API on 127.0.0.1, for testing model plugins.

The provider SDKs send requests with ``httpx2``, which httpx mocking libraries do not intercept,
so a plugin is tested against a real local server. :class:`FakeAPI` answers three wire formats
with the providers' response shapes (usage fields included)::

    POST /v1/messages                             Anthropic Messages  (base_url: fake.url)
    POST /v1/chat/completions                     OpenAI chat  (base_url: fake.url + "/v1")
    POST /v1beta/models/{model}:generateContent   Gemini              (base_url: fake.url)

Only these paths, as servers of each format (the providers' and gateways such as LiteLLM's)
answer them; any other path is a 404, so a client posting to the wrong place fails its test.

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
    ) -> None:
        self.answer = answer
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
        self._send(404, _json({"error": {"message": f"no route for GET {self.path}"}}), {})

    def do_POST(self) -> None:
        fake = self.server.fake
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        path = self.path.split("?", 1)[0]
        provider, model = _route(path, body)
        headers = {k.lower(): v for k, v in self.headers.items()}
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
        self, status: int, payload: bytes, headers: Mapping[str, str], truncate: bool = False
    ) -> None:
        phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else ""
        head = [f"HTTP/1.1 {status} {phrase}", "Content-Type: application/json",
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
