"""Name resolution (http/dns.py): one lookup per host however many connections open at
once, failures not kept, IP literals never looked up, errors unchanged for the user."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.test_http_client import Stub
from wherry.errors import NetworkError
from wherry.http import dns
from wherry.http.client import HttpClient


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every host name `socket.getaddrinfo` is asked about, in order."""
    asked: list[str] = []
    lock = threading.Lock()
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        with lock:
            asked.append(host.decode() if isinstance(host, bytes) else str(host))
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield asked


def test_parallel_connections_look_the_host_up_once(counted: list[str]) -> None:
    paths = [f"/page{i}" for i in range(12)]
    stub = Stub({path: [(200, {}, path.encode())] for path in paths}, delay=0.3)
    try:
        port = stub.httpd.server_address[1]
        with HttpClient(max_workers=12) as client:
            bodies = client.map(
                lambda path: client.get(f"http://localhost:{port}{path}").body, paths)
        assert bodies == [path.encode() for path in paths]
        # Twelve requests in flight at once needed twelve connections, and one lookup.
        assert len(stub.log) == 12
        assert counted.count("localhost") == 1
    finally:
        stub.close()


def test_waiters_share_the_first_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()
    calls: list[str] = []

    def slow(host: str | bytes, port: int, family: int, kind: int) -> list[tuple[Any, ...]]:
        calls.append(host.decode() if isinstance(host, bytes) else host)
        release.wait(5)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    monkeypatch.setattr(socket, "getaddrinfo", slow)
    resolver = dns.Resolver()
    answers: list[list[tuple[Any, ...]]] = []
    threads = [threading.Thread(target=lambda: answers.append(resolver.lookup("h", 80)))
               for _ in range(8)]
    for thread in threads:
        thread.start()
    release.set()
    for thread in threads:
        thread.join(5)
    assert calls == ["h"]
    assert resolver.lookups == 1
    assert len(answers) == 8
    assert all(answer[0][4] == ("127.0.0.1", 80) for answer in answers)


def test_ascii_names_are_looked_up_without_the_idna_codec() -> None:
    # An ASCII name goes to getaddrinfo (and TLS) as bytes: the stdlib would otherwise
    # import encodings.idna (5 ms) to encode it unchanged. Other names keep the stdlib's
    # IDNA encoding.
    assert dns.ascii_host("Files.Example-1.org") == b"Files.Example-1.org"
    assert dns.ascii_host("bücher.example") == "bücher.example"
    code = ("import sys\nfrom wherry.http import dns\n"
            "try:\n    dns.create_connection(('localhost', 9), 1)\n"
            "except OSError:\n    pass\n"
            "print('encodings.idna' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True).stdout
    assert out.strip() == "False"


def test_a_failed_lookup_is_asked_again(monkeypatch: pytest.MonkeyPatch) -> None:
    outcomes: list[BaseException | None] = [socket.gaierror(-3, "try again"), None]

    def flaky(host: str, port: int, family: int, kind: int) -> list[tuple[Any, ...]]:
        outcome = outcomes.pop(0)
        if outcome is not None:
            raise outcome
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    monkeypatch.setattr(socket, "getaddrinfo", flaky)
    resolver = dns.Resolver()
    with pytest.raises(socket.gaierror):
        resolver.lookup("flaky.example", 443)
    assert resolver.lookup("flaky.example", 443)[0][4] == ("127.0.0.1", 443)
    assert resolver.lookup("flaky.example", 443)[0][4] == ("127.0.0.1", 443)
    assert resolver.lookups == 2


def test_ip_literals_are_not_looked_up() -> None:
    stub = Stub({"/": [(200, {}, b"ok")]})
    try:
        resolver = dns.Resolver()
        sock = dns.create_connection(("127.0.0.1", stub.httpd.server_address[1]), 5.0,
                                     resolver=resolver)
        sock.close()
        assert resolver.lookups == 0
    finally:
        stub.close()


def test_an_unknown_host_is_a_network_error(monkeypatch: pytest.MonkeyPatch) -> None:
    real = socket.getaddrinfo

    def unknown(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "index.invalid":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", unknown)
    with HttpClient(retries=0) as client, pytest.raises(NetworkError) as caught:
        client.get("http://index.invalid/simple/")
    assert "index.invalid" in caught.value.message
    assert caught.value.hint
