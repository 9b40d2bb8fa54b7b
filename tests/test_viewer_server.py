"""`eicore view` as a web server: what a hostile page, a rebound DNS name or a broken client can
make it do. Real HTTP requests (http.client, raw sockets) against the real server on 127.0.0.1.

- a write needs the session token the server put in its page, and the server's own origin;
- a request must name the server in its ``Host``;
- every request ends in a status code: a NUL byte or an overlong name in an image URL, a
  Content-Length that is not a number, a body too large, a body or headers that stop coming.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from eicore_test_support import CLI

from eicore.viewer.page import decode_payload
from eicore.viewer.review import Annotation
from eicore.viewer.server import Site, ViewerServer, review_site

Serve = Callable[..., ViewerServer]


@pytest.fixture
def serve() -> Iterator[Serve]:
    started: list[ViewerServer] = []

    def start(site: Site, read_timeout: float = 10.0) -> ViewerServer:
        server = ViewerServer(site, 0, read_timeout=read_timeout)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.shutdown()
        server.server_close()


def send(
    server: ViewerServer,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes]:
    """One request with exactly these headers (``Host`` too, when given)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=30)
    given = headers or {}
    conn.putrequest(method, path, skip_host="Host" in given, skip_accept_encoding=True)
    for name, value in given.items():
        conn.putheader(name, value)
    if body is not None and "Content-Length" not in given:
        conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(body)
    response = conn.getresponse()
    result = response.status, response.read()
    conn.close()
    return result


def raw(server: ViewerServer, data: bytes) -> int | None:
    """Send ``data`` as it is and read until the server closes: the reply's status code, or
    None when the server closed without one (a traceback in its handler)."""
    with socket.create_connection(("127.0.0.1", server.server_address[1]), timeout=30) as s:
        s.sendall(data)
        reply = b""
        while chunk := s.recv(65536):
            reply += chunk
    return int(reply.split(b" ", 2)[1]) if reply.startswith(b"HTTP/") else None


def host(server: ViewerServer) -> str:
    return f"127.0.0.1:{server.server_address[1]}"


@pytest.fixture
def review_server(
    cli: CLI, tmp_path: Path, make_image: Callable[..., Path], serve: Serve
) -> tuple[ViewerServer, Path]:
    """`eicore view --review` of a real annotate run; the server and the run directory."""
    folder = tmp_path / "imgs"
    make_image(folder / "anger" / "a.jpg", format="JPEG")
    cli("annotate", "model=echo", f"data.image_root={folder}", f"run.root={tmp_path / 'ann'}",
        "run.progress=false")  # fmt: skip
    (run_dir,) = (tmp_path / "ann").iterdir()
    return serve(review_site(run_dir, "alice", None)), run_dir


REVIEW = json.dumps({"image": "anger/a.jpg", "triggers": ["a frown"], "rating": 3}).encode()


# Item 5: a page of another site cannot write the reviewer's files.
def test_a_write_needs_the_pages_token_and_the_servers_own_origin(
    review_server: tuple[ViewerServer, Path],
) -> None:
    server, run_dir = review_server
    status, page = send(server, "GET", "/", headers={"Host": host(server)})
    token = decode_payload(page.decode())["token"]
    assert status == 200 and len(token) >= 32
    own = f"http://{host(server)}"
    json_type = {"Host": host(server), "Content-Type": "application/json"}
    refused = {
        "no token": ({**json_type, "Origin": own}, 403),
        "a wrong token": ({**json_type, "Origin": own, "X-Eicore-Token": token[::-1]}, 403),
        "a foreign origin, form-encoded": (
            {"Host": host(server), "Origin": "http://evil.example", "Content-Type": "text/plain"},
            403,
        ),
        "a foreign origin with the token": (
            {**json_type, "Origin": "http://evil.example", "X-Eicore-Token": token},
            403,
        ),
        "another port's origin": (
            {**json_type, "Origin": "http://127.0.0.1:1", "X-Eicore-Token": token},
            403,
        ),
        "a cross-site fetch": (
            {**json_type, "Sec-Fetch-Site": "cross-site", "X-Eicore-Token": token},
            403,
        ),
        "text/plain with the token": (
            {"Host": host(server), "Content-Type": "text/plain", "X-Eicore-Token": token},
            415,
        ),
    }
    for name, (headers, expected) in refused.items():
        assert send(server, "POST", "/api/review", REVIEW, headers)[0] == expected, name
    assert not (run_dir / "reviews").exists()
    for origin in (own, f"http://localhost:{server.server_address[1]}"):
        headers = {**json_type, "Origin": origin, "X-Eicore-Token": token}
        assert send(server, "POST", "/api/review", REVIEW, headers)[0] == 200, origin
    no_origin = {**json_type, "X-Eicore-Token": token}  # a script on this machine, not a page
    assert send(server, "POST", "/api/review", REVIEW, no_origin)[0] == 200
    assert (run_dir / "reviews" / "alice" / "ratings.jsonl").is_file()


@pytest.fixture
def plain_site(tmp_path: Path) -> Site:
    """A review-mode site with one image, built directly (no annotate run)."""
    images = tmp_path / "images"
    images.mkdir()
    (images / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    annotation = Annotation("a.png", "Why?", ("a frown",), None, None, {}, [])
    return Site(lambda: b"<html></html>", images, tmp_path / "run", "alice", [annotation])


# Item 6: a name rebound to 127.0.0.1 gets no answer but a refusal.
def test_only_requests_naming_this_server_are_answered(plain_site: Site, serve: Serve) -> None:
    server = serve(plain_site)
    port = server.server_address[1]
    for name in (f"127.0.0.1:{port}", f"localhost:{port}", f"LOCALHOST:{port}"):
        assert send(server, "GET", "/", headers={"Host": name})[0] == 200, name
        assert send(server, "GET", "/image/a.png", headers={"Host": name})[0] == 200, name
    token = {"X-Eicore-Token": plain_site.token, "Content-Type": "application/json"}
    for name in ("evil.example", f"evil.example:{port}", "127.0.0.1", f"127.0.0.1:{port + 1}",
                 f"127.0.0.1.evil.example:{port}", ""):  # fmt: skip
        assert send(server, "GET", "/", headers={"Host": name})[0] == 421, name
        assert send(server, "GET", "/image/a.png", headers={"Host": name})[0] == 421, name
        headers = {"Host": name, **token}
        assert send(server, "POST", "/api/review", REVIEW, headers)[0] == 421, name
    assert raw(server, b"GET / HTTP/1.0\r\n\r\n") == 421  # no Host at all
    assert not (plain_site.review_dir / "reviews").exists()  # type: ignore[operator]


# Item 7: malformed requests end in a status code, and the server keeps serving.
def test_every_malformed_request_ends_in_a_status_code(plain_site: Site, serve: Serve) -> None:
    server = serve(plain_site)
    h = host(server)
    gets = {
        "/image/a%00.png": 400,
        "/image/a\x00.png": 400,
        "/image/" + "a" * 300 + ".png": 404,
        "/image/" + "%C3%A9" * 200 + ".png": 404,
        "/image/" + "d/" * 3000 + "a.png": 404,
        "/image/%ff%fe.png": 404,
    }
    for path, expected in gets.items():
        request = f"GET {path} HTTP/1.1\r\nHost: {h}\r\nConnection: close\r\n\r\n"
        assert raw(server, request.encode("latin-1")) == expected, path[:40]
    head = f"POST /api/review HTTP/1.1\r\nHost: {h}\r\nX-Eicore-Token: {plain_site.token}\r\n"
    head += "Content-Type: application/json\r\nConnection: close\r\n"
    posts = {
        "Content-Length: abc\r\n": 400,
        "Content-Length: -1\r\n": 400,
        "Content-Length: 1e3\r\n": 400,
        "": 411,
        "Transfer-Encoding: chunked\r\n": 411,
        "Content-Length: 2000000\r\n": 413,
    }
    for header, expected in posts.items():
        assert raw(server, f"{head}{header}\r\n".encode()) == expected, header
    nested = b"[" * 100_000 + b"]" * 100_000
    assert raw(server, f"{head}Content-Length: {len(nested)}\r\n\r\n".encode() + nested) == 400
    assert send(server, "GET", "/", headers={"Host": h}) == (200, b"<html></html>")


# Item 7: a client that stops sending is answered 408 after the (here short) read timeout.
def test_a_request_that_stops_coming_is_answered_408(plain_site: Site, serve: Serve) -> None:
    server = serve(plain_site, read_timeout=0.2)
    h = host(server)
    with socket.create_connection(("127.0.0.1", server.server_address[1]), timeout=30) as s:
        s.sendall(f"POST /api/review HTTP/1.1\r\nHost: {h}\r\nContent-Length: 50\r\n\r\n[".encode())
        assert s.recv(65536).startswith(b"HTTP/1.0 408")
    with socket.create_connection(("127.0.0.1", server.server_address[1]), timeout=30) as s:
        s.sendall(f"GET / HTTP/1.1\r\nHost: {h}\r\n".encode())  # the headers never end
        assert s.recv(65536).startswith(b"HTTP/1.0 408")
    assert send(server, "GET", "/", headers={"Host": h})[0] == 200
