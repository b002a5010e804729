"""HTTP/1.1 as the client speaks it, against a raw scripted server on 127.0.0.1.

The index server and the stubs in test_http_client.py answer like well-behaved servers;
this one writes exact bytes, so each framing the protocol allows (chunked with extensions
and trailers, a body ended by closing, HTTP/1.0, informational answers, folded headers)
and each way a server can misbehave (closing a kept-alive connection, cutting a chunked
body, answering garbage) is tested on purpose. It also counts connections, which is how
keep-alive is checked.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from wherry.errors import NetworkError
from wherry.http.client import HttpClient


class Request:
    """One request as the server read it."""

    def __init__(self, connection: int, line: str, headers: dict[str, str]) -> None:
        self.connection = connection
        self.line = line
        self.headers = headers

    @property
    def path(self) -> str:
        return self.line.split(" ")[1]


# What the server does with a request: the bytes to send, and whether to hang up after.
Answer = tuple[bytes, bool]
Script = Callable[[Request], Answer]


class RawServer:
    """Reads request heads, logs them, and writes whatever `script` returns."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.requests: list[Request] = []
        self.connections = 0
        self._lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self._open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            with self._lock:
                number = self.connections
                self.connections += 1
                self._open.append(sock)
            threading.Thread(target=self._serve, args=(sock, number), daemon=True).start()

    def _serve(self, sock: socket.socket, number: int) -> None:
        buffered = b""
        with sock:
            while True:
                while b"\r\n\r\n" not in buffered:
                    try:
                        data = sock.recv(65536)
                    except OSError:
                        return
                    if not data:
                        return
                    buffered += data
                head, buffered = buffered.split(b"\r\n\r\n", 1)
                line, *rest = head.decode("latin-1").split("\r\n")
                headers = {}
                for text in rest:
                    name, _, value = text.partition(":")
                    headers[name.strip().lower()] = value.strip()
                request = Request(number, line, headers)
                with self._lock:
                    self.requests.append(request)
                answer, hang_up = self.script(request)
                try:
                    sock.sendall(answer)
                except OSError:
                    return
                if hang_up:
                    return

    def close(self) -> None:
        self.listener.close()
        with self._lock:
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def raw() -> Iterator[Callable[[Script], RawServer]]:
    started: list[RawServer] = []

    def start(script: Script) -> RawServer:
        server = RawServer(script)
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


@pytest.fixture
def client() -> Iterator[HttpClient]:
    with HttpClient(retries=0) as made:
        yield made


def ok(body: bytes, *headers: str, version: str = "HTTP/1.1") -> bytes:
    head = [f"{version} 200 OK", f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def chunked(*pieces: bytes, trailer: str = "", extension: str = "") -> bytes:
    out = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    for piece in pieces:
        out += f"{len(piece):x}{extension}\r\n".encode() + piece + b"\r\n"
    return out + b"0\r\n" + trailer.encode() + b"\r\n"


# -- keep-alive ----------------------------------------------------------------------------

def test_requests_in_a_row_share_one_connection(raw: Callable[[Script], RawServer],
                                                client: HttpClient) -> None:
    server = raw(lambda request: (ok(request.path.encode()), False))
    bodies = [client.get(f"{server.base}/p{i}").body for i in range(5)]
    assert bodies == [f"/p{i}".encode() for i in range(5)]
    assert server.connections == 1
    assert {request.connection for request in server.requests} == {0}


def test_the_request_line_and_headers(raw: Callable[[Script], RawServer],
                                      client: HttpClient) -> None:
    server = raw(lambda request: (ok(b""), False))
    client.get(f"{server.base}/a b/ü?x=1&y=%2F#fragment", headers={"Accept": "text/html"})
    request = server.requests[0]
    assert request.line == "GET /a%20b/%C3%BC?x=1&y=%2F HTTP/1.1"
    assert request.headers["host"] == f"127.0.0.1:{server.port}"
    assert request.headers["accept"] == "text/html"
    assert request.headers["accept-encoding"] == "gzip"
    assert request.headers["user-agent"].startswith("wherry/")


def test_a_header_value_with_a_line_break_is_refused(raw: Callable[[Script], RawServer],
                                                     client: HttpClient) -> None:
    server = raw(lambda request: (ok(b""), False))
    with pytest.raises(NetworkError) as caught:
        client.get(f"{server.base}/x", headers={"Accept": "text/html\r\nX-Injected: 1"})
    assert "line break" in caught.value.message
    assert server.requests == []


def test_a_connection_the_server_closed_while_idle_is_replaced(
        raw: Callable[[Script], RawServer], client: HttpClient) -> None:
    # The server answers, then hangs up without saying so (an idle timeout): the client
    # notices before reusing the connection, even with no retries allowed.
    server = raw(lambda request: (ok(b"fine"), True))
    assert client.get(f"{server.base}/one").body == b"fine"
    time.sleep(0.1)
    assert client.get(f"{server.base}/two").body == b"fine"
    assert server.connections == 2


def test_a_close_racing_the_next_request_is_sent_again_on_a_new_connection(
        raw: Callable[[Script], RawServer], client: HttpClient) -> None:
    # The server reads the second request on the kept connection and hangs up without an
    # answer: the request goes again once on a fresh connection (GET is idempotent).
    def script(request: Request) -> Answer:
        if request.connection == 0 and request.path == "/two":
            return b"", True
        return ok(request.path.encode()), False

    server = raw(script)
    assert client.get(f"{server.base}/one").body == b"/one"
    assert client.get(f"{server.base}/two").body == b"/two"
    assert [(r.connection, r.path) for r in server.requests] == [
        (0, "/one"), (0, "/two"), (1, "/two")]


def test_a_fresh_connection_that_closes_without_an_answer_is_an_error(
        raw: Callable[[Script], RawServer], client: HttpClient) -> None:
    server = raw(lambda request: (b"", True))
    with pytest.raises(NetworkError) as caught:
        client.get(f"{server.base}/x")
    assert "closed the connection" in caught.value.message
    assert len(server.requests) == 1  # a new connection is not tried again when retries=0


def test_connection_close_and_http_1_0_are_not_kept(raw: Callable[[Script], RawServer],
                                                    client: HttpClient) -> None:
    def script(request: Request) -> Answer:
        if request.path == "/close":
            return ok(b"a", "Connection: close"), False
        if request.path == "/old":
            return ok(b"b", version="HTTP/1.0"), False
        return ok(b"c", "Connection: keep-alive", version="HTTP/1.0"), False

    server = raw(script)
    for path in ("/close", "/old", "/kept", "/kept"):
        client.get(f"{server.base}{path}")
    assert [r.connection for r in server.requests] == [0, 1, 2, 2]


# -- framing ---------------------------------------------------------------------------------

def test_a_chunked_body_with_extensions_and_trailers(raw: Callable[[Script], RawServer],
                                                     client: HttpClient) -> None:
    server = raw(lambda request: (
        chunked(b"hello ", b"chunked ", b"world", trailer="X-Sum: 1\r\n",
                extension=";name=value"), False))
    assert client.get(f"{server.base}/a").body == b"hello chunked world"
    assert client.get(f"{server.base}/b").body == b"hello chunked world"
    assert server.connections == 1  # the trailer was read: the connection stayed usable


def test_a_body_ended_by_closing_the_connection(raw: Callable[[Script], RawServer],
                                                client: HttpClient) -> None:
    server = raw(lambda request: (b"HTTP/1.1 200 OK\r\n\r\nuntil the end", True))
    assert client.get(f"{server.base}/a").body == b"until the end"
    assert client.get(f"{server.base}/b").body == b"until the end"
    assert server.connections == 2


def test_informational_answers_are_skipped(raw: Callable[[Script], RawServer],
                                           client: HttpClient) -> None:
    server = raw(lambda request: (
        b"HTTP/1.1 103 Early Hints\r\nLink: </x>; rel=preload\r\n\r\n" + ok(b"real"), False))
    response = client.get(f"{server.base}/a")
    assert (response.status, response.body) == (200, b"real")
    assert "link" not in response.headers


def test_repeated_and_folded_headers(raw: Callable[[Script], RawServer],
                                     client: HttpClient) -> None:
    server = raw(lambda request: (ok(b"", "X-Many: one", "X-Many: two",
                                     "X-Folded: first", "  second", "Content-Type:text/html"),
                                  False))
    headers = client.get(f"{server.base}/a").headers
    assert headers["x-many"] == "one, two"
    assert headers["x-folded"] == "first second"
    assert headers["content-type"] == "text/html"


def test_no_body_for_head_204_and_304(raw: Callable[[Script], RawServer],
                                      client: HttpClient) -> None:
    def script(request: Request) -> Answer:
        if request.line.startswith("HEAD"):
            return b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n", False
        if request.path == "/empty":
            return b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", False
        if request.path == "/same":
            return b"HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n", False
        return ok(b"body"), False

    server = raw(script)
    assert client.head(f"{server.base}/h").headers["content-length"] == "5000"
    assert client.get(f"{server.base}/empty", allow_status=(204,)).body == b""
    assert client.get(f"{server.base}/same", allow_status=(304,)).body == b""
    assert client.get(f"{server.base}/last").body == b"body"
    assert server.connections == 1


def test_gzip_in_several_members_and_deflate(raw: Callable[[Script], RawServer],
                                             client: HttpClient) -> None:
    text = b"page " * 2000

    def script(request: Request) -> Answer:
        if request.path == "/gzip":
            body = gzip.compress(text[:5000]) + gzip.compress(text[5000:])
            return ok(body, "Content-Encoding: gzip"), False
        if request.path == "/zlib":
            return ok(zlib.compress(text), "Content-Encoding: deflate"), False
        raw_deflate = zlib.compressobj(wbits=-15)
        body = raw_deflate.compress(text) + raw_deflate.flush()
        return ok(body, "Content-Encoding: deflate"), False

    server = raw(script)
    for path in ("/gzip", "/zlib", "/raw"):
        assert client.get(f"{server.base}{path}").body == text


def test_a_cut_gzip_body_is_a_broken_body(raw: Callable[[Script], RawServer],
                                          client: HttpClient) -> None:
    body = gzip.compress(b"x" * 100_000)[:-20]
    server = raw(lambda request: (ok(body, "Content-Encoding: gzip"), False))
    with pytest.raises(NetworkError, match="broken response body"):
        client.get(f"{server.base}/a")


def test_a_cut_chunked_body_is_retried(raw: Callable[[Script], RawServer]) -> None:
    whole = chunked(b"a" * 1000, b"b" * 1000)

    def script(request: Request) -> Answer:
        return (whole[:-40], True) if request.connection == 0 else (whole, False)

    server = raw(script)
    with HttpClient(retries=1) as client:
        assert client.get(f"{server.base}/a").body == b"a" * 1000 + b"b" * 1000
    assert server.connections == 2


def test_not_an_http_answer_is_an_error(raw: Callable[[Script], RawServer],
                                        client: HttpClient) -> None:
    server = raw(lambda request: (b"SSH-2.0-OpenSSH_9.6\r\n", True))
    with pytest.raises(NetworkError) as caught:
        client.get(f"{server.base}/a")
    assert "not an HTTP response" in caught.value.message


def test_an_endless_header_line_is_an_error(raw: Callable[[Script], RawServer],
                                            client: HttpClient) -> None:
    server = raw(lambda request: (b"HTTP/1.1 200 OK\r\nX-Long: " + b"x" * 200_000, True))
    with pytest.raises(NetworkError) as caught:
        client.get(f"{server.base}/a")
    assert "header" in caught.value.message


def test_a_large_download_streams_and_is_verified(raw: Callable[[Script], RawServer],
                                                  client: HttpClient, tmp_path: Path) -> None:
    blob = bytes(range(256)) * 16384  # 4 MiB
    server = raw(lambda request: (ok(blob), False))
    digest = hashlib.sha256(blob).hexdigest()
    dest = tmp_path / "blob.bin"
    assert client.download(f"{server.base}/blob.bin", dest, hashes={"sha256": digest}) == digest
    assert dest.read_bytes() == blob
    assert server.requests[0].headers["accept-encoding"] == "identity"


def test_a_range_answer_ignored_drops_the_connection(raw: Callable[[Script], RawServer],
                                                     client: HttpClient) -> None:
    blob = b"z" * 1_000_000
    server = raw(lambda request: (ok(blob), False))
    assert client.get_range(f"{server.base}/big.whl", -100, None) is None
    assert client.get(f"{server.base}/small").body == blob
    # The unread megabyte was not drained: the first connection was dropped.
    assert server.connections == 2


def test_idle_connections_are_kept_up_to_the_worker_count(
        raw: Callable[[Script], RawServer]) -> None:
    gate = threading.Barrier(4, timeout=5)

    def script(request: Request) -> Answer:
        if request.path.startswith("/together"):
            gate.wait()
        return ok(b"x"), False

    server = raw(script)
    with HttpClient(retries=0, max_workers=4) as client:
        client.map(lambda i: client.get(f"{server.base}/together{i}"), range(4))
        assert server.connections == 4
        client.map(lambda i: client.get(f"{server.base}/again{i}"), range(4))
        assert server.connections == 4  # all four came back to the pool and were reused


# -- the body's digest ---------------------------------------------------------------------

@pytest.mark.parametrize("framing", ["length", "length-gzip", "chunked", "until-close"])
def test_the_digest_computed_while_reading_is_the_body_s(
        raw: Callable[[Script], RawServer], client: HttpClient, framing: str) -> None:
    # A body of several hash steps (read and hashed piece by piece), and every other
    # framing (hashed at the end, after decoding).
    body = bytes(range(256)) * 4099  # 1 MiB and a bit: not a multiple of the step
    if framing == "length":
        answer = ok(body), False
    elif framing == "length-gzip":
        answer = ok(gzip.compress(body), "Content-Encoding: gzip"), False
    elif framing == "chunked":
        answer = chunked(body[:700_000], body[700_000:]), False
    else:
        answer = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + body, True
    server = raw(lambda request: answer)
    response = client.get(f"{server.base}/page", digest=True)
    assert response.body == body
    assert response.digest == hashlib.sha256(body).hexdigest()
    assert response.sha256() == response.digest
    plain = client.get(f"{server.base}/page")
    assert plain.digest is None and plain.sha256() == hashlib.sha256(body).hexdigest()


def test_a_body_cut_short_while_hashing_is_a_broken_body(
        raw: Callable[[Script], RawServer], client: HttpClient) -> None:
    body = b"x" * 600_000
    server = raw(lambda request: (ok(body)[:-1000], True))
    with pytest.raises(NetworkError) as caught:
        client.get(f"{server.base}/page", digest=True)
    assert "599000 of 600000 bytes" in caught.value.message
