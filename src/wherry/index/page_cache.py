"""The simple-page cache: each project page stored *parsed*, beside its HTTP policy.

One file per (index, project): `simple-v3/<digest of the index URL>/<name>.msgpack`, a
msgpack map `{"policy": CachePolicy, "files": StoredFiles | None, "body_sha256": ...}`
(None: the index answered 404), written atomically. Maps with field names keep entries
self-describing and let a later wherry add keys that this one ignores. The files are
stored parsed and grouped by version, newest first (`project_page.py`), each group's
files an undecoded blob: a warm hit costs one file read and a decode of the version list,
and only the versions the resolver looks at are decoded further. The entry repeats the
URL it answers, checked on read.

Credentials never reach the disk: the index URL's userinfo is removed from the key, the
policy and the stored file URLs, and put back on the same-origin file URLs on load (the
same rule the client uses when it follows links). A damaged entry is deleted and reported
at debug level; the caller then fetches the page again.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from functools import partial
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit, urlunsplit

import msgspec

from wherry.cache.entry import write_atomic
from wherry.cache.layout import Cache
from wherry.errors import IndexError_
from wherry.http.cache_policy import CachePolicy, strip_userinfo
from wherry.http.urls import redact_url
from wherry.index.models import DistFile
from wherry.index.project_page import DamagedPage, ProjectPage, StoredFiles
from wherry.index.simple import FileRow
from wherry.output import log

_SAFE_NAME = re.compile(r"[a-z0-9][a-z0-9-]*\Z")


class PageEntry(msgspec.Struct):
    """A cached project page: the response's policy and the files it listed (grouped by
    version, `project_page.StoredFiles`), None when the index answered 404."""

    policy: CachePolicy
    files: StoredFiles | None
    # sha256 of the response body the files were parsed from: a refetched page whose
    # bytes are identical needs neither parsing nor storing again.
    body_sha256: str | None = None


class _StoredEntry(msgspec.Struct):
    """The same map read back with the files left undecoded (`msgspec.Raw`)."""

    policy: CachePolicy
    files: msgspec.Raw
    body_sha256: str | None = None


_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(_StoredEntry)
_FILES_DECODER = msgspec.msgpack.Decoder(StoredFiles | None)


class StoredPage:
    """A cached page as read: its policy at once, its files only when asked for.

    On an index that sends no validators every stored page is stale, so deciding that
    must not cost decoding thousands of files (uv checks its policy without
    deserialising the page either): `PageCache.load` decodes the list of versions only,
    and each version's files are decoded when the resolver looks at that version.
    """

    def __init__(self, policy: CachePolicy, raw: msgspec.Raw, stored: StoredFiles | None,
                 index_url: str, path: Path, body_sha256: str | None = None) -> None:
        self.policy = policy
        self.body_sha256 = body_sha256
        self._raw = raw
        self._stored = stored
        self._index_url = index_url
        self._path = path
        self._page: ProjectPage | None = None
        self._decoded = False

    @property
    def absent(self) -> bool:
        """Whether the index answered 404 for this page (known without decoding)."""
        return self._stored is None

    @property
    def page(self) -> ProjectPage | None:
        if not self._decoded:
            stored = self._stored
            transform = None
            if _userinfo(self._index_url):
                transform = partial(_with_credentials, self._index_url)
            self._page = None if stored is None else ProjectPage.from_stored(
                stored, self._index_url, transform, self._damaged)
            self._decoded = True
        return self._page

    @property
    def files(self) -> list[DistFile] | None:
        page = self.page
        return None if page is None else page.files()

    def _damaged(self, detail: str) -> NoReturn:
        PageCache._unlink(self._path)
        raise IndexError_(
            f"the cached page {self._path} is damaged ({detail}); it has been removed",
            hint="run the command again to fetch the page anew",
        ) from None


def _userinfo(url: str) -> str:
    netloc = urlsplit(url).netloc
    return netloc.rpartition("@")[0] if "@" in netloc else ""


def _host(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.rpartition("@")[2].lower()


class PageCache:
    """Parsed project pages in `cache.bucket("simple")`; safe to share between threads."""

    def __init__(self, cache: Cache) -> None:
        self.cache = cache
        self._root: Path | None = None

    def path(self, index_url: str, name: str) -> Path:
        """Where the page of project `name` (normalised) on `index_url` is stored."""
        if self._root is None:
            self._root = self.cache.bucket("simple")
        bare = strip_userinfo(index_url).rstrip("/")
        digest = hashlib.sha256(bare.encode("utf-8")).hexdigest()[:16]
        if not _SAFE_NAME.match(name):
            name = "_" + hashlib.sha256(name.encode("utf-8")).hexdigest()[:16]
        return self._root / digest / f"{name}.msgpack"

    def load(self, index_url: str, name: str, url: str) -> StoredPage | None:
        """The stored entry for `url` (the page URL), or None when missing or damaged."""
        path = self.path(index_url, name)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.debug("Cannot read cached page %s: %s", path, exc)
            return None
        try:
            entry = _DECODER.decode(data)
            # The version list, not the files: a shape this wherry cannot read is a miss.
            stored = _FILES_DECODER.decode(entry.files)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            log.debug("Removing damaged cache entry %s (%s)", path, exc)
            self._unlink(path)
            return None
        if entry.policy.url != strip_userinfo(url):
            log.debug("Cache entry %s is for %s, not %s; ignoring it", path,
                      entry.policy.url, redact_url(url))
            return None
        return StoredPage(entry.policy, entry.files, stored, index_url, path,
                          entry.body_sha256)

    def store(self, index_url: str, name: str, policy: CachePolicy,
              page: ProjectPage | None, body_sha256: str | None = None) -> None:
        """Write a page atomically (a failure to write is logged, never fatal)."""
        path = self.path(index_url, name)
        strip = partial(_without_credentials, index_url) if _userinfo(index_url) else None
        try:
            files = None if page is None else page.to_stored(
                strip, strip_userinfo(page.base) if strip is not None else None)
        except (DamagedPage, IndexError_):
            # A damaged stored group (the entry is already removed), or a fetched page
            # whose file objects are malformed (reported when their version is read).
            return
        try:
            write_atomic(path, _ENCODER.encode(PageEntry(policy, files, body_sha256)))
        except OSError as exc:
            log.debug("Cannot write cache entry %s: %s", path, exc)

    def restore(self, index_url: str, name: str, policy: CachePolicy, page: StoredPage) -> None:
        """Store a new policy beside a stored page's files, without decoding them."""
        entry = _StoredEntry(policy, page._raw, page.body_sha256)
        try:
            write_atomic(self.path(index_url, name), _ENCODER.encode(entry))
        except OSError as exc:
            log.debug("Cannot write cache entry %s: %s", self.path(index_url, name), exc)

    def remove(self, index_url: str, name: str) -> None:
        self._unlink(self.path(index_url, name))

    @staticmethod
    def _unlink(path: Path) -> None:
        with contextlib.suppress(OSError):
            os.unlink(path)


def _without_credentials(index_url: str, row: FileRow) -> FileRow:
    if "@" in row.url and _userinfo(row.url) == _userinfo(index_url):
        return msgspec.structs.replace(row, url=strip_userinfo(row.url))
    return row


def _with_credentials(index_url: str, file: DistFile) -> DistFile:
    url = file.url
    if not _userinfo(url) and _host(url) == _host(index_url):
        parts = urlsplit(url)
        url = urlunsplit((parts.scheme, f"{_userinfo(index_url)}@{parts.netloc}", parts.path,
                          parts.query, parts.fragment))
    return msgspec.structs.replace(file, url=url, index_url=index_url)
