"""One pooled HTTP client for the whole run, used from a thread pool.

Why it looks like this (reference/stack.md sections 0 and 3):

* HTTP/1.1 of our own (`wherry.http.wire`: kept-alive connections per origin, CONNECT
  tunnels for proxies) used from a thread pool (`wherry.workers`, whose `submit` never
  waits for a thread to start). It replaced urllib3, whose imports
  (with http.client's) cost ~30 ms before a run's first request. It is imported on first
  use only, so `import wherry.http.client` costs neither sockets nor `ssl` (the no-op
  install path).
* One `ssl.SSLContext`, built lazily on the first HTTPS request from `--cert`, else
  `SSL_CERT_FILE`/`SSL_CERT_DIR`, else the system store (never certifi alone: the egress
  proxy's CA is only in the system bundle; never truststore on Linux: 50 ms per handshake).
* Redirects are followed here, not by the wire layer, so the final URL is known (relative links
  on a simple page resolve against it) and credentials are never sent to another origin.
* Retries with exponential backoff and jitter on connection errors, timeouts, 408/429/5xx
  and truncated bodies, like uv (`WHERRY_HTTP_RETRIES`, `WHERRY_HTTP_TIMEOUT`).
* `file://` URLs go through the same calls, so file indexes and find-links need no
  special cases above this layer (a missing file answers like a 404).

Credentials (URL, netrc, keyring, per realm) come from `wherry.http.auth` via `_send`;
`_route` decides, once per origin, the proxy (from `*_PROXY`/`NO_PROXY`) and the TLS
context (verified, or not for an `--allow-insecure-host`); `wherry.http.cache_policy`
wraps `get` with RFC 9111 decisions (hishel's sans-IO core).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, Protocol, TypeVar
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

from wherry import __version__
from wherry.errors import HashMismatch, IndexError_, NetworkError, UsageError
from wherry.futures import FIRST_EXCEPTION, Future, wait
from wherry.http.auth import Authenticator, split_userinfo
from wherry.http.tls import insecure_context, verifying_context
from wherry.http.urls import redact_url
from wherry.output import log, trace
from wherry.workers import Workers

if TYPE_CHECKING:
    import ssl

    from wherry.http import wire

T = TypeVar("T")
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)

USER_AGENT = f"wherry/{__version__}"
RETRY_STATUSES = frozenset({408, 429}) | frozenset(range(500, 600))
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
AUTH_RETRY_STATUSES = frozenset({401, 403, 404})
MAX_REDIRECTS = 10
CONNECT_TIMEOUT = 10.0
CHUNK = 256 * 1024
_REASONS = {
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 408: "Request Timeout", 410: "Gone",
    416: "Range Not Satisfiable", 429: "Too Many Requests", 500: "Internal Server Error",
    502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout",
}

_worker = threading.local()


class Response:
    """A finished response: the final URL after redirects, status, lower-cased headers, body.

    A plain class (neither a dataclass, which compiles its methods at import, nor a
    `msgspec.Struct`: this module is imported on paths that never load msgspec)."""

    __slots__ = ("body", "digest", "headers", "status", "url")

    def __init__(self, url: str, status: int, headers: dict[str, str], body: bytes,
                 digest: str | None = None) -> None:
        self.url = url
        self.status = status
        self.headers = headers
        self.body = body
        # The body's sha256 (hex), when it was computed while the body arrived (`get(...,
        # digest=True)`); `sha256()` computes it otherwise.
        self.digest = digest

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Response) and (
            (self.url, self.status, self.headers, self.body)
            == (other.url, other.status, other.headers, other.body))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (f"Response(url={self.url!r}, status={self.status}, headers={self.headers!r}, "
                f"body=<{len(self.body)} bytes>)")

    def sha256(self) -> str:
        """The body's sha256, hex."""
        if self.digest is None:
            import hashlib

            self.digest = hashlib.sha256(self.body).hexdigest()
        return self.digest

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower-cased (`text/html`)."""
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()


class HttpStatusError(IndexError_):
    """An HTTP status the caller did not allow; keeps the status and the redacted URL."""

    def __init__(self, url: str, status: int, *, hint: str | None = None) -> None:
        reason = _REASONS.get(status, "")
        text = f"HTTP {status} {reason}".rstrip()
        super().__init__(f"request for {redact(url)} failed: {text}",
                         hint=hint or status_hint(status))
        self.url = url
        self.status = status


def status_hint(status: int) -> str:
    """A sentence telling the user what a failing status usually means."""
    if status in (401, 403):
        return ("the server refused the request: credentials are missing or wrong "
                "(put them in the index URL as user:password@, in ~/.netrc, or in the "
                "keyring with --keyring-provider subprocess)")
    if status == 407:
        return ("the proxy refused the request: put its credentials in the proxy URL "
                "(HTTP_PROXY/HTTPS_PROXY=http://user:password@host:port)")
    if status in (404, 410):
        return "check the URL (and the index URL it was built from)"
    if status == 429:
        return "the server is rate-limiting requests; try again later"
    if status >= 500 or status == 408:
        return "the server failed even after retries; try again later"
    return "the server answered with an unexpected status"


def redact(url: str) -> str:
    """`https://user:secret@host/x` → `https://user:****@host/x`; a lone token → `****@`."""
    return redact_url(url)


def _default_port(scheme: str) -> int | None:
    return {"http": 80, "https": 443}.get(scheme)


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or _default_port(scheme)


def _userinfo(url: str) -> str:
    netloc = urlsplit(url).netloc
    return netloc.rpartition("@")[0] if "@" in netloc else ""


def _with_userinfo(url: str, userinfo: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, f"{userinfo}@{parts.netloc}", parts.path, parts.query,
                       parts.fragment))


def file_url_to_path(url: str) -> Path:
    """The local path of a `file://` URL (`file:///tmp/x` and `file://localhost/tmp/x`)."""
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise IndexError_(f"Cannot read {url}: file URLs with a host are not supported",
                          hint="use file:///absolute/path")
    path = unquote(parts.path)
    if os.name == "nt" and len(path) >= 3 and path[0] == "/" and path[2] == ":":
        path = path[1:]
    return Path(path)


def _env_number(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise UsageError(f"{name}={raw!r} is not a number") from None
    if value < 0:
        raise UsageError(f"{name}={raw!r} must not be negative")
    return value


def _hashers(hashes: Mapping[str, str]) -> dict[str, Any]:
    """One hashlib object per algorithm: sha256 always, plus each known one in `hashes`."""
    found: dict[str, Any] = {"sha256": hashlib.sha256()}
    for name in hashes:
        algo = name.lower()
        if algo not in found and algo in hashlib.algorithms_available:
            found[algo] = hashlib.new(algo)
    return found


def check_hashes(filename: str, expected: Mapping[str, str], actual: Mapping[str, str]) -> None:
    """Raise `HashMismatch` when a digest in `expected` differs from the computed one."""
    for name, want in expected.items():
        got = actual.get(name.lower())
        if got is not None and got != want.lower():
            raise HashMismatch(
                f"hash mismatch for {filename}:\n    expected {name}:{want.lower()}\n"
                f"    actual   {name}:{got}",
                hint="the file changed on the server or was damaged in transit; if the "
                     "expected hash comes from a requirements file, check that it is current",
            )


class _Retry(Exception):
    """Internal: this attempt failed in a way worth retrying."""

    def __init__(self, url: str, reason: str, *, status: int | None = None,
                 after: float | None = None) -> None:
        super().__init__(reason)
        self.url = url
        self.reason = reason
        self.status = status
        self.after = after


class HttpClient:
    """The run's HTTP client: kept-alive connections, TLS contexts, retries and a thread pool.

    Thread-safe; create one per run and `close()` it (or use it as a context manager).
    """

    backoff = 0.5  # seconds before the first retry; doubled each time, with jitter
    backoff_cap = 10.0

    def __init__(self, *, timeout: float = 30.0, retries: int = 3,
                 max_workers: int | None = None, cert: str | None = None,
                 allow_insecure_hosts: Iterable[str] = (), keyring_provider: str = "disabled",
                 index_urls: Iterable[str] = (), offline: bool = False) -> None:
        self.offline = offline  # --offline: `_open` refuses every network request
        self.timeout = _env_number("WHERRY_HTTP_TIMEOUT", timeout)
        self.retries = int(_env_number("WHERRY_HTTP_RETRIES", retries))
        # WHERRY_CONCURRENT_DOWNLOADS: connections per host and threads (default 16).
        self.max_workers = (concurrent_downloads() if max_workers is None
                            else max(int(max_workers), 1))
        self.cert = cert
        self.insecure_hosts = parse_insecure_hosts(allow_insecure_hosts)
        self.auth = Authenticator(keyring_provider=keyring_provider, index_urls=index_urls)
        self._wire: wire.Pool | None = None
        self._routes: dict[tuple[str, str, int], wire.Route] = {}
        self._proxies: dict[str, str] | None = None
        self._lock = threading.Lock()
        self._executor: Workers | None = None
        self._no_ranges: set[tuple[str, str, int | None]] = set()

    # -- lifecycle ---------------------------------------------------------------------

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the thread pool (queued work is cancelled) and close pooled connections."""
        with self._lock:
            executor, self._executor = self._executor, None
            pool, self._wire = self._wire, None
            self._routes = {}
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
        if pool is not None:
            pool.close()

    def _get_wire(self) -> wire.Pool:
        """The run's connections (made on the first network request)."""
        pool = self._wire
        if pool is None:
            from wherry.http import wire

            with self._lock:
                pool = self._wire
                if pool is None:
                    # One kept-alive connection per worker and origin, so parallel
                    # requests to one index reuse connections instead of opening new ones.
                    pool = self._wire = wire.Pool(
                        max_idle=self.max_workers,
                        connect_timeout=min(CONNECT_TIMEOUT, self.timeout),
                        read_timeout=self.timeout)
        return pool

    def _route(self, url: str) -> tuple[wire.Route, str]:
        """How a request for `url` travels (decided once per origin), and its target."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        try:
            port = parts.port
        except ValueError:
            raise IndexError_(f"Invalid URL {redact(url)}: the port is not a number "
                              "from 0 to 65535") from None
        host = parts.hostname or ""
        default = _default_port(scheme)
        if default is None or not host:
            raise IndexError_(f"Invalid URL {redact(url)}: expected http(s)://host/path")
        port = port or default
        from wherry.http import wire

        key = (scheme, host, port)
        route = self._routes.get(key)
        if route is None:
            tls = None
            if scheme == "https":
                tls = (insecure_context() if _host_matches(self.insecure_hosts, host, port)
                       else self._ssl_context())
            proxy = self._proxy_for(scheme, host, port)
            route = wire.Route(scheme, host, port, tls=tls,
                               proxy=None if proxy is None else self._proxy(proxy))
            with self._lock:
                route = self._routes.setdefault(key, route)
        return route, wire.request_target(route, parts.path, parts.query)

    def _proxy(self, url: str) -> wire.Proxy:
        """A proxy URL (`http://user:password@host:port`) as the wire layer needs it."""
        from wherry.http import wire

        bare, credentials = split_userinfo(url)
        parts = urlsplit(bare)
        scheme = parts.scheme.lower()
        try:
            port = parts.port
        except ValueError:
            port = -1
        default = _default_port(scheme)
        if default is None or not parts.hostname or port == -1:
            raise UsageError(f"Unsupported proxy {redact(url)}",
                             hint="HTTP_PROXY/HTTPS_PROXY/ALL_PROXY take http://host:port or "
                                  "https://host:port, with user:password@ when needed")
        log.debug("Using proxy %s", redact(url))
        return wire.Proxy(parts.hostname, port or default,
                          tls=self._ssl_context() if scheme == "https" else None,
                          authorization=credentials.header() if credentials else None)

    def _proxy_for(self, scheme: str, host: str, port: int | None) -> str | None:
        """The proxy URL for a request, from `<scheme>_proxy`/`all_proxy` (either case)
        minus `no_proxy`, with the stdlib's rules (http/proxies.py): entries match as
        host suffixes, with an optional port, and `*` matches everything."""
        from wherry.http.proxies import bypasses, environment_proxies

        proxies = self._proxies
        if proxies is None:
            proxies = self._proxies = environment_proxies()
        proxy = proxies.get(scheme) or proxies.get("all")
        if not proxy:
            return None
        hostport = f"[{host}]" if ":" in host else host
        if port is not None:
            hostport = f"{hostport}:{port}"
        if bypasses(hostport, proxies):
            return None
        return proxy if "://" in proxy else f"http://{proxy}"

    def _ssl_context(self) -> ssl.SSLContext:
        return verifying_context(self.cert)

    # -- thread pool ---------------------------------------------------------------------

    def _get_executor(self) -> Workers:
        executor = self._executor
        if executor is None:
            with self._lock:
                if self._executor is None:
                    self._executor = Workers(max(self.max_workers, 1), "wherry-http",
                                             initializer=_mark_worker)
                executor = self._executor
        return executor

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Run `fn(*args)` on the shared pool (inline when already on it: no deadlock)."""
        if getattr(_worker, "active", False):
            future: Future[T] = Future()
            try:
                future.set_result(fn(*args))
            except BaseException as exc:  # handed to whoever reads the future
                future.set_exception(exc)
            return future
        return self._get_executor().submit(fn, *args)

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """`[fn(x) for x in items]` on the shared pool; results in input order.

        On failure the work not yet started is cancelled, running work is waited for, and
        the exception of the earliest failed item (in input order) is raised. Called from
        a pool thread it runs inline, so nested use cannot starve the pool.
        """
        items = list(items)
        if len(items) <= 1 or getattr(_worker, "active", False):
            return [fn(item) for item in items]
        executor = self._get_executor()
        futures = [executor.submit(fn, item) for item in items]
        done, pending = wait(futures, return_when=FIRST_EXCEPTION)
        if pending and any(f.exception() is not None for f in done):
            for future in pending:
                future.cancel()
            wait(pending)
        for future in futures:
            if not future.cancelled() and future.exception() is not None:
                raise future.exception()  # type: ignore[misc]
        return [future.result() for future in futures]

    # -- requests ------------------------------------------------------------------------

    def _send(self, method: str, url: str, headers: dict[str, str]) -> wire.Response:
        """One request to one URL (no redirects), with credentials: those known up front,
        else, after 401/403/404, one retry with any found in `.netrc` or the keyring."""
        target, credentials = self.auth.prepare(url)
        send = dict(headers)
        if credentials is not None:
            send["Authorization"] = credentials.header()
        response = self._urlopen(method, url, target, send)
        if response.status in AUTH_RETRY_STATUSES:
            retry = self.auth.retry_with(url, response.status, credentials)
            if retry is not None:
                log.debug("Retrying %s with credentials after HTTP %d", redact(target),
                          response.status)
                response.discard()
                credentials = retry
                send["Authorization"] = retry.header()
                response = self._urlopen(method, url, target, send)
        if credentials is not None and response.status < 400:
            self.auth.accepted(url, credentials)
        return response

    def _urlopen(self, method: str, url: str, target: str, send: Mapping[str, str],
                 ) -> wire.Response:
        route, request_target = self._route(target)
        from wherry.http import wire

        try:
            return self._get_wire().request(route, method, request_target, send)
        except wire.TLSError as exc:
            raise _tls_error(url, exc.error, proxy=route.proxy if exc.proxy else None,
                             ) from None
        except wire.ProxyRefused as exc:
            if exc.status == 407:
                raise NetworkError(f"request for {redact(url)} failed: {exc}",
                                   hint=status_hint(407)) from None
            raise _Retry(url, f"proxy error ({exc})") from None
        except (wire.WireError, OSError) as exc:
            raise _Retry(url, str(exc)) from None

    def _open(self, method: str, url: str, headers: Mapping[str, str] | None,
              ) -> tuple[str, wire.Response]:
        """Send one request, following redirects; the final URL and the unread response."""
        if self.offline:
            raise NetworkError(
                f"Cannot fetch {redact(url)}: it is not in the cache and --offline was given",
                hint="run the command once without --offline to fill the cache")
        current = url
        base_origin = _origin(url)
        userinfo = _userinfo(url)
        for _ in range(MAX_REDIRECTS + 1):
            send = {"User-Agent": USER_AGENT, "Accept-Encoding": "gzip"}
            if headers:
                given = {key.lower() for key in headers}
                send = {k: v for k, v in send.items() if k.lower() not in given}
                send.update(headers)
            if _origin(current) != base_origin:
                # Credentials are never forwarded to another origin.
                # (The realm's own credentials, if any, are added by `_send`.)
                send = {k: v for k, v in send.items() if k.lower() != "authorization"}
            response = self._send(method, current, send)
            location = response.headers.get("location")
            if response.status in REDIRECT_STATUSES and location:
                response.discard()
                following = urljoin(current, location)
                if not following.startswith(("http://", "https://")):
                    raise IndexError_(f"{redact(current)} redirects to {redact(following)}",
                                      hint="only http and https redirects are followed")
                if userinfo and _origin(following) == base_origin and not _userinfo(following):
                    following = _with_userinfo(following, userinfo)
                trace("Redirected from %s to %s", redact(current), redact(following))
                current = following
                continue
            return current, response
        raise IndexError_(f"Too many redirects fetching {redact(url)}",
                          hint=f"more than {MAX_REDIRECTS} redirects; the server is "
                               "misconfigured")

    def _retrying(self, url: str, attempt: Callable[[], T]) -> T:
        """Run `attempt` until it stops raising `_Retry`, sleeping with backoff between."""
        for number in range(self.retries + 1):
            try:
                return attempt()
            except _Retry as retry:
                if number >= self.retries:
                    self._give_up(url, retry)
                if number == 0 and retry.status is None:
                    # Most often a pooled keep-alive connection the server had closed:
                    # a new connection right away usually works.
                    delay = 0.0
                else:
                    delay = min(self.backoff_cap, self.backoff * (2 ** number))
                    delay *= 0.5 + random.random() / 2
                if retry.after is not None:
                    delay = max(delay, min(retry.after, self.backoff_cap))
                log.debug("Retrying %s in %.2fs after %s (%d of %d)", redact(url), delay,
                          retry.reason, number + 1, self.retries)
                time.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _give_up(self, url: str, retry: _Retry) -> NoReturn:
        tries = f"{self.retries + 1} attempt{'s' if self.retries else ''}"
        if retry.status is not None:
            raise HttpStatusError(retry.url, retry.status,
                                  hint=f"{status_hint(retry.status)} ({tries} made)")
        raise NetworkError(f"request for {redact(url)} failed: {retry.reason}",
                           hint=f"gave up after {tries}; check the network or the index URL, "
                                "or raise WHERRY_HTTP_TIMEOUT / WHERRY_HTTP_RETRIES")

    @staticmethod
    def _retry_status(final: str, response: wire.Response) -> _Retry:
        after: float | None = None
        value = response.headers.get("retry-after")
        if value and value.strip().isdigit():
            after = float(value.strip())
        response.discard()
        return _Retry(final, f"HTTP {response.status}", status=response.status, after=after)

    def _fetch(self, method: str, url: str, headers: Mapping[str, str] | None,
               allow_status: Collection[int], *, digest: bool = False) -> Response:
        def attempt() -> Response:
            final, response = self._open(method, url, headers)
            if response.status in RETRY_STATUSES and response.status not in allow_status:
                raise self._retry_status(final, response)
            hasher = None
            if digest:
                import hashlib

                hasher = hashlib.sha256()
            try:
                body = response.read(hasher=hasher)
            except Exception as exc:
                raise _Retry(final, f"broken response body ({exc})") from None
            return Response(final, response.status, response.headers, body,
                            hasher.hexdigest() if hasher is not None else None)

        started = time.perf_counter()
        result = self._retrying(url, attempt)
        trace("%s %s -> %d (%d bytes, %.1f ms)", method, redact(result.url), result.status,
              len(result.body), (time.perf_counter() - started) * 1000)
        if result.status not in allow_status:
            raise HttpStatusError(result.url, result.status)
        return result

    def get(self, url: str, *, headers: Mapping[str, str] | None = None,
            allow_status: Collection[int] = (200,), digest: bool = False) -> Response:
        """GET `url` (http, https or file). Raises `NetworkError` when no response came
        after the retries, `HttpStatusError` (an `IndexError_`) for a status not allowed.

        A `file://` URL answers 200 with the file's bytes, or 404 if it does not exist;
        a directory is an error. `digest`: hash the body while it arrives (the thread
        would otherwise wait on the network), so `Response.sha256()` is ready at its end.
        """
        if url.startswith("file:"):
            return self._get_file(url, allow_status)
        return self._fetch("GET", url, headers, allow_status, digest=digest)

    def head(self, url: str, *, headers: Mapping[str, str] | None = None,
             allow_status: Collection[int] = (200,)) -> Response:
        """HEAD `url` with `Accept-Encoding: identity` (so `Content-Length` is the size)."""
        if url.startswith("file:"):
            path = file_url_to_path(url)
            response = self._get_file(url, allow_status, read=False)
            if response.status == 200:
                response.headers["content-length"] = str(path.stat().st_size)
            return response
        send = {"Accept-Encoding": "identity", **(headers or {})}
        return self._fetch("HEAD", url, send, allow_status)

    def supports_ranges(self, url: str) -> bool:
        """False once a server on this URL's origin answered a range request with 200."""
        return _origin(url) not in self._no_ranges

    def get_range(self, url: str, start: int, end: int | None) -> Response | None:
        """GET bytes `[start, end)` of `url` (206), or the last `-start` bytes when `start`
        is negative and `end` is None. None when the server ignores ranges (it answered
        200); the origin is then remembered and later calls return None at once.
        """
        if start < 0 and end is not None:
            raise ValueError("a suffix range (negative start) takes end=None")
        if end is not None and end <= start:
            raise ValueError(f"empty range [{start}, {end})")
        if url.startswith("file:"):
            return self._range_file(url, start, end)
        origin = _origin(url)
        if origin in self._no_ranges:
            return None
        spec = f"bytes={start}" if start < 0 else f"bytes={start}-{'' if end is None else end - 1}"
        send = {"Range": spec, "Accept-Encoding": "identity"}

        def attempt() -> Response | None:
            final, response = self._open("GET", url, send)
            if response.status == 200:
                # Not reading the body: dropping the connection stops the transfer.
                response.close()
                return None
            if response.status in RETRY_STATUSES:
                raise self._retry_status(final, response)
            if response.status != 206:
                response.discard()
                raise HttpStatusError(final, response.status)
            try:
                body = response.read(decode=False)
            except Exception as exc:
                raise _Retry(final, f"broken response body ({exc})") from None
            return Response(final, response.status, response.headers, body)

        result = self._retrying(url, attempt)
        if result is None:
            log.debug("%s://%s ignores range requests; not asking it again", *origin[:2])
            self._no_ranges.add(origin)
            return None
        trace("GET %s %s -> 206 (%d bytes)", redact(url), spec, len(result.body))
        return result

    def download(self, url: str, dest: Path, *, hashes: Mapping[str, str]) -> str:
        """Stream `url` into `dest` (via a temporary file beside it and a rename), checking
        every known algorithm in `hashes`; returns the sha256 hex digest.
        """
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        sha256, _ = self.stream(url, lambda: _FileSink(dest), hashes=hashes)
        return sha256

    def stream(self, url: str, open_sink: Callable[[], DownloadSink[R]], *,
               hashes: Mapping[str, str]) -> tuple[str, R]:
        """Pass the body of `url` through hashers and a sink in one pass; returns the
        sha256 hex digest and what the sink's `finish` made of the bytes.

        Every attempt (a broken body is retried) gets a new sink from `open_sink`, and the
        failed one is aborted. The sink finishes only after every known algorithm in
        `hashes` matched, so nothing it commits ever comes from wrong bytes; errors the
        sink raises while fed end the download (nothing retried)."""
        if url.startswith("file:"):
            return self._stream_file(url, open_sink, hashes)
        name = url.rsplit("/", 1)[-1].split("#", 1)[0]

        def attempt() -> tuple[dict[str, str], DownloadSink[R]]:
            final, response = self._open("GET", url, {"Accept-Encoding": "identity"})
            if response.status in RETRY_STATUSES:
                raise self._retry_status(final, response)
            if response.status != 200:
                response.discard()
                raise HttpStatusError(final, response.status)
            hashers = _hashers(hashes)
            try:
                sink = open_sink()
            except BaseException:
                response.close()
                raise
            try:
                _pump(_body(response, final), hashers, sink)
            except BaseException:
                response.close()
                sink.abort()
                raise
            return {name: h.hexdigest() for name, h in hashers.items()}, sink

        started = time.perf_counter()
        digests, sink = self._retrying(url, attempt)
        result = self._finish(name, hashes, digests, sink)
        log.debug("Downloaded %s in %.0f ms", redact(url), (time.perf_counter() - started) * 1000)
        return digests["sha256"], result

    @staticmethod
    def _finish(filename: str, hashes: Mapping[str, str], digests: Mapping[str, str],
                sink: DownloadSink[R]) -> R:
        try:
            check_hashes(unquote(filename), hashes, digests)
        except BaseException:
            sink.abort()
            raise
        return sink.finish(digests["sha256"])

    # -- file:// -------------------------------------------------------------------------

    def _get_file(self, url: str, allow_status: Collection[int], *, read: bool = True,
                  ) -> Response:
        path = file_url_to_path(url)
        if path.is_dir():
            raise IndexError_(f"Cannot read {url}: it is a directory",
                              hint="a file index needs <project>/index.html pages")
        try:
            body = path.read_bytes() if read else b""
        except FileNotFoundError:
            if 404 in allow_status:
                return Response(url, 404, {}, b"")
            raise HttpStatusError(url, 404, hint=f"{path} does not exist") from None
        except OSError as exc:
            raise IndexError_(f"Cannot read {path}: {exc.strerror or exc}") from None
        suffix = path.suffix.lower()
        kind = {".html": "text/html", ".htm": "text/html", ".json": "application/json"}
        headers = {"content-type": kind.get(suffix, "application/octet-stream"),
                   "content-length": str(len(body))}
        return Response(url, 200, headers, body)

    def _range_file(self, url: str, start: int, end: int | None) -> Response:
        path = file_url_to_path(url)
        try:
            with path.open("rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                first = max(size + start, 0) if start < 0 else start
                last = size if end is None else min(end, size)
                handle.seek(first)
                body = handle.read(max(last - first, 0))
        except OSError as exc:
            raise IndexError_(f"Cannot read {path}: {exc.strerror or exc}") from None
        content_range = f"bytes {first}-{first + len(body) - 1}/{size}"
        return Response(url, 206, {"content-range": content_range}, body)

    def _stream_file(self, url: str, open_sink: Callable[[], DownloadSink[R]],
                     hashes: Mapping[str, str]) -> tuple[str, R]:
        source = file_url_to_path(url)
        hashers = _hashers(hashes)
        try:
            handle = source.open("rb")
        except FileNotFoundError:
            raise HttpStatusError(url, 404, hint=f"{source} does not exist") from None
        with handle:
            sink = open_sink()
            try:
                _pump(iter(lambda: handle.read(CHUNK), b""), hashers, sink)
            except BaseException:
                sink.abort()
                raise
        digests: dict[str, str] = {name: h.hexdigest() for name, h in hashers.items()}
        return digests["sha256"], self._finish(source.name, hashes, digests, sink)


def _body(response: wire.Response, final: str) -> Iterator[bytes]:
    """A response's decoded body in chunks; a failure to read it is a retryable
    `_Retry` (errors the consumer raises while fed are not: they never pass through)."""
    try:
        yield from response.stream(CHUNK)
    except Exception as exc:
        raise _Retry(final, f"broken response body ({exc})") from None


def _pump(chunks: Iterable[bytes], hashers: Mapping[str, Any], sink: DownloadSink[Any]
          ) -> None:
    """Every chunk through every hasher, then into the sink."""
    for chunk in chunks:
        for hasher in hashers.values():
            hasher.update(chunk)
        sink.feed(chunk)


class DownloadSink(Protocol[R_co]):
    """Where `HttpClient.stream` puts a body: fed chunk by chunk, then either aborted
    (a failed attempt, wrong hashes) or finished with the body's sha256."""

    def feed(self, chunk: bytes) -> None: ...

    def abort(self) -> None: ...

    def finish(self, sha256: str) -> R_co: ...


class _FileSink:
    """A body written to a temporary file beside `dest`, renamed into place at the end."""

    def __init__(self, dest: Path) -> None:
        self.dest = dest
        import tempfile

        fd, self.tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part",
                                        dir=dest.parent)
        self.out = os.fdopen(fd, "wb")

    def feed(self, chunk: bytes) -> None:
        self.out.write(chunk)

    def abort(self) -> None:
        self.out.close()
        _unlink(self.tmp)

    def finish(self, sha256: str) -> None:
        try:
            self.out.close()
            os.replace(self.tmp, self.dest)
        except BaseException:
            _unlink(self.tmp)
            raise


def _tls_error(url: str, exc: BaseException, *, proxy: wire.Proxy | None = None,
               ) -> NetworkError:
    """A TLS failure as an error naming the host (the proxy's, when its handshake failed),
    with the ways out as a hint."""
    import ssl

    _, host, port = _origin(url) if proxy is None else ("", proxy.host, proxy.port)
    hostport = f"[{host}]" if ":" in host else host
    if port not in (None, 443):
        hostport = f"{hostport}:{port}"
    seen: BaseException | None = exc
    verify = "CERTIFICATE_VERIFY_FAILED" in str(exc)
    for _ in range(10):
        if seen is None:
            break
        verify = verify or isinstance(seen, ssl.SSLCertVerificationError)
        reason = getattr(seen, "reason", None)
        seen = reason if isinstance(reason, BaseException) else seen.__context__
    if proxy is not None:
        hint = ("point --cert or SSL_CERT_FILE at a CA bundle that holds the proxy's "
                "certificate authority")
        if verify:
            return NetworkError(f"TLS certificate verification failed for the proxy "
                                f"{hostport}: {_cause(exc)}", hint=hint)
        return NetworkError(f"TLS failure talking to the proxy {hostport}: {_cause(exc)}",
                            hint=hint)
    hint = (f"if a proxy intercepts TLS, point --cert or SSL_CERT_FILE at its CA bundle; "
            f"to skip verification for this host only, pass --allow-insecure-host {hostport}")
    if verify:
        return NetworkError(f"TLS certificate verification failed for {hostport}: "
                            f"{_cause(exc)}", hint=hint)
    return NetworkError(f"TLS failure talking to {redact(url)}: {_cause(exc)}", hint=hint)


def _mark_worker() -> None:
    _worker.active = True


def _cause(exc: BaseException) -> str:
    """The text of an ssl error, e.g. `[SSL: CERTIFICATE_VERIFY_FAILED] certificate
    verify failed: self-signed certificate (_ssl.c:1006)`."""
    return str(exc) or type(exc).__name__


def _unlink(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def concurrent_downloads() -> int:
    """`WHERRY_CONCURRENT_DOWNLOADS` (a positive integer), else 16.

    Why 16 and not uv's 50: uv multiplexes its requests over one HTTP/2 connection,
    while each request in flight here is a connection of its own (HTTP/1.1), with its
    TLS handshake and a thread contending for the GIL. Measured here (interleaved runs):
    the warm 110-package resolution 501 → 465 ms with 16 instead of 50, the warm
    35-package install 370 → 360 ms, the cold one the same either way (the biggest
    pages and wheels are asked for first, and kept-alive connections serve the rest)."""
    raw = os.environ.get("WHERRY_CONCURRENT_DOWNLOADS", "").strip()
    if not raw:
        return 16
    if not raw.isdigit() or int(raw) < 1:
        raise UsageError(f"WHERRY_CONCURRENT_DOWNLOADS={raw!r} is not a positive integer")
    return int(raw)


def parse_insecure_hosts(values: Iterable[str]) -> tuple[tuple[str, int | None], ...]:
    """`--allow-insecure-host` values (`host`, `host:port`, `[v6]:port`, or a URL) as
    (lower-case host, port or None for any port)."""
    found: list[tuple[str, int | None]] = []
    for value in values:
        text = value.strip()
        if not text:
            continue
        parts = urlsplit(text if "://" in text else f"//{text}")
        try:
            port = parts.port
        except ValueError:
            raise UsageError(f"Invalid --allow-insecure-host value {value!r}",
                             hint="use host or host:port") from None
        if not parts.hostname:
            raise UsageError(f"Invalid --allow-insecure-host value {value!r}",
                             hint="use host or host:port")
        found.append((parts.hostname.lower(), port))
    return tuple(found)


def _host_matches(hosts: Iterable[tuple[str, int | None]], host: str, port: int | None,
                  ) -> bool:
    return any(h == host and (p is None or p == port) for h, p in hosts)
