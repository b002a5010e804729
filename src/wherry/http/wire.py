"""HTTP/1.1 on sockets: requests written and responses read by hand, connections kept
alive per route, proxies by absolute-form requests (http targets) or CONNECT tunnels
(https targets, through an http or an https proxy).

Why our own and not urllib3 + http.client: wherry sends GET and HEAD with a few headers
and reads bodies whole or streamed. For that, those layers cost ~30 ms of imports before
a run's first request (urllib3, http.client and the `email` parser it reads headers with)
and a millisecond or two of Python per request, and a warm install sends tens of requests
while it starts. The subset of the protocol used here is small enough to read at once:

* a response is framed by `Transfer-Encoding: chunked`, `Content-Length` or the end of
  the connection; informational (1xx) answers are skipped; HEAD, 204 and 304 have none;
* `Content-Encoding` gzip (in several members too) and deflate (zlib or raw) are decoded;
  anything else is passed on as sent (the client only ever asks for gzip);
* a connection goes back to its route's pool only when its response was read to the end,
  was HTTP/1.1 (or said keep-alive) and did not say `Connection: close`. A pooled
  connection the server closed meanwhile is noticed before use (it is readable while
  idle); when the close races the request instead, the request goes again once on a new
  connection (the client sends only GET and HEAD, which are idempotent).

Errors are `WireError`s whose text is written for the user; the client decides what is
retried. Names are looked up through `http/dns.py` (one lookup per host and run).
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import zlib
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Protocol, TypeVar, cast
from urllib.parse import quote

from wherry.http.dns import ascii_host, create_connection

if TYPE_CHECKING:
    import ssl

_T = TypeVar("_T")

MAX_LINE = 65536  # the longest status or header line accepted
MAX_HEADERS = 256
READ_SIZE = 256 * 1024
DRAIN_LIMIT = 64 * 1024  # an unwanted body this small is read to keep its connection
HASH_STEP = 256 * 1024  # bytes read between hasher updates (`Response.read`)
_UNSAFE_IN_TARGET = "!#$%&'()*+,/:;=?@[]~"  # kept as they are in a request target


class WireError(Exception):
    """No usable response; the text says what failed, for the user."""


class TLSError(WireError):
    """A TLS handshake failed: `error` is the ssl exception, `proxy` says whose."""

    def __init__(self, error: BaseException, *, proxy: bool) -> None:
        super().__init__(str(error))
        self.error = error
        self.proxy = proxy


class ProxyRefused(WireError):
    """The proxy answered the CONNECT request with `status` instead of 200."""

    def __init__(self, status: int, reason: str, authority: str) -> None:
        super().__init__(f"the proxy refused the tunnel to {authority}: HTTP {status} "
                         f"{reason}".rstrip())
        self.status = status


class _Closed(WireError):
    """The peer closed the connection before a status line: on a reused connection this
    is the keep-alive race, and the request may go again on a new one."""


class _Hasher(Protocol):
    """What `Response.read` needs of a `hashlib` object."""

    def update(self, data: bytes | memoryview, /) -> None: ...


class _Transport(Protocol):
    """What a connection needs of a socket; `socket.socket`, `ssl.SSLSocket` and
    `_TunnelTLS` have it."""

    def recv(self, size: int) -> bytes: ...

    def recv_into(self, buffer: memoryview, nbytes: int = 0) -> int: ...

    def sendall(self, data: bytes) -> None: ...

    def settimeout(self, value: float | None) -> None: ...

    def fileno(self) -> int: ...

    def close(self) -> None: ...


class Proxy:
    """A proxy: where it is, whether it speaks TLS, and its `Proxy-Authorization`."""

    __slots__ = ("authorization", "host", "port", "tls")

    def __init__(self, host: str, port: int, *, tls: ssl.SSLContext | None,
                 authorization: str | None) -> None:
        self.host = host
        self.port = port
        self.tls = tls
        self.authorization = authorization


class Route:
    """How requests to one origin travel: straight, or through `proxy`; with TLS when
    `tls` (the context checking the origin's certificate) is set."""

    __slots__ = ("host", "host_header", "port", "proxy", "scheme", "tls")

    def __init__(self, scheme: str, host: str, port: int, *, tls: ssl.SSLContext | None,
                 proxy: Proxy | None) -> None:
        self.scheme = scheme
        self.host = host
        self.port = port
        self.tls = tls
        self.proxy = proxy
        default = 443 if scheme == "https" else 80
        self.host_header = _authority(host, None if port == default else port)


def _authority(host: str, port: int | None) -> str:
    text = f"[{host}]" if ":" in host else host
    return text if port is None else f"{text}:{port}"


def request_target(route: Route, path: str, query: str) -> str:
    """The request line's target: `path?query` (characters a target may not hold
    percent-encoded, escapes kept), absolute when a plain-HTTP request goes to a proxy."""
    target = quote(path or "/", safe=_UNSAFE_IN_TARGET)
    if query:
        target = f"{target}?{quote(query, safe=_UNSAFE_IN_TARGET)}"
    if route.proxy is not None and route.tls is None:
        return f"http://{route.host_header}{target}"
    return target


class Connection:
    """One open connection on a route, with what was read past the last response."""

    __slots__ = ("buffer", "route", "sock")

    def __init__(self, sock: _Transport, route: Route) -> None:
        self.sock = sock
        self.route = route
        self.buffer = bytearray()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    # -- reading -----------------------------------------------------------------------------

    def _fill(self) -> bool:
        data = self.sock.recv(READ_SIZE)
        if not data:
            return False
        self.buffer += data
        return True

    def readline(self) -> bytes:
        """One line with its `\\n`; what is left at the end of the stream (maybe b"")."""
        buffer = self.buffer
        start = 0
        while True:
            end = buffer.find(b"\n", start)
            if end >= 0:
                line = bytes(buffer[:end + 1])
                del buffer[:end + 1]
                return line
            if len(buffer) > MAX_LINE:
                raise WireError("the server sent a header line longer than 64 KiB")
            start = len(buffer)
            if not self._fill():
                line = bytes(buffer)
                buffer.clear()
                return line

    def read_into(self, view: memoryview) -> int:
        """Fill `view` (fewer bytes only at the end of the stream); returns the count."""
        have = min(len(self.buffer), len(view))
        if have:
            view[:have] = self.buffer[:have]
            del self.buffer[:have]
        size = len(view)
        while have < size:
            got = self.sock.recv_into(view[have:], size - have)
            if not got:
                break
            have += got
        return have

    def read_some(self, size: int) -> bytes:
        """Up to `size` bytes: what is buffered, else one receive (b"" at the end)."""
        if self.buffer:
            data = bytes(self.buffer[:size])
            del self.buffer[:size]
            return data
        return self.sock.recv(min(size, READ_SIZE))

    def idle_and_open(self) -> bool:
        """True when nothing arrived since the last response: a server that closed the
        connection (or sent something unasked) makes it readable."""
        if self.buffer:
            return False
        pending = getattr(self.sock, "pending", None)
        if pending is not None and pending():
            return False
        import select

        try:
            if hasattr(select, "poll"):
                poller = select.poll()
                poller.register(self.sock.fileno(), select.POLLIN)
                return not poller.poll(0)
            readable, _, _ = select.select([self.sock.fileno()], [], [], 0)
            return not readable
        except (OSError, ValueError):
            return False


class Pool:
    """Open connections by route, and the requests sent over them. Thread-safe."""

    def __init__(self, *, max_idle: int, connect_timeout: float, read_timeout: float) -> None:
        self.max_idle = max(max_idle, 1)  # idle connections kept per route
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._idle: dict[Route, list[Connection]] = {}
        self._lock = threading.Lock()
        self._closed = False

    def close(self) -> None:
        """Close every idle connection; those in use are closed when released."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in connections:
                connection.close()

    def request(self, route: Route, method: str, target: str,
                headers: Mapping[str, str]) -> Response:
        """Send one request and read the answer's head; the body is read from the
        returned `Response`, which gives the connection back when it is done."""
        head = _request_head(method, target, route, headers)
        connection = self._checkout(route)
        reused = connection is not None
        while True:
            if connection is None:
                connection = self._connect(route)
            try:
                connection.sock.sendall(head)
                return _read_response(self, connection, method)
            except (_Closed, ConnectionResetError, BrokenPipeError,
                    ConnectionAbortedError) as exc:
                connection.close()
                if reused:  # the keep-alive race: once more on a new connection
                    connection, reused = None, False
                    continue
                if isinstance(exc, _Closed):
                    raise
                raise WireError(_os_text(exc)) from None
            except TimeoutError:
                connection.close()
                raise WireError(f"read timed out (timeout={self.read_timeout:g}s)") from None
            except WireError:
                connection.close()
                raise
            except OSError as exc:
                connection.close()
                raise WireError(_os_text(exc)) from None
            except BaseException:
                connection.close()
                raise

    def _checkout(self, route: Route) -> Connection | None:
        while True:
            with self._lock:
                idle = self._idle.get(route)
                if not idle:
                    return None
                connection = idle.pop()
            if connection.idle_and_open():
                return connection
            connection.close()

    def release(self, connection: Connection) -> None:
        """Keep `connection` for its route's next request (its response was read whole)."""
        with self._lock:
            if not self._closed:
                idle = self._idle.setdefault(connection.route, [])
                if len(idle) < self.max_idle:
                    idle.append(connection)
                    return
        connection.close()

    def _connect(self, route: Route) -> Connection:
        proxy = route.proxy
        host, port = (proxy.host, proxy.port) if proxy is not None else (route.host, route.port)
        where = _authority(host, port)
        try:
            raw = create_connection((host, port), self.connect_timeout)
        except socket.gaierror as exc:
            raise WireError(f"failed to resolve '{host}' ({exc.strerror or exc})") from None
        except TimeoutError:
            raise WireError(f"connecting to {where} timed out "
                            f"(connect timeout={self.connect_timeout:g}s)") from None
        except OSError as exc:
            raise WireError(f"failed to connect to {where}: {_os_text(exc)}") from None
        sys.audit("http.client.connect", raw, host, port)
        sock: _Transport = raw
        try:
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if proxy is not None and proxy.tls is not None:
                sock = _handshake(lambda: proxy.tls.wrap_socket(  # type: ignore[union-attr]
                    raw, server_hostname=ascii_host(proxy.host)), proxy=True)
            if proxy is not None and route.tls is not None:
                _tunnel(sock, route, proxy)
            if route.tls is not None:
                context = route.tls
                if proxy is not None and proxy.tls is not None:
                    outer = sock
                    sock = _handshake(lambda: _TunnelTLS(outer, context, route.host),
                                      proxy=False)
                else:
                    sock = _handshake(lambda: context.wrap_socket(
                        raw, server_hostname=ascii_host(route.host)), proxy=False)
            sock.settimeout(self.read_timeout)
        except TimeoutError:
            sock.close()
            raise WireError(f"setting up the connection to {where} timed out "
                            f"(connect timeout={self.connect_timeout:g}s)") from None
        except WireError:
            sock.close()
            raise
        except OSError as exc:
            sock.close()
            raise WireError(f"connection to {where} failed: {_os_text(exc)}") from None
        except BaseException:
            sock.close()
            raise
        return Connection(sock, route)


def _handshake(make: Callable[[], _Transport], *, proxy: bool) -> _Transport:
    import ssl

    try:
        return make()
    except ssl.SSLError as exc:  # certificate errors included
        raise TLSError(exc, proxy=proxy) from None


def _tunnel(sock: _Transport, route: Route, proxy: Proxy) -> None:
    """Ask the proxy for a tunnel to the route's origin (CONNECT) and check its answer."""
    authority = _authority(route.host, route.port)
    lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}"]
    if proxy.authorization:
        lines.append(f"Proxy-Authorization: {proxy.authorization}")
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    connection = Connection(sock, route)
    status, reason, _headers, _keep = _read_head(connection)
    if not 200 <= status < 300:
        raise ProxyRefused(status, reason, authority)
    if connection.buffer:
        raise WireError(f"the proxy sent data before the tunnel to {authority} was used")


def _request_head(method: str, target: str, route: Route, headers: Mapping[str, str]
                  ) -> bytes:
    lines = [f"{method} {target} HTTP/1.1"]
    if not any(name.lower() == "host" for name in headers):
        lines.append(f"Host: {route.host_header}")
    for name, value in headers.items():
        if "\n" in value or "\r" in value or "\n" in name or "\r" in name or ":" in name:
            raise WireError(f"the request header {name!r} holds a line break or a colon")
        lines.append(f"{name}: {value}")
    proxy = route.proxy
    if proxy is not None and route.tls is None and proxy.authorization:
        lines.append(f"Proxy-Authorization: {proxy.authorization}")
    try:
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    except UnicodeEncodeError:
        raise WireError("a request header holds characters HTTP cannot carry") from None


def _read_head(connection: Connection) -> tuple[int, str, dict[str, str], bool]:
    """The status, reason, headers (lower-case names; repeated ones joined with ", ") and
    whether the connection may be kept, of the next final (non-1xx) answer."""
    while True:
        line = connection.readline()
        if not line:
            raise _Closed("the server closed the connection without an answer")
        version, _, rest = line.decode("latin-1").rstrip("\r\n").partition(" ")
        code, _, reason = rest.partition(" ")
        if not version.startswith("HTTP/1.") or len(code) != 3 or not code.isdigit():
            raise WireError(f"the server sent something that is not an HTTP response: "
                            f"{line[:60]!r}")
        status = int(code)
        headers: dict[str, str] = {}
        last = ""
        count = 0
        while True:
            line = connection.readline()
            if line in (b"\r\n", b"\n"):
                break
            if not line.endswith(b"\n"):
                raise WireError("the server closed the connection in the middle of the "
                                "response headers")
            text = line.decode("latin-1").rstrip("\r\n")
            if text[:1] in (" ", "\t") and last:  # obsolete line folding
                headers[last] = f"{headers[last]} {text.strip()}".strip()
                continue
            name, colon, value = text.partition(":")
            if not colon or not name or name != name.strip():
                raise WireError(f"the server sent a malformed header line: {line[:60]!r}")
            count += 1
            if count > MAX_HEADERS:
                raise WireError(f"the server sent more than {MAX_HEADERS} header lines")
            last = name.lower()
            value = value.strip()
            headers[last] = f"{headers[last]}, {value}" if last in headers else value
        if 100 <= status < 200 and status != 101:
            continue  # informational: the real answer follows
        tokens = {token.strip().lower() for token in headers.get("connection", "").split(",")}
        keep = "close" not in tokens and (version != "HTTP/1.0" or "keep-alive" in tokens)
        return status, reason.strip(), headers, keep


def _read_response(pool: Pool, connection: Connection, method: str) -> Response:
    status, reason, headers, keep = _read_head(connection)
    length: int | None = None
    chunked = False
    if method == "HEAD" or status in (204, 304):
        length = 0
    elif "chunked" in headers.get("transfer-encoding", "").lower():
        chunked = True
    elif "content-length" in headers:
        values = {value.strip() for value in headers["content-length"].split(",")}
        text = values.pop() if len(values) == 1 else ""
        if not text.isdigit():
            raise WireError(f"the server sent an invalid Content-Length: "
                            f"{headers['content-length']!r}")
        length = int(text)
    else:
        keep = False  # the body ends when the connection does
    return Response(pool, connection, status, reason, headers, length=length,
                    chunked=chunked, keep=keep)


class Response:
    """A response whose head was read; its body is read once, whole (`read`) or in
    chunks (`stream`), or given up (`discard`, `close`). The connection goes back to the
    pool when the body was read to its end and may be kept, else it is closed."""

    __slots__ = (
        "_chunked",
        "_connection",
        "_keep",
        "_left",
        "_pool",
        "headers",
        "reason",
        "status",
    )

    def __init__(self, pool: Pool, connection: Connection, status: int, reason: str,
                 headers: dict[str, str], *, length: int | None, chunked: bool,
                 keep: bool) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self._pool = pool
        self._connection: Connection | None = connection
        self._left = length  # bytes of body (or of the current chunk) still to read
        self._chunked = chunked
        self._keep = keep
        if length == 0 and not chunked:
            self._finish()

    def _finish(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            if self._keep:
                self._pool.release(connection)
            else:
                connection.close()

    def close(self) -> None:
        """Give the body up and drop the connection (for a body not worth reading)."""
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def discard(self) -> None:
        """Give the body up: a short one is read, so the connection can be kept."""
        if self._connection is None:
            return
        if self._chunked or self._left is None or self._left > DRAIN_LIMIT:
            self.close()
            return
        try:
            for _ in self._raw(DRAIN_LIMIT):
                pass
        except WireError:
            pass

    def read(self, *, decode: bool = True, hasher: _Hasher | None = None) -> bytes:
        """The whole body, decoded unless `decode` is false. `hasher` is updated with
        the body returned: piece by piece as it arrives when it needs no decoding (the
        hashing then overlaps the wait for the next bytes), else once at the end."""
        connection = self._connection
        left = self._left
        coding = self.headers.get("content-encoding", "").strip().lower()
        identity = not decode or coding in ("", "identity")
        if connection is not None and not self._chunked and left is not None and left > 0:
            # A known length: one buffer, filled in place.
            buffer = bytearray(left)
            view = memoryview(buffer)
            step = HASH_STEP if hasher is not None and identity else left
            got = 0
            try:
                while got < left:
                    end = min(left, got + step)
                    count = connection.read_into(view[got:end])
                    if hasher is not None and identity:
                        hasher.update(view[got:got + count])
                    got += count
                    if got < end:
                        break
            except BaseException as exc:
                self.close()
                raise _body_error(exc) from None
            if got < left:
                self.close()
                raise WireError(f"the connection closed after {got} of {left} bytes")
            self._left = 0
            self._finish()
            body = bytes(buffer)
            if decode:
                body = self._decoder().decode_all(body)
            if hasher is not None and not identity:
                hasher.update(body)
            return body
        data = b"".join(self._raw(READ_SIZE))
        if decode:
            data = self._decoder().decode_all(data)
        if hasher is not None:
            hasher.update(data)
        return data

    def stream(self, size: int, *, decode: bool = True) -> Iterator[bytes]:
        """The body in pieces of about `size` bytes, decoded unless `decode` is false."""
        decoder = self._decoder() if decode else None
        for piece in self._raw(size):
            if decoder is None:
                yield piece
            else:
                out = decoder.feed(piece)
                if out:
                    yield out
        if decoder is not None:
            tail = decoder.end()
            if tail:
                yield tail

    def _decoder(self) -> _Decoder:
        coding = self.headers.get("content-encoding", "").strip().lower()
        if coding in ("gzip", "x-gzip"):
            return _Decoder(zlib.MAX_WBITS | 16)
        if coding == "deflate":
            return _Decoder(zlib.MAX_WBITS, fallback=-zlib.MAX_WBITS)
        return _Decoder(None)

    def _raw(self, size: int) -> Iterator[bytes]:
        """The body as sent, in pieces of up to `size` bytes."""
        if self._connection is None:
            return
        try:
            if self._chunked:
                yield from self._chunks(size)
            elif self._left is None:
                yield from self._until_close(size)
            else:
                yield from self._sized(size)
        except GeneratorExit:
            self.close()
            raise
        except BaseException as exc:
            self.close()
            raise _body_error(exc) from None
        self._finish()

    def _sized(self, size: int) -> Iterator[bytes]:
        connection = self._connection
        assert connection is not None and self._left is not None
        total = self._left
        while self._left > 0:
            buffer = bytearray(min(size, self._left))
            got = connection.read_into(memoryview(buffer))
            self._left -= got
            if got < len(buffer):
                raise WireError(f"the connection closed after {total - self._left} of "
                                f"{total} bytes")
            yield bytes(buffer)

    def _until_close(self, size: int) -> Iterator[bytes]:
        connection = self._connection
        assert connection is not None
        while True:
            data = connection.read_some(size)
            if not data:
                return
            yield data

    def _chunks(self, size: int) -> Iterator[bytes]:
        connection = self._connection
        assert connection is not None
        while True:
            line = connection.readline()
            if not line.endswith(b"\n"):
                raise WireError("the connection closed in the middle of a chunked body")
            text = line.split(b";", 1)[0].strip()
            try:
                left = int(text, 16)
            except ValueError:
                raise WireError(f"the server sent a malformed chunk size: {line[:40]!r}"
                                ) from None
            if left == 0:
                break
            while left > 0:
                data = connection.read_some(min(size, left))
                if not data:
                    raise WireError("the connection closed in the middle of a chunk")
                left -= len(data)
                yield data
            if connection.readline() not in (b"\r\n", b"\n"):
                raise WireError("the server sent a chunk longer than it announced")
        while True:  # trailer fields, up to the empty line
            line = connection.readline()
            if line in (b"\r\n", b"\n"):
                return
            if not line.endswith(b"\n"):
                raise WireError("the connection closed in the middle of the trailer")


def _body_error(exc: BaseException) -> BaseException:
    if isinstance(exc, WireError):
        return exc
    if isinstance(exc, TimeoutError):
        return WireError("read timed out")
    if isinstance(exc, OSError):
        return WireError(_os_text(exc))
    return exc


class _Decoder:
    """Undoes a Content-Encoding: zlib with `wbits` (gzip members one after another), a
    second `fallback` tried when the first bytes are not what `wbits` expects (servers
    send raw deflate as "deflate"); None passes bytes through."""

    def __init__(self, wbits: int | None, *, fallback: int | None = None) -> None:
        self.wbits = wbits
        self.fallback = fallback
        self.started = False  # bytes were decoded: no more switching to `fallback`
        self.seen = False  # any bytes arrived at all (an empty body needs no decoding)
        self.engine = zlib.decompressobj(wbits) if wbits is not None else None

    def decode_all(self, data: bytes) -> bytes:
        if self.engine is None:
            return data
        return self.feed(data) + self.end()

    def feed(self, data: bytes) -> bytes:
        if self.engine is None or not data:
            return data
        self.seen = True
        try:
            out = self.engine.decompress(data)
        except zlib.error as exc:
            if self.started or self.fallback is None:
                raise WireError(f"the body is not valid {self._name()} ({exc})") from None
            self.engine = zlib.decompressobj(self.fallback)
            self.fallback = None
            return self.feed(data)
        self.started = True
        parts = [out]
        while self.engine.eof and self.engine.unused_data and self.wbits == zlib.MAX_WBITS | 16:
            rest = self.engine.unused_data  # the next gzip member
            self.engine = zlib.decompressobj(self.wbits)
            parts.append(self.engine.decompress(rest))
        return b"".join(parts)

    def end(self) -> bytes:
        if self.engine is None or not self.seen:
            return b""
        tail = self.engine.flush()
        if not self.engine.eof:
            raise WireError(f"the {self._name()} body ended early")
        return tail

    def _name(self) -> str:
        return "gzip" if self.wbits == zlib.MAX_WBITS | 16 else "deflate"


class _TunnelTLS:
    """TLS to the origin inside TLS to an https proxy (both ends of a CONNECT tunnel
    encrypted), on memory buffers: `ssl` cannot wrap an `SSLSocket` in another."""

    def __init__(self, outer: _Transport, context: ssl.SSLContext, hostname: str) -> None:
        import ssl

        self.outer = outer
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self.tls = context.wrap_bio(self.incoming, self.outgoing,
                                    server_hostname=ascii_host(hostname))
        self._io(self.tls.do_handshake)  # raises ssl.SSLError, like wrap_socket

    def _io(self, operation: Callable[[], _T]) -> _T:
        """Run a TLS operation, moving bytes between the memory buffers and the proxy's
        connection until it completes."""
        import ssl

        while True:
            try:
                result = operation()
            except ssl.SSLWantReadError:
                self._flush()
                data = self.outer.recv(READ_SIZE)
                if data:
                    self.incoming.write(data)
                else:
                    self.incoming.write_eof()
                continue
            self._flush()
            return result

    def _flush(self) -> None:
        data = self.outgoing.read()
        if data:
            self.outer.sendall(data)

    def recv(self, size: int) -> bytes:
        import ssl

        try:
            return self._io(lambda: self.tls.read(size))
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
            return b""

    def recv_into(self, buffer: memoryview, nbytes: int = 0) -> int:
        import ssl

        try:
            # With a buffer, `read` returns the count (typeshed says bytes).
            return self._io(lambda: cast(int, self.tls.read(nbytes or len(buffer), buffer)))
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
            return 0

    def sendall(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            sent = self._write(view)
            view = view[sent:]

    def _write(self, chunk: memoryview) -> int:
        return self._io(lambda: self.tls.write(chunk))

    def pending(self) -> int:
        return self.tls.pending()

    def settimeout(self, value: float | None) -> None:
        self.outer.settimeout(value)

    def fileno(self) -> int:
        return self.outer.fileno()

    def close(self) -> None:
        self.outer.close()


def _os_text(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__

