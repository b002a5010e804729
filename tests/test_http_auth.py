"""Credentials (URL, netrc, keyring), TLS options and proxies, against real local servers.

Everything runs on 127.0.0.1: a scripted HTTP(S) server, the shared `IndexServer` with
basic auth, a forward proxy that counts what passes through it, and a fake `keyring`
command put first on PATH.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import select
import shutil
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.support import MakeIndex, RunWherry
from tests.support.index_server import IndexServer
from tests.support.packages import Wheelhouse
from wherry.errors import NetworkError, UsageError
from wherry.http.auth import Authenticator, Credentials, realm_of, split_userinfo
from wherry.http.client import HttpClient, HttpStatusError, parse_insecure_hosts

Answer = tuple[int, dict[str, str], bytes]
Script = Callable[[str, dict[str, str]], Answer]


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class _Quiet(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """Failed TLS handshakes and early hang-ups are expected here."""


class Server:
    """Answers every GET with `script(path, lower-case headers)`; logs the requests."""

    def __init__(self, script: Script, *, tls: tuple[Path, Path] | None = None) -> None:
        self.log: list[tuple[str, dict[str, str]]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                headers = {k.lower(): v for k, v in self.headers.items()}
                server.log.append((self.path, headers))
                status, extra, body = script(self.path, headers)
                self.send_response(status)
                for key, value in extra.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = _Quiet(("127.0.0.1", 0), Handler)
        self.port = int(self.httpd.server_address[1])
        if tls is not None:
            cert, key = tls
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert, key)
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.base = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def needs(user: str, password: str, body: bytes = b"secret page") -> Script:
    """A script answering 200 with `body` to those credentials, else 401."""
    def script(path: str, headers: dict[str, str]) -> Answer:
        if headers.get("authorization") == basic(user, password):
            return 200, {}, body
        return 401, {"WWW-Authenticate": 'Basic realm="test"'}, b"who are you?"
    return script


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    started: list[Server] = []

    def start(script: Script, *, tls: tuple[Path, Path] | None = None) -> Server:
        made = Server(script, tls=tls)
        started.append(made)
        return made

    yield start
    for made in started:
        made.close()


@pytest.fixture
def client() -> Iterator[HttpClient]:
    with HttpClient(retries=0) as made:
        yield made


def write_netrc(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o600)
    return path


# -- credentials from the URL ----------------------------------------------------------------

def test_url_credentials_are_sent_up_front_and_cover_the_realm(
        make_index: MakeIndex, wheelhouse: Wheelhouse, client: HttpClient,
        tmp_path: Path) -> None:
    wheel = wheelhouse.wheel("foo", "1.0")
    server = make_index([wheel], auth=("alice", "p@ss:word"))
    page = server.project_url("foo").replace("http://", "http://alice:p%40ss%3Aword@")
    assert b"foo-1.0" in client.get(page).body
    # Sent proactively: no 401 round trip first.
    assert [r.headers.get("authorization") for r in server.requests] == [
        basic("alice", "p@ss:word")]
    # A file link without userinfo on the same host gets them too (uv's realm rule).
    client.download(server.file_url(wheel.name), tmp_path / wheel.name, hashes={})
    assert (tmp_path / wheel.name).read_bytes() == wheel.read_bytes()
    assert all(r.headers.get("authorization") for r in server.requests)


def test_realm_credentials_stay_on_their_port(serve: Callable[..., Server],
                                              client: HttpClient) -> None:
    first = serve(needs("alice", "pw"))
    second = serve(needs("alice", "pw"))
    assert client.get(first.base.replace("//", "//alice:pw@") + "/a").body == b"secret page"
    with pytest.raises(HttpStatusError) as caught:
        client.get(second.base + "/b")
    assert caught.value.status == 401
    assert "authorization" not in second.log[0][1]


def test_username_only_url_is_sent_as_a_token(serve: Callable[..., Server],
                                              client: HttpClient) -> None:
    server = serve(needs("tok3n", ""))
    assert client.get(server.base.replace("//", "//tok3n@") + "/x").status == 200
    assert server.log[0][1]["authorization"] == basic("tok3n", "")


# -- netrc ------------------------------------------------------------------------------------

def test_netrc_after_a_401_then_proactively(
        make_index: MakeIndex, wheelhouse: Wheelhouse, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    server = make_index([wheelhouse.wheel("foo", "1.0")], auth=("alice", "netrc-pw"))
    netrc = write_netrc(tmp_path / "netrc",
                        "machine 127.0.0.1\n  login alice\n  password netrc-pw\n")
    monkeypatch.setenv("NETRC", str(netrc))
    with HttpClient(retries=0) as client:
        assert client.get(server.project_url("foo")).status == 200
        assert client.get(server.url + "/").status == 200
    sent = [r.headers.get("authorization") for r in server.requests]
    auth = basic("alice", "netrc-pw")
    # Bare first, 401, retried once with the netrc entry; then sent up front.
    assert sent == [None, auth, auth]


def test_home_netrc_is_used(serve: Callable[..., Server], client: HttpClient) -> None:
    server = serve(needs("bob", "home-pw"))
    write_netrc(Path.home() / ".netrc", "machine 127.0.0.1 login bob password home-pw\n")
    assert client.get(server.base + "/x").body == b"secret page"


def test_netrc_login_must_match_the_url_username(
        serve: Callable[..., Server], client: HttpClient, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    server = serve(needs("bob", "pw"))
    netrc = write_netrc(tmp_path / "netrc", "machine 127.0.0.1 login alice password pw\n")
    monkeypatch.setenv("NETRC", str(netrc))
    with pytest.raises(HttpStatusError) as caught:
        client.get(server.base.replace("//", "//bob@") + "/x")
    assert caught.value.status == 401
    assert "netrc" in (caught.value.hint or "")


def test_a_broken_netrc_is_ignored_without_leaking(
        serve: Callable[..., Server], client: HttpClient, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    server = serve(needs("bob", "pw"))
    netrc = write_netrc(tmp_path / "netrc", "machine 127.0.0.1 login bob password\n"
                                            "leaky-secret bogus\n")
    monkeypatch.setenv("NETRC", str(netrc))
    with pytest.raises(HttpStatusError):
        client.get(server.base + "/x")
    assert "leaky-secret" not in capsys.readouterr().err


def test_403_and_404_are_retried_with_found_credentials(
        serve: Callable[..., Server], client: HttpClient, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Some private indexes hide projects behind 404 rather than 401 (uv retries them).
    def script(path: str, headers: dict[str, str]) -> Answer:
        if headers.get("authorization") == basic("carol", "pw"):
            return 200, {}, b"found"
        return (404 if path == "/hidden" else 403), {}, b"no"

    server = serve(script)
    netrc = write_netrc(tmp_path / "netrc", "machine 127.0.0.1 login carol password pw\n")
    monkeypatch.setenv("NETRC", str(netrc))
    assert client.get(server.base + "/hidden").body == b"found"
    assert [h.get("authorization") for _, h in server.log] == [None, basic("carol", "pw")]


def test_a_404_without_credentials_anywhere_is_not_retried(
        serve: Callable[..., Server], client: HttpClient) -> None:
    server = serve(lambda path, headers: (404, {}, b"no"))
    with pytest.raises(HttpStatusError):
        client.get(server.base + "/missing")
    assert len(server.log) == 1


def test_wrong_url_credentials_fall_back_to_netrc(
        serve: Callable[..., Server], client: HttpClient, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    server = serve(needs("alice", "right"))
    netrc = write_netrc(tmp_path / "netrc", "machine 127.0.0.1 login alice password right\n")
    monkeypatch.setenv("NETRC", str(netrc))
    assert client.get(server.base.replace("//", "//alice:wrong@") + "/x").status == 200
    assert [h["authorization"] for _, h in server.log] == [basic("alice", "wrong"),
                                                           basic("alice", "right")]


# -- keyring ------------------------------------------------------------------------------------

@pytest.fixture
def fake_keyring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """`fake_keyring({(service, user): password})` writes a `keyring` command first on PATH
    that answers from the map and logs its arguments (one JSON list a line); returns
    the log path."""
    def make(answers: dict[tuple[str, str], str]) -> Path:
        folder = tmp_path / "keyring-bin"
        folder.mkdir(exist_ok=True)
        calls = folder / "calls.jsonl"
        table = {f"{service} {user}": password for (service, user), password in answers.items()}
        script = folder / "keyring"
        script.write_text(
            f"#!{sys.executable}\n"
            "import json, sys\n"
            f"with open({str(calls)!r}, 'a') as log:\n"
            "    log.write(json.dumps(sys.argv[1:]) + '\\n')\n"
            f"table = {table!r}\n"
            "if len(sys.argv) == 4 and sys.argv[1] == 'get':\n"
            "    answer = table.get(sys.argv[2] + ' ' + sys.argv[3])\n"
            "    if answer is not None:\n"
            "        print(answer)\n"
            "        sys.exit(0)\n"
            "sys.exit(1)\n")
        script.chmod(0o755)
        monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ.get('PATH', '')}")
        return calls
    return make


def _calls(log: Path) -> list[list[str]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_keyring_by_index_url_then_host(serve: Callable[..., Server],
                                        fake_keyring: Callable[..., Path]) -> None:
    server = serve(needs("alice", "from-keyring"))
    hostport = f"127.0.0.1:{server.port}"
    calls = fake_keyring({(hostport, "alice"): "from-keyring"})
    index = server.base.replace("//", "//alice@") + "/simple"
    with HttpClient(retries=0, keyring_provider="subprocess", index_urls=[index]) as client:
        assert client.get(index + "/foo/").status == 200
        assert client.get(server.base.replace("//", "//alice@") + "/simple/bar/").status == 200
        assert client.get(server.base + "/files/x.whl").status == 200
    # The index URL first (without userinfo), then host:port; answers are cached.
    assert _calls(calls) == [["get", server.base + "/simple", "alice"],
                             ["get", hostport, "alice"]]
    # The password was looked up before the first request: no 401 round trip.
    assert all(h["authorization"] == basic("alice", "from-keyring") for _, h in server.log)


def test_keyring_needs_a_username(serve: Callable[..., Server],
                                  fake_keyring: Callable[..., Path]) -> None:
    server = serve(needs("alice", "pw"))
    calls = fake_keyring({(f"127.0.0.1:{server.port}", "alice"): "pw"})
    with HttpClient(retries=0, keyring_provider="subprocess") as client, \
            pytest.raises(HttpStatusError):
        client.get(server.base + "/x")
    assert _calls(calls) == []


def test_keyring_is_off_by_default(serve: Callable[..., Server],
                                   fake_keyring: Callable[..., Path]) -> None:
    server = serve(needs("alice", "pw"))
    calls = fake_keyring({(f"127.0.0.1:{server.port}", "alice"): "pw"})
    with HttpClient(retries=0) as client, pytest.raises(HttpStatusError):
        client.get(server.base.replace("//", "//alice@") + "/x")
    assert _calls(calls) == []


def test_missing_keyring_command_is_an_error_only_when_enabled(
        serve: Callable[..., Server], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    server = serve(needs("alice", "pw"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    url = server.base.replace("//", "//alice@") + "/x"
    with HttpClient(retries=0) as client, pytest.raises(HttpStatusError):
        client.get(url)
    with HttpClient(retries=0, keyring_provider="subprocess") as client, \
            pytest.raises(UsageError, match="keyring") as caught:
        client.get(url)
    assert "PATH" in caught.value.message


def test_unknown_keyring_provider() -> None:
    with pytest.raises(UsageError):
        Authenticator(keyring_provider="import")


# -- redirects ------------------------------------------------------------------------------------

def test_redirect_to_another_host_strips_credentials(
        serve: Callable[..., Server], client: HttpClient, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    target = serve(needs("bob", "bobs-pw", b"moved here"))

    def origin(path: str, headers: dict[str, str]) -> Answer:
        if headers.get("authorization") != basic("alice", "alices-pw"):
            return 401, {}, b""
        return 302, {"Location": f"http://localhost:{target.port}/landing"}, b""

    start = serve(origin)
    # The other host has its own netrc entry; the first host's URL credentials and
    # its netrc entry must never reach it.
    netrc = write_netrc(tmp_path / "netrc",
                        "machine 127.0.0.1 login alice password alices-pw\n"
                        "machine localhost login bob password bobs-pw\n")
    monkeypatch.setenv("NETRC", str(netrc))
    response = client.get(start.base.replace("//", "//alice:alices-pw@") + "/start")
    assert response.body == b"moved here"
    sent = [h.get("authorization") for _, h in target.log]
    assert sent == [None, basic("bob", "bobs-pw")]


# -- what is printed ------------------------------------------------------------------------------

def test_credentials_repr_and_split() -> None:
    bare, given = split_userinfo("https://us%40er:pa%3Ass@Host:8443/simple/#frag")
    assert bare == "https://Host:8443/simple/"
    assert given == Credentials("us@er", "pa:ss")
    assert "pa:ss" not in repr(given)
    assert realm_of(bare) == ("https", "host", 8443)
    assert realm_of("http://h/") == ("http", "h", 80)


def test_errors_never_show_passwords(serve: Callable[..., Server],
                                     client: HttpClient) -> None:
    server = serve(needs("alice", "right"))
    with pytest.raises(HttpStatusError) as caught:
        client.get(server.base.replace("//", "//alice:hunter2@") + "/x")
    assert "hunter2" not in caught.value.render()
    assert "alice:****@" in caught.value.message


@pytest.fixture
def venv(tmp_path: Path, run_wherry: RunWherry) -> Path:
    path = tmp_path / "venv"
    result = run_wherry("venv", path, "--python", sys.executable)
    assert result.ok, result
    return path


def test_install_at_trace_level_never_prints_credentials(
        make_index: MakeIndex, wheelhouse: Wheelhouse, run_wherry: RunWherry,
        venv: Path) -> None:
    password = "s3cr3t-Pa55"
    token = base64.b64encode(f"alice:{password}".encode()).decode()
    server = make_index([wheelhouse.wheel("alpha", "1.0", requires=["beta"]),
                         wheelhouse.wheel("beta", "2.0"), wheelhouse.wheel("gamma", "3.0")],
                        auth=("alice", password))
    index = server.url.replace("http://", f"http://alice:{password}@")
    result = run_wherry("pip", "install", "alpha", "--python", venv, "--index-url", index,
                        "-vv")
    assert result.ok, result
    assert "+ alpha==1.0" in result.stdout + result.stderr
    output = result.stdout + result.stderr
    assert password not in output and token not in output
    assert all(r.headers.get("authorization") == f"Basic {token}" for r in server.requests)

    wrong = server.url.replace("http://", "http://alice:n0t-the-Pa55@")
    failed = run_wherry("pip", "install", "gamma", "--python", venv, "--index-url",
                        wrong, "-vv")
    assert not failed.ok
    assert "n0t-the-Pa55" not in failed.stdout + failed.stderr


def test_install_with_keyring_and_netrc_from_the_command_line(
        make_index: MakeIndex, wheelhouse: Wheelhouse, run_wherry: RunWherry, venv: Path,
        fake_keyring: Callable[..., Path], tmp_path: Path) -> None:
    server = make_index([wheelhouse.wheel("alpha", "1.0")], auth=("alice", "kr-pw"))
    calls = fake_keyring({(server.url, "alice"): "kr-pw"})
    index = server.url.replace("http://", "http://alice@")
    result = run_wherry("pip", "install", "alpha", "--python", venv, "--index-url", index,
                        "--keyring-provider", "subprocess", "-vv")
    assert result.ok, result
    assert _calls(calls) == [["get", server.url, "alice"]]
    assert "kr-pw" not in result.stdout + result.stderr

    other = make_index([wheelhouse.wheel("beta", "2.0")], auth=("nina", "netrc-pw"))
    netrc = write_netrc(tmp_path / "netrc", "machine 127.0.0.1 login nina password netrc-pw\n")
    result = run_wherry("pip", "install", "beta", "--python", venv, "--index-url", other.url,
                        env={"NETRC": str(netrc)})
    assert result.ok, result


# -- TLS ------------------------------------------------------------------------------------------

def _self_signed(folder: Path, name: str) -> tuple[Path, Path]:
    cert, key = folder / f"{name}.pem", folder / f"{name}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", f"/CN={name}", "-addext",
                    "subjectAltName=IP:127.0.0.1,DNS:localhost",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command")
    folder = tmp_path_factory.mktemp("tls")
    return {name: _self_signed(folder, name) for name in ("server", "stranger")}


@pytest.fixture
def no_ca_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)


def ok(path: str, headers: dict[str, str]) -> Answer:
    return 200, {}, b"over tls"


def test_unverified_certificate_names_the_host_and_the_ways_out(
        serve: Callable[..., Server], certs: dict[str, tuple[Path, Path]],
        no_ca_env: None) -> None:
    server = serve(ok, tls=certs["server"])
    with HttpClient(retries=0) as client, pytest.raises(NetworkError) as caught:
        client.get(server.base.replace("//", "//alice:pw@") + "/x")
    error = caught.value
    assert f"127.0.0.1:{server.port}" in error.message
    assert "verification failed" in error.message
    assert "--cert" in (error.hint or "")
    assert f"--allow-insecure-host 127.0.0.1:{server.port}" in (error.hint or "")
    assert "pw@" not in error.render()


def test_cert_option_beats_ssl_cert_file(
        serve: Callable[..., Server], certs: dict[str, tuple[Path, Path]],
        monkeypatch: pytest.MonkeyPatch, no_ca_env: None) -> None:
    server = serve(ok, tls=certs["server"])
    good, stranger = str(certs["server"][0]), str(certs["stranger"][0])
    monkeypatch.setenv("SSL_CERT_FILE", stranger)
    with HttpClient(retries=0, cert=good) as client:
        assert client.get(server.base + "/x").body == b"over tls"
    with HttpClient(retries=0) as client, pytest.raises(NetworkError):
        client.get(server.base + "/x")
    monkeypatch.setenv("SSL_CERT_FILE", good)
    with HttpClient(retries=0) as client:
        assert client.get(server.base + "/x").body == b"over tls"
    with HttpClient(retries=0, cert=stranger) as client, pytest.raises(NetworkError):
        client.get(server.base + "/x")


def test_tls_context_is_built_once_per_process(certs: dict[str, tuple[Path, Path]]) -> None:
    cert = str(certs["server"][0])
    with HttpClient(cert=cert) as one, HttpClient(cert=cert) as two:
        assert one._ssl_context() is two._ssl_context()


def test_allow_insecure_host_is_per_host_and_port(
        serve: Callable[..., Server], certs: dict[str, tuple[Path, Path]],
        no_ca_env: None) -> None:
    trusted = serve(ok, tls=certs["server"])
    other = serve(ok, tls=certs["stranger"])
    hosts = [f"127.0.0.1:{trusted.port}"]
    with HttpClient(retries=0, allow_insecure_hosts=hosts) as client:
        assert client.get(trusted.base + "/x").body == b"over tls"
        with pytest.raises(NetworkError, match="verification failed"):
            client.get(other.base + "/x")
    with HttpClient(retries=0, allow_insecure_hosts=["127.0.0.1"]) as client:
        assert client.get(other.base + "/x").body == b"over tls"


def test_parse_insecure_hosts() -> None:
    assert parse_insecure_hosts(["Example.org", "h:8443", "https://x:1/", "[::1]:9"]) == (
        ("example.org", None), ("h", 8443), ("x", 1), ("::1", 9))
    with pytest.raises(UsageError):
        parse_insecure_hosts(["h:notaport"])


def _tls_index(index: IndexServer, cert: tuple[Path, Path]) -> str:
    """Switch a started IndexServer to TLS (its pages link files relatively)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*cert)
    httpd = index._httpd
    assert httpd is not None
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    return index.url.replace("http://", "https://")


def test_install_over_tls_with_cert_or_insecure_host(
        make_index: MakeIndex, wheelhouse: Wheelhouse, run_wherry: RunWherry, venv: Path,
        certs: dict[str, tuple[Path, Path]]) -> None:
    server = make_index([wheelhouse.wheel("alpha", "1.0"), wheelhouse.wheel("beta", "2.0")])
    index = _tls_index(server, certs["server"])
    no_ca = {"SSL_CERT_FILE": None, "SSL_CERT_DIR": None}
    failed = run_wherry("pip", "install", "alpha", "--python", venv, "--index-url", index,
                        env=no_ca)
    assert not failed.ok
    assert "--allow-insecure-host" in failed.stderr, failed
    result = run_wherry("pip", "install", "alpha", "--python", venv, "--index-url", index,
                        "--cert", certs["server"][0], env=no_ca)
    assert result.ok, result
    result = run_wherry("pip", "install", "beta", "--python", venv, "--index-url", index,
                        "--allow-insecure-host", f"127.0.0.1:{server.port}",
                        env=no_ca)
    assert result.ok, result


# -- proxies -------------------------------------------------------------------------------------

class ForwardProxy:
    """A forward proxy that logs what it forwards: absolute-form requests for http targets,
    CONNECT tunnels (bytes piped both ways) for https ones; itself over TLS when given a
    certificate (an `https://` proxy)."""

    def __init__(self, auth: tuple[str, str] | None = None, *,
                 tls: tuple[Path, Path] | None = None) -> None:
        self.log: list[tuple[str, dict[str, str]]] = []
        self.tunnels = 0  # CONNECT requests that were answered 200
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _logged_and_refused(self, logged: str) -> bool:
                """Log the request; answer 407 (and say so) when its credentials are
                not the proxy's."""
                headers = {k.lower(): v for k, v in self.headers.items()}
                proxy.log.append((logged, headers))
                if auth is None or headers.get("proxy-authorization") == basic(*auth):
                    return False
                self.send_response(407)
                self.send_header("Proxy-Authenticate", 'Basic realm="proxy"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return True

            def do_GET(self) -> None:
                if self._logged_and_refused(self.path):
                    return
                parts = urlsplit(self.path)
                upstream = http.client.HTTPConnection(parts.hostname or "", parts.port,
                                                      timeout=10)
                drop = {"proxy-authorization", "proxy-connection", "connection", "host"}
                upstream.request(self.command, parts.path + (f"?{parts.query}" if parts.query
                                                             else ""),
                                 headers={k: v for k, v in self.headers.items()
                                          if k.lower() not in drop})
                answer = upstream.getresponse()
                body = answer.read()
                upstream.close()
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() not in ("transfer-encoding", "connection",
                                           "content-length"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_CONNECT(self) -> None:
                if self._logged_and_refused(f"CONNECT {self.path}"):
                    return
                host, _, port = self.path.rpartition(":")
                upstream = socket.create_connection((host.strip("[]"), int(port)), timeout=10)
                self.send_response(200, "Connection established")
                self.end_headers()
                self.wfile.flush()
                proxy.tunnels += 1
                _pipe(self.connection, upstream)
                self.close_connection = True

        self.httpd = _Quiet(("127.0.0.1", 0), Handler)
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        scheme = "https" if tls is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _pipe(client: socket.socket, upstream: socket.socket) -> None:
    """Copy bytes both ways until either side hangs up (a CONNECT tunnel)."""
    sockets = [client, upstream]
    try:
        while True:
            readable, _, _ = select.select(sockets, [], [], 10)
            if not readable:
                return
            for sock in readable:
                data = sock.recv(65536)
                if not data:
                    return
                (upstream if sock is client else client).sendall(data)
    except OSError:
        return
    finally:
        upstream.close()


@pytest.fixture
def proxies() -> Iterator[Callable[..., ForwardProxy]]:
    started: list[ForwardProxy] = []

    def start(auth: tuple[str, str] | None = None, *,
              tls: tuple[Path, Path] | None = None) -> ForwardProxy:
        made = ForwardProxy(auth, tls=tls)
        started.append(made)
        return made

    yield start
    for made in started:
        made.close()


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.lower().endswith("_proxy"):
            monkeypatch.delenv(name)


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy", "ALL_PROXY"])
def test_requests_go_through_the_proxy(
        serve: Callable[..., Server], proxies: Callable[..., ForwardProxy],
        monkeypatch: pytest.MonkeyPatch, no_proxy_env: None, variable: str) -> None:
    server = serve(needs("alice", "pw"))
    proxy = proxies()
    monkeypatch.setenv(variable, proxy.url)
    with HttpClient(retries=0) as client:
        assert client.get(server.base.replace("//", "//alice:pw@") + "/x").status == 200
        assert client.get(server.base + "/y").status == 200
    assert [path for path, _ in proxy.log] == [server.base + "/x", server.base + "/y"]
    assert len(server.log) == 2


@pytest.mark.parametrize("no_proxy", ["127.0.0.1", "localhost,.example, 127.0.0.1", "*"])
def test_no_proxy_bypasses(
        serve: Callable[..., Server], proxies: Callable[..., ForwardProxy],
        monkeypatch: pytest.MonkeyPatch, no_proxy_env: None, no_proxy: str) -> None:
    server = serve(ok)
    proxy = proxies()
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", no_proxy)
    with HttpClient(retries=0) as client:
        assert client.get(server.base + "/x").status == 200
    assert proxy.log == []
    assert len(server.log) == 1


def test_proxy_credentials_go_to_the_proxy_only(
        serve: Callable[..., Server], proxies: Callable[..., ForwardProxy],
        monkeypatch: pytest.MonkeyPatch, no_proxy_env: None,
        capsys: pytest.CaptureFixture[str]) -> None:
    server = serve(ok)
    proxy = proxies(auth=("pxuser", "px-secret"))
    monkeypatch.setenv("HTTP_PROXY", proxy.url.replace("//", "//pxuser:px-secret@"))
    with HttpClient(retries=0) as client:
        assert client.get(server.base + "/x").status == 200
    assert proxy.log[0][1]["proxy-authorization"] == basic("pxuser", "px-secret")
    assert "proxy-authorization" not in server.log[0][1]
    assert "px-secret" not in capsys.readouterr().err


def test_install_through_a_proxy(
        make_index: MakeIndex, wheelhouse: Wheelhouse, run_wherry: RunWherry, venv: Path,
        proxies: Callable[..., ForwardProxy], no_proxy_env: None) -> None:
    server = make_index([wheelhouse.wheel("alpha", "1.0")])
    proxy = proxies()
    result = run_wherry("pip", "install", "alpha", "--python", venv, "--index-url", server.url,
                        env={"HTTP_PROXY": proxy.url})
    assert result.ok, result
    assert len(proxy.log) == len(server.requests) > 0


def _bundle(folder: Path, *certificates: tuple[Path, Path]) -> Path:
    """One CA file trusting each self-signed certificate given."""
    bundle = folder / "bundle.pem"
    bundle.write_bytes(b"".join(cert.read_bytes() for cert, _ in certificates))
    return bundle


def test_https_goes_through_a_connect_tunnel_with_proxy_credentials(
        serve: Callable[..., Server], proxies: Callable[..., ForwardProxy],
        certs: dict[str, tuple[Path, Path]], monkeypatch: pytest.MonkeyPatch,
        no_proxy_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    server = serve(needs("alice", "pw"), tls=certs["server"])
    proxy = proxies(auth=("pxuser", "px-secret"))
    monkeypatch.setenv("HTTPS_PROXY", proxy.url.replace("//", "//pxuser:px-secret@"))
    with HttpClient(retries=0, cert=str(certs["server"][0])) as client:
        url = server.base.replace("//", "//alice:pw@")
        assert client.get(url + "/x").body == b"secret page"
        assert client.get(url + "/y").body == b"secret page"
    # One tunnel carried both requests (kept alive); the proxy saw only CONNECT, with its
    # own credentials, and never the server's.
    assert [path for path, _ in proxy.log] == [f"CONNECT 127.0.0.1:{server.port}"]
    assert proxy.log[0][1]["proxy-authorization"] == basic("pxuser", "px-secret")
    assert "authorization" not in proxy.log[0][1]
    assert [path for path, _ in server.log] == ["/x", "/y"]
    assert "proxy-authorization" not in server.log[0][1]
    assert "px-secret" not in capsys.readouterr().err


def test_https_through_an_https_proxy(
        serve: Callable[..., Server], proxies: Callable[..., ForwardProxy],
        certs: dict[str, tuple[Path, Path]], monkeypatch: pytest.MonkeyPatch,
        no_proxy_env: None, tmp_path: Path) -> None:
    server = serve(ok, tls=certs["server"])
    proxy = proxies(tls=certs["stranger"])
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    bundle = _bundle(tmp_path, certs["server"], certs["stranger"])
    with HttpClient(retries=0, cert=str(bundle)) as client:
        assert client.get(server.base + "/x").body == b"over tls"
    assert proxy.tunnels == 1 and len(server.log) == 1
    # The proxy's certificate is checked too: trusting only the server's is a TLS error.
    with HttpClient(retries=0, cert=str(certs["server"][0])) as client, \
            pytest.raises(NetworkError) as caught:
        client.get(server.base + "/x")
    assert "TLS" in caught.value.message


def test_a_proxy_refusing_the_tunnel_is_a_clear_error(
        serve: Callable[..., Server], proxies: Callable[..., ForwardProxy],
        certs: dict[str, tuple[Path, Path]], monkeypatch: pytest.MonkeyPatch,
        no_proxy_env: None) -> None:
    server = serve(ok, tls=certs["server"])
    proxy = proxies(auth=("pxuser", "px-secret"))
    monkeypatch.setenv("HTTPS_PROXY", proxy.url.replace("//", "//pxuser:wrong@"))
    with HttpClient(retries=0, cert=str(certs["server"][0])) as client, \
            pytest.raises(NetworkError) as caught:
        client.get(server.base + "/x")
    assert "407" in caught.value.message and "proxy" in caught.value.message.lower()
    assert "wrong" not in caught.value.render()
    assert server.log == []


# -- concurrency setting ---------------------------------------------------------------------------

def test_concurrent_downloads_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert HttpClient().max_workers == 16
    monkeypatch.setenv("WHERRY_CONCURRENT_DOWNLOADS", "7")
    with HttpClient() as client:
        assert client.max_workers == 7
        assert client._get_wire().max_idle == 7
        assert client._get_executor().max_workers == 7
    monkeypatch.setenv("WHERRY_CONCURRENT_DOWNLOADS", "0")
    with pytest.raises(UsageError, match="WHERRY_CONCURRENT_DOWNLOADS"):
        HttpClient()
