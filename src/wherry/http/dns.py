"""Name resolution for the HTTP client: one lookup per host and process, shared by every
connection (single-flight), and connection classes for urllib3 that use it.

Why: wherry opens tens of connections to the same host at once. Left to urllib3, each one
calls `getaddrinfo` itself, so a resolution burst sends tens of identical DNS queries in the
same instant. Common resolver setups (a conntrack race in container networks, a rate limit
on the DNS server) drop some of those queries, and glibc waits its full timeout (5 s) before
asking again: measured here, 32 parallel lookups of an index host took 5.0 s where 16 took
4 ms, and a warm install went from 0.33 s to 5.3 s. One lookup per host removes the burst.

Answers live for the process (a wherry command, seconds to minutes); failures are not
kept, so a retry asks again. IP literals never reach the cache (no query is made for them).
"""

from __future__ import annotations

import socket
import sys
import threading
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import urllib3

AddrInfo = tuple[Any, ...]  # (family, type, proto, canonname, sockaddr), as getaddrinfo


class Resolver:
    """`getaddrinfo` answers by (host, port, family), each looked up once however many
    threads ask for it at the same time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._answers: dict[tuple[str, int, int], Future[list[AddrInfo]]] = {}
        self.lookups = 0  # queries made (tests count them)

    def lookup(self, host: str, port: int, family: int = socket.AF_UNSPEC) -> list[AddrInfo]:
        key = (host, port, family)
        with self._lock:
            answer = self._answers.get(key)
            owner = answer is None
            if answer is None:
                answer = self._answers[key] = Future()
        if owner:
            try:
                self.lookups += 1
                infos = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)
            except BaseException as exc:
                with self._lock:  # not cached: the next attempt asks again
                    self._answers.pop(key, None)
                answer.set_exception(exc)
                raise
            answer.set_result(list(infos))
        return answer.result()


RESOLVER = Resolver()


def _is_ip_literal(host: str) -> bool:
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, host)
        except (OSError, ValueError):
            continue
        return True
    return False


def create_connection(
    address: tuple[str, int],
    timeout: object,
    *,
    source_address: tuple[str, int] | None = None,
    socket_options: Any = None,
    family: int = socket.AF_UNSPEC,
    resolver: Resolver = RESOLVER,
) -> socket.socket:
    """Connect to the first address of `host` that accepts, as `socket.create_connection`
    does, with the answer taken from `resolver`. `timeout` is seconds, None (blocking) or
    urllib3's "default" sentinel (the socket's default is kept)."""
    host, port = address
    host = host.strip("[]")
    if _is_ip_literal(host):
        infos = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)
    else:
        infos = resolver.lookup(host, port, family)
    error: OSError | None = None
    for af, socktype, proto, _canonname, sockaddr in infos:
        sock = None
        try:
            sock = socket.socket(af, socktype, proto)
            for option in socket_options or ():
                sock.setsockopt(*option)
            if timeout is None or isinstance(timeout, (int, float)):
                sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            error = exc
            if sock is not None:
                sock.close()
    if error is not None:
        raise error
    raise OSError(f"getaddrinfo returned no address for {host}")


def pool_classes() -> dict[str, type[urllib3.HTTPConnectionPool]]:
    """urllib3 pool classes (for `PoolManager.pool_classes_by_scheme`) whose connections
    resolve names through `RESOLVER`."""
    global _POOL_CLASSES
    if _POOL_CLASSES is None:
        _POOL_CLASSES = _make_pool_classes()
    return _POOL_CLASSES


_POOL_CLASSES: dict[str, type[urllib3.HTTPConnectionPool]] | None = None


def _make_pool_classes() -> dict[str, type[urllib3.HTTPConnectionPool]]:
    import urllib3
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
    from urllib3.util.connection import allowed_gai_family

    def new_conn(conn: HTTPConnection) -> socket.socket:
        # urllib3's `HTTPConnection._new_conn` with the lookup shared: the same
        # exceptions for the same failures, so error reporting does not change.
        try:
            sock = create_connection(
                (conn._dns_host, conn.port), conn.timeout,
                source_address=conn.source_address, socket_options=conn.socket_options,
                family=allowed_gai_family(),
            )
        except socket.gaierror as exc:
            raise NameResolutionError(conn.host, conn, exc) from exc
        except TimeoutError as exc:
            raise ConnectTimeoutError(
                conn, f"Connection to {conn.host} timed out. (connect timeout={conn.timeout})"
            ) from exc
        except OSError as exc:
            raise NewConnectionError(
                conn, f"Failed to establish a new connection: {exc}"
            ) from exc
        sys.audit("http.client.connect", conn, conn.host, conn.port)
        return sock

    # urllib3's error texts start with the connection's repr, which `client._cause` trims.
    class SharedLookupHTTPConnection(HTTPConnection):
        def _new_conn(self) -> socket.socket:
            return new_conn(self)

    class SharedLookupHTTPSConnection(HTTPSConnection):
        def _new_conn(self) -> socket.socket:
            return new_conn(self)

    class Pool(urllib3.HTTPConnectionPool):
        ConnectionCls = SharedLookupHTTPConnection

    class TLSPool(urllib3.HTTPSConnectionPool):
        ConnectionCls = SharedLookupHTTPSConnection

    return {"http": Pool, "https": TLSPool}
