"""The HTTP client against real servers on 127.0.0.1: retries, redirects, hashes, ranges.

Most tests use the shared `IndexServer`; a tiny scripted server (`Stub`) covers what an
index never does on its own: a body cut short only once, a redirect to another origin,
a slow answer.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.support import MakeIndex
from tests.support.packages import Wheelhouse, sha256_of
from wherry.errors import HashMismatch, IndexError_, NetworkError
from wherry.http.client import HttpClient, HttpStatusError, Response, redact

# -- a scripted server ---------------------------------------------------------------------

Script = dict[str, list[tuple[int, dict[str, str], bytes]]]


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that hangs up early (timeouts) is expected here, not worth a traceback."""


class Stub:
    """Answers each path from a list of (status, headers, body); the last one repeats.

    A body of `b"TRUNCATE:" + data` promises all of `data` and sends half, then hangs up.
    """

    def __init__(self, script: Script, *, delay: float = 0.0) -> None:
        self.script = script
        self.delay = delay
        self.log: list[tuple[str, dict[str, str]]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                stub.log.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                time.sleep(stub.delay)
                answers = stub.script.get(self.path) or [(404, {}, b"nope")]
                status, headers, body = answers.pop(0) if len(answers) > 1 else answers[0]
                truncate = body.startswith(b"TRUNCATE:")
                body = body.removeprefix(b"TRUNCATE:")
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value.replace("{base}", stub.base))
                self.send_header("Content-Length", str(len(body)))
                if truncate:
                    self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body[: len(body) // 2] if truncate else body)
                if truncate:
                    self.close_connection = True

        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def stubs() -> Iterator[list[Stub]]:
    started: list[Stub] = []
    yield started
    for stub in started:
        stub.close()


@pytest.fixture
def client() -> Iterator[HttpClient]:
    with HttpClient(retries=2) as made:
        made.backoff = 0.01
        yield made


def _stub(stubs: list[Stub], script: Script, **kwargs: float) -> Stub:
    stub = Stub(script, **kwargs)
    stubs.append(stub)
    return stub


# -- import cost ---------------------------------------------------------------------------

def test_import_is_light() -> None:
    code = ("import sys, wherry.http.client; "
            "print(sorted(m for m in ('urllib3', 'ssl', 'msgspec') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_constructing_a_client_imports_nothing() -> None:
    code = ("import sys; from wherry.http.client import HttpClient; HttpClient(); "
            "print('urllib3' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"


# -- GET -----------------------------------------------------------------------------------

def test_get_follows_redirects_and_decodes_gzip(
        make_index: MakeIndex, wheelhouse: Wheelhouse, client: HttpClient) -> None:
    server = make_index([wheelhouse.wheel("foo", "1.0")])
    response = client.get(f"{server.url}/Foo", headers={"Accept": "text/html"})
    assert response.status == 200
    assert response.url == server.project_url("foo")
    assert b"foo-1.0-py3-none-any.whl" in response.body
    assert response.content_type == "text/html"
    first, second = server.requests
    assert first.path == "/simple/Foo" and second.path == "/simple/foo/"
    assert second.headers["accept-encoding"] == "gzip"
    assert second.headers["user-agent"].startswith("wherry/")


def test_status_not_allowed_raises_with_redacted_url(
        make_index: MakeIndex, client: HttpClient) -> None:
    server = make_index([])
    url = server.project_url("nothing").replace("://", "://alice:s3cret@")
    assert client.get(url, allow_status=(200, 404)).status == 404
    with pytest.raises(HttpStatusError) as caught:
        client.get(url)
    error = caught.value
    assert isinstance(error, IndexError_)
    assert error.status == 404
    assert "404 Not Found" in error.message
    assert "alice:****@127.0.0.1" in error.message
    assert "s3cret" not in error.render()
    assert error.hint


def test_credentials_from_the_url_are_sent(make_index: MakeIndex, wheelhouse: Wheelhouse,
                                           client: HttpClient) -> None:
    server = make_index([wheelhouse.wheel("foo", "1.0")], auth=("alice", "p@ss word"))
    with pytest.raises(HttpStatusError) as caught:
        client.get(server.project_url("foo"))
    assert caught.value.status == 401
    url = server.project_url("foo").replace("://", "://alice:p%40ss%20word@")
    response = client.get(url)
    assert response.status == 200
    # A same-origin redirect keeps the credentials.
    assert client.get(url.replace("/foo/", "/Foo")).status == 200


def test_credentials_are_not_forwarded_to_another_origin(
        stubs: list[Stub], client: HttpClient) -> None:
    target = _stub(stubs, {"/page": [(200, {}, b"hello")]})
    origin = _stub(stubs, {"/start": [(302, {"Location": f"{target.base}/page"}, b"")]})
    url = origin.base.replace("://", "://bob:secret@") + "/start"
    response = client.get(url, headers={"Authorization": "Bearer token"})
    assert response.body == b"hello"
    assert response.url == f"{target.base}/page"
    assert "authorization" in origin.log[0][1]
    assert "authorization" not in target.log[0][1]


def test_retries_a_server_error_then_succeeds(
        make_index: MakeIndex, wheelhouse: Wheelhouse, client: HttpClient) -> None:
    server = make_index([wheelhouse.wheel("foo", "1.0")], fail={"/simple/foo/": 503},
                        fail_times={"/simple/foo/": 2})
    response = client.get(server.project_url("foo"))
    assert response.status == 200
    assert server.paths() == ["/simple/foo/"] * 3


def test_gives_up_after_the_retries(make_index: MakeIndex, client: HttpClient) -> None:
    server = make_index([], fail={"/simple/": 500})
    with pytest.raises(HttpStatusError) as caught:
        client.get(server.project_url("foo"))
    assert caught.value.status == 500
    assert "3 attempts" in (caught.value.hint or "")
    assert len(server.requests) == 3


def test_client_errors_are_not_retried(make_index: MakeIndex, client: HttpClient) -> None:
    server = make_index([], fail={"/simple/": 403})
    with pytest.raises(HttpStatusError):
        client.get(server.project_url("foo"))
    assert len(server.requests) == 1


def test_retries_a_truncated_body(stubs: list[Stub], client: HttpClient) -> None:
    body = b"x" * 10_000
    stub = _stub(stubs, {"/f": [(200, {}, b"TRUNCATE:" + body), (200, {}, body)]})
    assert client.get(f"{stub.base}/f").body == body
    assert len(stub.log) == 2


def test_a_body_always_truncated_is_a_network_error(
        make_index: MakeIndex, wheelhouse: Wheelhouse, client: HttpClient) -> None:
    server = make_index([wheelhouse.wheel("foo", "1.0")], truncate={"/simple/foo/"})
    with pytest.raises(NetworkError) as caught:
        client.get(server.project_url("foo"))
    assert "broken response body" in caught.value.message
    assert len(server.requests) == 3


def test_connection_refused_is_a_network_error(client: HttpClient) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started = time.perf_counter()
    with pytest.raises(NetworkError) as caught:
        client.get(f"http://u:pw@127.0.0.1:{port}/simple/")
    assert time.perf_counter() - started < 5
    assert f"http://u:****@127.0.0.1:{port}/simple/" in caught.value.message
    assert caught.value.hint


def test_timeout_from_the_environment(stubs: list[Stub],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    stub = _stub(stubs, {"/slow": [(200, {}, b"late")]}, delay=1.0)
    monkeypatch.setenv("WHERRY_HTTP_TIMEOUT", "0.2")
    monkeypatch.setenv("WHERRY_HTTP_RETRIES", "0")
    with HttpClient() as client:
        assert client.timeout == 0.2 and client.retries == 0
        with pytest.raises(NetworkError):
            client.get(f"{stub.base}/slow")
    assert len(stub.log) == 1


# -- file:// -------------------------------------------------------------------------------

def test_file_urls(tmp_path: Path, client: HttpClient) -> None:
    page = tmp_path / "a b" / "index.html"
    page.parent.mkdir()
    page.write_text("<a href='x.whl'>x</a>")
    url = page.as_uri()
    response = client.get(url)
    assert (response.status, response.body, response.content_type) == (
        200, page.read_bytes(), "text/html")
    assert client.get(url + ".missing", allow_status=(200, 404)).status == 404
    with pytest.raises(HttpStatusError):
        client.get(url + ".missing")
    with pytest.raises(IndexError_, match="directory"):
        client.get(page.parent.as_uri())
    ranged = client.get_range(url, 3, 7)
    assert ranged is not None and ranged.body == page.read_bytes()[3:7]


# -- downloads -----------------------------------------------------------------------------

def test_download_verifies_hashes(make_index: MakeIndex, wheelhouse: Wheelhouse,
                                  client: HttpClient, tmp_path: Path) -> None:
    wheel = wheelhouse.wheel("foo", "1.0", files={"foo/data.bin": bytes(range(256)) * 4000})
    server = make_index([wheel])
    expected = sha256_of(wheel)
    md5 = hashlib.md5(wheel.read_bytes()).hexdigest()
    dest = tmp_path / "out" / wheel.name
    digest = client.download(server.file_url(wheel.name), dest,
                             hashes={"sha256": expected.upper(), "md5": md5})
    assert digest == expected
    assert dest.read_bytes() == wheel.read_bytes()
    assert server.requests[-1].headers["accept-encoding"] == "identity"


def test_download_hash_mismatch(make_index: MakeIndex, wheelhouse: Wheelhouse,
                                client: HttpClient, tmp_path: Path) -> None:
    wheel = wheelhouse.wheel("foo", "1.0")
    server = make_index([wheel])
    dest = tmp_path / wheel.name
    with pytest.raises(HashMismatch) as caught:
        client.download(server.file_url(wheel.name), dest, hashes={"sha256": "ab" * 32})
    message = caught.value.message
    assert wheel.name in message and "ab" * 32 in message and sha256_of(wheel) in message
    assert list(tmp_path.iterdir()) == []  # neither the file nor a temporary one


def test_download_retries_a_truncated_body(stubs: list[Stub], client: HttpClient,
                                           tmp_path: Path) -> None:
    body = bytes(range(256)) * 1000
    stub = _stub(stubs, {"/w.whl": [(200, {}, b"TRUNCATE:" + body), (200, {}, body)]})
    digest = client.download(f"{stub.base}/w.whl", tmp_path / "w.whl", hashes={})
    assert digest == hashlib.sha256(body).hexdigest()
    assert len(stub.log) == 2
    assert [p.name for p in tmp_path.iterdir()] == ["w.whl"]


def test_download_of_a_file_url(wheelhouse: Wheelhouse, client: HttpClient,
                                tmp_path: Path) -> None:
    wheel = wheelhouse.wheel("foo", "1.0")
    digest = client.download(wheel.as_uri(), tmp_path / "copy.whl",
                             hashes={"sha256": sha256_of(wheel)})
    assert digest == sha256_of(wheel)
    with pytest.raises(HashMismatch):
        client.download(wheel.as_uri(), tmp_path / "bad.whl", hashes={"sha256": "0" * 64})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.whl"]


# -- ranges and HEAD -----------------------------------------------------------------------

def test_ranges(make_index: MakeIndex, wheelhouse: Wheelhouse, client: HttpClient) -> None:
    wheel = wheelhouse.wheel("foo", "1.0")
    data = wheel.read_bytes()
    server = make_index([wheel])
    url = server.file_url(wheel.name)
    head = client.head(url)
    assert head.body == b"" and head.headers["content-length"] == str(len(data))
    middle = client.get_range(url, 10, 20)
    assert middle is not None and middle.status == 206 and middle.body == data[10:20]
    tail = client.get_range(url, -100, None)
    assert tail is not None and tail.body == data[-100:]
    assert tail.headers["content-range"] == f"bytes {len(data) - 100}-{len(data) - 1}/{len(data)}"
    rest = client.get_range(url, 50, None)
    assert rest is not None and rest.body == data[50:]


def test_a_server_without_ranges_is_remembered(
        make_index: MakeIndex, wheelhouse: Wheelhouse, client: HttpClient) -> None:
    wheel = wheelhouse.wheel("foo", "1.0")
    server = make_index([wheel], ranges=False)
    url = server.file_url(wheel.name)
    assert client.supports_ranges(url)
    assert client.get_range(url, 0, 10) is None
    assert not client.supports_ranges(url)
    assert client.get_range(url, 0, 10) is None
    assert len(server.requests) == 1


# -- the pool ------------------------------------------------------------------------------

def test_map_keeps_order_and_runs_concurrently(client: HttpClient) -> None:
    def slow(n: int) -> int:
        time.sleep(0.05)
        return n * n

    started = time.perf_counter()
    assert client.map(slow, range(20)) == [n * n for n in range(20)]
    assert time.perf_counter() - started < 0.5


def test_map_raises_the_first_failure_after_the_rest(client: HttpClient) -> None:
    finished: list[int] = []

    def work(n: int) -> int:
        if n in (3, 7):
            raise ValueError(n)
        time.sleep(0.02)
        finished.append(n)
        return n

    with pytest.raises(ValueError) as caught:
        client.map(work, range(10))
    assert caught.value.args == (3,)


def test_nested_map_does_not_deadlock() -> None:
    with HttpClient(max_workers=2) as client:
        result = client.map(lambda n: sum(client.map(lambda m: m, range(n))), range(6))
    assert result == [sum(range(n)) for n in range(6)]


def test_redact() -> None:
    assert redact("https://u:p@h/x@y") == "https://u:****@h/x@y"
    assert redact("https://token@h:8080/x") == "https://****@h:8080/x"
    assert redact("https://h/x?a=b@c") == "https://h/x?a=b@c"
    assert redact("/local/path") == "/local/path"


def test_response_content_type() -> None:
    response = Response("http://h/", 200, {"content-type": "Text/HTML; charset=utf-8"}, b"")
    assert response.content_type == "text/html"


# -- TLS -----------------------------------------------------------------------------------

@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_https_with_cert_and_ssl_cert_file(tmp_path: Path, stubs: list[Stub],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import ssl

    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    stub = _stub(stubs, {"/secure": [(200, {}, b"private")]})
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    stub.httpd.socket = context.wrap_socket(stub.httpd.socket, server_side=True)
    url = stub.base.replace("http://", "https://") + "/secure"

    with HttpClient(retries=0, cert=str(cert)) as client:
        assert client.get(url).body == b"private"
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    with HttpClient(retries=0) as client:
        assert client.get(url).body == b"private"
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    with HttpClient(retries=0) as client, pytest.raises(NetworkError, match="CA certificates"):
        client.get(url)
    monkeypatch.delenv("SSL_CERT_FILE")
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    with HttpClient(retries=0) as client, pytest.raises(NetworkError) as caught:
        client.get(url)
    assert "TLS" in caught.value.message and "--cert" in (caught.value.hint or "")


def test_the_system_store_is_read_lazily_only_when_its_directory_matches_its_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ssl
    from types import SimpleNamespace

    from wherry.http.tls import _lazy_system_store

    certificate = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    bundle = tmp_path / "ca-certificates.crt"
    bundle.write_bytes(certificate * 2)
    directory = tmp_path / "certs"
    directory.mkdir()
    (directory / "ca-one.pem").write_bytes(certificate)
    (directory / "0a1b2c3d.0").write_bytes(certificate)
    monkeypatch.setattr(ssl, "get_default_verify_paths", lambda: SimpleNamespace(
        cafile=str(bundle), capath=str(directory)))
    assert _lazy_system_store() is None  # one hash link for two certificates: the file
    (directory / "4e5f6a7b.0").write_bytes(certificate)
    assert _lazy_system_store() == str(directory)
    bundle.unlink()
    assert _lazy_system_store() is None


def test_a_cert_option_naming_the_system_bundle_reads_the_store_lazily(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `--cert`/PIP_CERT/SSL_CERT_FILE set to the system's own CA file (by any path) trusts
    # what the system store trusts: the hashed directory is used, read on demand. Any
    # other file is loaded as given.
    import ssl
    from types import SimpleNamespace

    from wherry.http import tls

    certificate = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    bundle = tmp_path / "ca-certificates.crt"
    bundle.write_bytes(certificate)
    alias = tmp_path / "cert.pem"
    alias.symlink_to(bundle)
    other = tmp_path / "corporate.pem"
    other.write_bytes(certificate)
    directory = tmp_path / "certs"
    directory.mkdir()
    (directory / "0a1b2c3d.0").write_bytes(certificate)
    monkeypatch.setattr(ssl, "get_default_verify_paths", lambda: SimpleNamespace(
        cafile=str(bundle), capath=str(directory), openssl_cafile=None, openssl_capath=None))
    made: list[dict[str, str | None]] = []

    def create_default_context(**kwargs: str | None) -> object:
        made.append(kwargs)
        return object()

    monkeypatch.setattr(ssl, "create_default_context", create_default_context)
    monkeypatch.setattr(tls, "_contexts", {})
    tls.verifying_context(str(alias))
    tls.verifying_context(str(other))
    assert made == [{"capath": str(directory)}, {"cafile": str(other), "capath": None}]
    # SSL_CERT_FILE and SSL_CERT_DIR both naming the system store: lazily too; with
    # another directory beside it, both are loaded as given.
    elsewhere = tmp_path / "more-certs"
    elsewhere.mkdir()
    made.clear()
    monkeypatch.setattr(tls, "_contexts", {})
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    monkeypatch.setenv("SSL_CERT_DIR", str(directory))
    tls.verifying_context(None)
    monkeypatch.setenv("SSL_CERT_DIR", str(elsewhere))
    tls.verifying_context(None)
    assert made == [{"capath": str(directory)},
                    {"cafile": str(bundle), "capath": str(elsewhere)}]
