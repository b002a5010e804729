"""A real package index on the loopback interface, for tests.

wherry talks HTTP to indexes, so its tests need a real HTTP peer whose behaviour they
control: this module serves a folder of wheels and sdists as a PEP 503 (HTML) and
PEP 691 (JSON) simple index from a `ThreadingHTTPServer` bound to 127.0.0.1, with
switches that reproduce the ways real indexes differ or fail: no JSON, PEP 658
metadata files, no range support, caching headers and revalidation, basic auth,
latency, injected error statuses and bodies cut short.

Usage::

    with IndexServer(folder, metadata_files=True) as server:
        run(["--index-url", server.url, ...])
        assert ("GET", "/simple/foo/") in [(m, p) for m, p, _ in server.requests]

The folder is rescanned on every request, so tests may add files while it runs; every
switch is a plain attribute that tests may flip between requests.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import gzip
import hashlib
import html
import json
import socket
import tarfile
import threading
import time
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from email.parser import BytesHeaderParser
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple
from urllib.parse import quote, unquote, urlsplit

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

__all__ = ["HTML_V1", "JSON_V1", "IndexServer", "LoggedRequest"]

JSON_V1 = "application/vnd.pypi.simple.v1+json"
HTML_V1 = "application/vnd.pypi.simple.v1+html"
_JSON_LATEST = "application/vnd.pypi.simple.latest+json"
_HTML_LATEST = "application/vnd.pypi.simple.latest+html"
_TEXT_HTML = "text/html"
#: Response Content-Type for each media type a client may ask for.
_RESPONSE_TYPE = {
    JSON_V1: JSON_V1,
    _JSON_LATEST: JSON_V1,
    HTML_V1: HTML_V1,
    _HTML_LATEST: HTML_V1,
    _TEXT_HTML: "text/html; charset=utf-8",
}
_API_VERSION = "1.1"
_REALM = "wherry-test-index"


class LoggedRequest(NamedTuple):
    """One request as the server saw it; `headers` has lower-cased names."""

    method: str
    path: str
    headers: dict[str, str]


@dataclass(frozen=True)
class _Dist:
    """A servable file and everything the project pages say about it."""

    path: Path
    filename: str
    project: str
    version: str
    size: int
    mtime: float
    sha256: str
    metadata: bytes | None
    requires_python: str | None
    is_wheel: bool

    @property
    def metadata_sha256(self) -> str | None:
        """PEP 658 hash; only wheels get one (an sdist's PKG-INFO may be dynamic)."""
        if not self.is_wheel or self.metadata is None:
            return None
        return hashlib.sha256(self.metadata).hexdigest()


def _read_metadata(path: Path, is_wheel: bool) -> bytes | None:
    """METADATA of a wheel or PKG-INFO of an sdist; None for broken archives."""
    try:
        if is_wheel:
            with zipfile.ZipFile(path) as zf:
                for name in zf.namelist():
                    if name.count("/") == 1 and name.endswith(".dist-info/METADATA"):
                        return zf.read(name)
            return None
        if path.name.endswith(".tar.gz"):
            with tarfile.open(path, "r:gz") as tar:
                for member in tar.getmembers():
                    if member.name.count("/") == 1 and member.name.endswith("/PKG-INFO"):
                        extracted = tar.extractfile(member)
                        return None if extracted is None else extracted.read()
        elif path.name.endswith(".zip"):
            with zipfile.ZipFile(path) as zf:
                for name in zf.namelist():
                    if name.count("/") == 1 and name.endswith("/PKG-INFO"):
                        return zf.read(name)
    except (OSError, zipfile.BadZipFile, tarfile.TarError, EOFError):
        return None
    return None


class _Catalogue:
    """Parses the folder's filenames and caches hashes/metadata by (path, size, mtime)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, int, int], _Dist] = {}

    def _describe(self, path: Path) -> _Dist | None:
        try:
            stat = path.stat()
        except FileNotFoundError:
            return None
        key = (path.name, stat.st_size, stat.st_mtime_ns)
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None:
            return cached
        name = path.name
        try:
            if name.endswith(".whl"):
                project, version, _, _ = parse_wheel_filename(name)
                is_wheel = True
            elif name.endswith((".tar.gz", ".zip")):
                project, version = parse_sdist_filename(name)
                is_wheel = False
            else:
                return None
        except (InvalidWheelFilename, InvalidSdistFilename):
            return None
        body = path.read_bytes()
        metadata = _read_metadata(path, is_wheel)
        requires_python = None
        if metadata is not None:
            requires_python = BytesHeaderParser().parsebytes(metadata).get("Requires-Python")
        dist = _Dist(
            path=path,
            filename=name,
            project=str(project),
            version=str(version),
            size=len(body),
            mtime=stat.st_mtime,
            sha256=hashlib.sha256(body).hexdigest(),
            metadata=metadata,
            requires_python=None if requires_python is None else str(requires_python),
            is_wheel=is_wheel,
        )
        with self._lock:
            self._cache[key] = dist
        return dist

    def all(self) -> list[_Dist]:
        dists = []
        for path in sorted(self.root.iterdir()):
            if path.is_file():
                dist = self._describe(path)
                if dist is not None:
                    dists.append(dist)
        return dists

    def get(self, filename: str) -> _Dist | None:
        if "/" in filename or filename.startswith("."):
            return None
        return self._describe(self.root / filename)


def _negotiate(accept: str | None, json_ok: bool, html_ok: bool) -> str | None:
    """Pick the media type to answer with (PEP 691), or None for 406.

    With JSON off the server is an old HTML-only index and ignores Accept entirely.
    Otherwise entries are tried by decreasing q, header order breaking ties; wildcards
    and a missing header get HTML first (like the public index), JSON if HTML is off.
    """
    if not json_ok:
        return _TEXT_HTML
    offers = [JSON_V1, _JSON_LATEST] + ([HTML_V1, _HTML_LATEST, _TEXT_HTML] if html_ok else [])
    default = _TEXT_HTML if html_ok else JSON_V1
    if not accept or not accept.strip():
        return default
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate(accept.split(",")):
        media, *params = (part.strip() for part in item.split(";"))
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0 and media:
            ranked.append((-quality, position, media.lower()))
    for _, _, media in sorted(ranked):
        if media in offers:
            return media
        if media == "*/*":
            return default
        if media == "application/*":
            return JSON_V1
        if media == "text/*" and html_ok:
            return _TEXT_HTML
    return None


def _parse_range(header: str, size: int) -> tuple[int, int] | bool | None:
    """Parse a single `bytes=` range into inclusive (start, end).

    Returns None when the header should be ignored (malformed, multi-range: the full
    200 answer is always allowed) and False when it cannot be satisfied (416).
    """
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash:
        return None
    try:
        if not first:
            suffix = int(last)
            if suffix <= 0:
                return False
            return (max(0, size - suffix), size - 1) if size else False
        start = int(first)
        end = int(last) if last else size - 1
    except ValueError:
        return None
    if start > end and last:
        return None
    if start >= size:
        return False
    return start, min(end, size - 1)


def _etag_matches(header: str, etag: str) -> bool:
    """Weak comparison of If-None-Match against our (strong) ETag, as RFC 9110 says."""
    if header.strip() == "*":
        return True
    wanted = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == wanted for tag in header.split(","))


def _iso(moment: float | datetime | str) -> str:
    """PEP 700's upload-time format (ISO 8601, UTC, `Z`)."""
    if isinstance(moment, str):
        return moment
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, tz=timezone.utc)
    elif moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _HTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that knows its IndexServer and its open connections.

    The owner gives handlers the switches; the connection set lets `stop()` hang up on
    keep-alive clients, so a stopped index really is gone (outage tests rely on it).
    """

    daemon_threads = True
    #: Parallel clients (prefetching resolvers) connect many at once; the default
    #: backlog of 5 drops connects, which the client retries only after a second.
    request_queue_size = 128
    owner: IndexServer

    def __init__(self, address: tuple[str, int]) -> None:
        super().__init__(address, _Handler)
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def hang_up_all(self) -> None:
        with self.connections_lock:
            open_connections = list(self.connections)
        for conn in open_connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    """Routes requests to the simple API pages and the files, applying the switches."""

    protocol_version = "HTTP/1.1"
    server_version = "wherry-test-index/1.0"
    #: Without this, Nagle's algorithm and delayed ACKs stall each response ~40 ms.
    disable_nagle_algorithm = True
    #: Idle keep-alive connections end after this, so stray threads don't linger.
    timeout = 30
    server: _HTTPServer

    def log_message(self, format: str, *args: object) -> None:
        """Silence per-request stderr lines: tests read `server.requests` instead."""

    def do_GET(self) -> None:
        self._dispatch(head=False)

    def do_HEAD(self) -> None:
        self._dispatch(head=True)

    # ---------------------------------------------------------------- plumbing

    def _dispatch(self, head: bool) -> None:
        owner = self.server.owner
        headers = {key.lower(): value for key, value in self.headers.items()}
        owner._log(LoggedRequest(self.command, self.path, headers))
        if owner.latency > 0:
            time.sleep(owner.latency)
        if owner.auth is not None and not self._authorised(owner.auth):
            self._send(
                401,
                b"authentication required\n",
                {"WWW-Authenticate": f'Basic realm="{_REALM}"'},
                head=head,
            )
            return
        path = urlsplit(self.path).path
        status = owner._injected_failure(path)
        if status is not None:
            self._send(status, f"injected failure {status}\n".encode(), {}, head=head)
            return
        try:
            self._route(path, head)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _authorised(self, credentials: tuple[str, str]) -> bool:
        header = self.headers.get("Authorization", "")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, sep, password = decoded.partition(":")
        return bool(sep) and (user, password) == credentials

    def _send(
        self,
        status: int,
        body: bytes,
        headers: Mapping[str, str],
        *,
        head: bool,
        truncate: bool = False,
    ) -> None:
        """Send a complete response; with `truncate`, promise all of `body`, send half, hang up."""
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        if truncate:
            self.send_header("Connection", "close")
        self.end_headers()
        if head or status == 304:
            return
        if truncate:
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(body)

    def _redirect(self, location: str, head: bool) -> None:
        query = urlsplit(self.path).query
        target = f"{location}?{query}" if query else location
        self._send(301, b"", {"Location": target}, head=head)

    def _not_found(self, head: bool) -> None:
        self._send(404, b"not found\n", {"Content-Type": "text/plain"}, head=head)

    def _cache_validators(self, etag: str, last_modified: float) -> tuple[bool, dict[str, str]]:
        """Caching headers for a representation and whether the request is fresh (304)."""
        owner = self.server.owner
        if not owner.cache_headers:
            return False, {}
        headers = {
            "Cache-Control": "max-age=600",
            "ETag": etag,
            "Last-Modified": formatdate(last_modified, usegmt=True),
        }
        if_none_match = self.headers.get("If-None-Match")
        if if_none_match is not None:
            return _etag_matches(if_none_match, etag), headers
        if_modified_since = self.headers.get("If-Modified-Since")
        if if_modified_since:
            try:
                since = parsedate_to_datetime(if_modified_since).timestamp()
            except (TypeError, ValueError):
                return False, headers
            return int(last_modified) <= since, headers
        return False, headers

    # ----------------------------------------------------------------- routes

    def _route(self, path: str, head: bool) -> None:
        if path == "/simple":
            self._redirect("/simple/", head)
        elif path == "/simple/":
            self._index_page(head)
        elif path.startswith("/simple/"):
            raw = unquote(path[len("/simple/") :])
            name = raw.rstrip("/")
            if not name or "/" in name:
                self._not_found(head)
                return
            canonical = canonicalize_name(name)
            if name != canonical or not raw.endswith("/"):
                self._redirect(f"/simple/{quote(canonical)}/", head)
                return
            self._project_page(canonical, head)
        elif path == "/files/":
            self._find_links_page(head)
        elif path.startswith("/files/"):
            self._file(unquote(path[len("/files/") :]), head)
        else:
            self._not_found(head)

    def _page(self, kind: str, json_doc: object, html_doc: str, mtime: float, head: bool) -> None:
        """Send a simple-API page in the negotiated format, with caching and gzip."""
        owner = self.server.owner
        media = _negotiate(self.headers.get("Accept"), owner.json, owner.html)
        if media is None:
            self._send(406, b"not acceptable\n", {"Content-Type": "text/plain"}, head=head)
            return
        content_type = _RESPONSE_TYPE[media]
        if content_type == JSON_V1:
            body = json.dumps(json_doc, indent=1, sort_keys=True).encode("utf-8")
        else:
            body = html_doc.encode("utf-8")
        headers = {"Content-Type": content_type}
        if owner.vary:
            headers["Vary"] = "Accept, Accept-Encoding"

        etag = '"' + hashlib.sha256(content_type.encode() + b"\0" + body).hexdigest()[:32] + '"'
        fresh, cache = self._cache_validators(etag, mtime)
        headers.update(cache)
        if fresh:
            self._send(304, b"", headers, head=head)
            return
        if owner.gzip and self._accepts_gzip():
            body = gzip.compress(body, mtime=0)
            headers["Content-Encoding"] = "gzip"
        self._send(200, body, headers, head=head, truncate=kind in owner.truncate)

    def _accepts_gzip(self) -> bool:
        for item in self.headers.get("Accept-Encoding", "").split(","):
            coding, _, params = item.strip().partition(";")
            if coding.strip().lower() == "gzip" and params.replace(" ", "") != "q=0":
                return True
        return False

    def _index_page(self, head: bool) -> None:
        dists = self.server.owner._catalogue.all()
        projects = sorted({d.project for d in dists})
        doc = {
            "meta": {"api-version": _API_VERSION},
            "projects": [{"name": p} for p in projects],
        }
        links = "".join(f'    <a href="{quote(p)}/">{html.escape(p)}</a><br/>\n' for p in projects)
        page = (
            "<!DOCTYPE html>\n<html>\n  <head>\n"
            f'    <meta name="pypi:repository-version" content="{_API_VERSION}">\n'
            "    <title>Simple index</title>\n  </head>\n  <body>\n"
            f"{links}  </body>\n</html>\n"
        )
        mtime = max((d.mtime for d in dists), default=0.0)
        self._page("/simple/", doc, page, mtime, head)

    def _find_links_page(self, head: bool) -> None:
        """A flat HTML listing of every file, the shape `--find-links URL` expects."""
        dists = self.server.owner._catalogue.all()
        links = "".join(
            f'    <a href="{quote(d.filename)}#sha256={d.sha256}">{html.escape(d.filename)}</a>'
            "<br/>\n"
            for d in dists
        )
        page = f"<!DOCTYPE html>\n<html>\n  <body>\n{links}  </body>\n</html>\n"
        body = page.encode("utf-8")
        headers = {"Content-Type": "text/html; charset=utf-8"}
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        fresh, cache = self._cache_validators(etag, max((d.mtime for d in dists), default=0.0))
        headers.update(cache)
        if fresh:
            self._send(304, b"", headers, head=head)
            return
        self._send(200, body, headers, head=head)

    def _project_page(self, project: str, head: bool) -> None:
        owner = self.server.owner
        dists = [d for d in owner._catalogue.all() if d.project == project]
        if not dists:
            self._not_found(head)
            return
        files = []
        anchors = []
        for dist in dists:
            url = f"../../files/{quote(dist.filename)}"
            requires_python = owner.requires_python.get(dist.filename, dist.requires_python)
            requires_python = requires_python or None
            reason = owner.yanked.get(dist.filename)
            metadata_hash = dist.metadata_sha256 if owner.metadata_files else None
            core_metadata: object = {"sha256": metadata_hash} if metadata_hash else False
            upload_time = _iso(owner.upload_times.get(dist.filename, dist.mtime))
            entry: dict[str, object] = {
                "filename": dist.filename,
                "url": url,
                "hashes": {"sha256": dist.sha256},
                "requires-python": requires_python,
                "yanked": (reason or True) if reason is not None else False,
                "core-metadata": core_metadata,
                "dist-info-metadata": core_metadata,
                "size": dist.size,
                "upload-time": upload_time,
            }
            files.append(entry)
            attrs = [f'href="{html.escape(url)}#sha256={dist.sha256}"']
            if requires_python:
                attrs.append(f'data-requires-python="{html.escape(requires_python)}"')
            if reason is not None:
                attrs.append(f'data-yanked="{html.escape(reason)}"' if reason else "data-yanked")
            attrs.append(f'data-size="{dist.size}" data-upload-time="{html.escape(upload_time)}"')
            if metadata_hash:
                attrs.append(f'data-core-metadata="sha256={metadata_hash}"')
                attrs.append(f'data-dist-info-metadata="sha256={metadata_hash}"')
            anchors.append(f"    <a {' '.join(attrs)}>{html.escape(dist.filename)}</a><br/>\n")
        versions = sorted({d.version for d in dists}, key=Version)
        doc = {
            "meta": {"api-version": _API_VERSION},
            "name": project,
            "files": files,
            "versions": versions,
        }
        page = (
            "<!DOCTYPE html>\n<html>\n  <head>\n"
            f'    <meta name="pypi:repository-version" content="{_API_VERSION}">\n'
            f"    <title>Links for {html.escape(project)}</title>\n  </head>\n  <body>\n"
            f"    <h1>Links for {html.escape(project)}</h1>\n"
            f"{''.join(anchors)}  </body>\n</html>\n"
        )
        mtime = max(d.mtime for d in dists)
        self._page(f"/simple/{project}/", doc, page, mtime, head)

    def _file(self, filename: str, head: bool) -> None:
        owner = self.server.owner
        if filename.endswith(".metadata"):
            dist = owner._catalogue.get(filename.removesuffix(".metadata"))
            if not owner.metadata_files or dist is None or dist.metadata_sha256 is None:
                self._not_found(head)
                return
            assert dist.metadata is not None
            body, mtime = dist.metadata, dist.mtime
            etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
            content_type = "text/plain; charset=utf-8"
        else:
            found = owner._catalogue.get(filename)
            if found is None:
                self._not_found(head)
                return
            body, mtime = found.path.read_bytes(), found.mtime
            etag = f'"{found.sha256[:32]}"'
            content_type = "application/octet-stream"
        headers = {"Content-Type": content_type}
        if owner.ranges:
            headers["Accept-Ranges"] = "bytes"
        fresh, cache = self._cache_validators(etag, mtime)
        headers.update(cache)
        if fresh:
            self._send(304, b"", headers, head=head)
            return
        truncate = filename in owner.truncate
        range_header = self.headers.get("Range")
        if owner.ranges and range_header:
            span = _parse_range(range_header, len(body))
            if span is False:
                headers["Content-Range"] = f"bytes */{len(body)}"
                self._send(416, b"", headers, head=head)
                return
            if isinstance(span, tuple):
                start, end = span
                headers["Content-Range"] = f"bytes {start}-{end}/{len(body)}"
                self._send(206, body[start : end + 1], headers, head=head, truncate=truncate)
                return
        self._send(200, body, headers, head=head, truncate=truncate)


class IndexServer:
    """A PEP 503/691 index over `files_dir`, served on 127.0.0.1 from a daemon thread.

    Switches (constructor keywords and plain attributes, read on every request):

    - `json` / `html`: which simple-API formats exist. With `json=False` every page is
      HTML whatever the Accept header says; with `html=False` a client that accepts no
      JSON gets 406.
    - `metadata_files`: PEP 658/714 — `core-metadata`/`data-core-metadata` (and the
      older `dist-info-metadata` names) plus `GET /files/<wheel>.metadata`.
    - `ranges`: honour single `Range: bytes=` requests with 206 and advertise
      `Accept-Ranges`; when False, Range is ignored (plain 200).
    - `cache_headers`: `Cache-Control: max-age=600`, `ETag`, `Last-Modified`, and 304
      for matching `If-None-Match` / `If-Modified-Since`.
    - `auth`: `(user, password)` for HTTP basic auth on every path (401 otherwise).
    - `latency`: seconds slept before answering each request.
    - `fail`: path prefix → status returned instead of the real answer;
      `fail_times`: prefix → how many more times that failure happens (absent: always).
    - `truncate`: filenames (or page paths like `/simple/foo/`) whose body is cut in
      half after a Content-Length promising all of it, then the connection closes.
    - `yanked`: filename → reason (`""` for a yank without reason).
    - `requires_python`: filename → specifier overriding the file's own metadata
      (`""` removes it).
    - `upload_times`: filename → datetime or ISO string (default: the file's mtime),
      served as JSON `upload-time` and HTML `data-upload-time` (with `data-size`).
    - `gzip`: compress pages when the client's Accept-Encoding allows gzip.
    - `vary`: pages say `Vary: Accept, Accept-Encoding` (off: no caching header at all,
      as some mirrors and proxies answer).
    """

    def __init__(
        self,
        files_dir: Path | str,
        *,
        json: bool = True,
        html: bool = True,
        metadata_files: bool = False,
        ranges: bool = True,
        cache_headers: bool = False,
        auth: tuple[str, str] | None = None,
        latency: float = 0.0,
        fail: Mapping[str, int] | None = None,
        fail_times: Mapping[str, int] | None = None,
        truncate: Iterable[str] = (),
        yanked: Mapping[str, str] | None = None,
        requires_python: Mapping[str, str] | None = None,
        upload_times: Mapping[str, datetime | str] | None = None,
        gzip: bool = True,
        vary: bool = True,
    ) -> None:
        self.files_dir = Path(files_dir)
        self.vary = vary
        self.json = json
        self.html = html
        self.metadata_files = metadata_files
        self.ranges = ranges
        self.cache_headers = cache_headers
        self.auth = auth
        self.latency = latency
        self.fail: dict[str, int] = dict(fail or {})
        self.fail_times: dict[str, int] = dict(fail_times or {})
        self.truncate: set[str] = set(truncate)
        self.yanked: dict[str, str] = dict(yanked or {})
        self.requires_python: dict[str, str] = dict(requires_python or {})
        self.upload_times: dict[str, datetime | str] = dict(upload_times or {})
        self.gzip = gzip
        self._catalogue = _Catalogue(self.files_dir)
        self._log_lock = threading.Lock()
        self._requests: list[LoggedRequest] = []
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ life cycle

    def start(self) -> IndexServer:
        """Bind to an ephemeral loopback port and serve from a daemon thread."""
        if self._httpd is not None:
            return self
        httpd = _HTTPServer(("127.0.0.1", 0))
        httpd.owner = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.02},
            name=f"IndexServer:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting connections and release the port (idempotent)."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        httpd.hang_up_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> IndexServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------ addresses

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("IndexServer is not running")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT`, without a trailing slash."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The index URL to pass as `--index-url`."""
        return f"{self.base_url}/simple"

    def project_url(self, name: str) -> str:
        """The canonical project page URL (trailing slash included)."""
        return f"{self.url}/{canonicalize_name(name)}/"

    @property
    def find_links_url(self) -> str:
        """A flat HTML page linking every file, for `--find-links` tests."""
        return f"{self.base_url}/files/"

    def file_url(self, filename: str) -> str:
        """Where the index serves `filename` (what project pages link to)."""
        return f"{self.base_url}/files/{quote(filename)}"

    # ------------------------------------------------------------ request log

    @property
    def requests(self) -> list[LoggedRequest]:
        """A snapshot of the requests received so far, oldest first."""
        with self._log_lock:
            return list(self._requests)

    def reset_log(self) -> None:
        """Forget the requests received so far."""
        with self._log_lock:
            self._requests.clear()

    def paths(self, method: str | None = None) -> list[str]:
        """The request paths (with query), optionally only those of one method."""
        return [r.path for r in self.requests if method is None or r.method == method]

    def _log(self, request: LoggedRequest) -> None:
        with self._log_lock:
            self._requests.append(request)

    def _injected_failure(self, path: str) -> int | None:
        """The status to fail `path` with, counting down `fail_times` (longest prefix wins)."""
        with self._log_lock:
            for prefix in sorted(self.fail, key=len, reverse=True):
                if not path.startswith(prefix):
                    continue
                remaining = self.fail_times.get(prefix)
                if remaining is None:
                    return self.fail[prefix]
                if remaining > 0:
                    self.fail_times[prefix] = remaining - 1
                    return self.fail[prefix]
            return None
