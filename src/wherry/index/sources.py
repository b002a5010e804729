"""Where a project's files come from: the indexes in priority order plus find-links.

The default strategy is uv's `first-index`: only the first index that knows a project is
used (a dependency-confusion defence), where "knows" means its project page did not answer
404; any other failure stops the search rather than silently falling through to the next
index. Find-links files are always added. `unsafe-best-match` (pip's behaviour) and
`unsafe-first-match` return the files of every index that knows the project, in priority
order, each `DistFile` naming its index so the resolver can prefer the first.

Each project is looked up once per process. Lookups are memoised and thread-safe: the
thread that asks first fetches, in its own thread, and later askers wait for it, so a
prefetch queued on the pool can never deadlock a caller. Given a `cache`, project pages go
through the simple-page cache (`page_cache.py`) under RFC 9111 and the run's `network`
settings (`--refresh`, `--refresh-package`, `--offline`); see `_fetch_project_page`.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterable, Sequence
from functools import partial
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit

import msgspec

from wherry.cache.layout import Cache
from wherry.errors import IndexError_, NetworkError, UsageError
from wherry.http.cache_policy import cached_get
from wherry.http.client import HttpClient, Response, redact
from wherry.index.find_links import (
    FIND_LINKS_ACCEPT,
    find_links_files,
    is_remote_page,
)
from wherry.index.models import DistFile
from wherry.index.page_cache import PageCache, StoredPage
from wherry.index.project_page import ProjectFiles, ProjectPage
from wherry.index.simple import (
    ACCEPT,
    filename_matches,
    malformed_json_page,
    normalize_name,
    parse_rows,
    split_json_page,
)
from wherry.output import log
from wherry.settings import NetworkSettings

STRATEGIES = ("first-index", "unsafe-first-match", "unsafe-best-match")

#: The page-cache entry name of a remote find-links page (its folder is the page URL's).
FIND_LINKS_ENTRY = "_find-links"


def project_url(index_url: str, name: str) -> str:
    """`<index>/<normalised name>/` (PEP 503)."""
    return f"{index_url.rstrip('/')}/{normalize_name(name)}/"


def _identity(response: Response) -> str:
    """What `IndexSources.page_digests` records for a page just read."""
    return "absent" if response.status == 404 else response.sha256()


def _stored_identity(stored: StoredPage) -> str | None:
    """The same for a page answered from the cache (None: stored before bodies were
    hashed)."""
    if stored.absent:
        return "absent"
    return stored.body_sha256


def as_index_url(location: str) -> str:
    """An index URL as given, or the `file://` URL of a local directory path."""
    scheme = urlsplit(location).scheme
    if scheme and len(scheme) > 1:
        return location
    return Path(location).expanduser().absolute().as_uri()


class _Lookup(msgspec.Struct):
    done: threading.Event = msgspec.field(default_factory=threading.Event)
    files: ProjectFiles = msgspec.field(default_factory=ProjectFiles)
    error: BaseException | None = None
    # (index, files or None)
    asked: list[tuple[str, int | None]] = msgspec.field(default_factory=list)
    found_in: str | None = None


class IndexSources:
    """The indexes (`index_urls` in priority order) and find-links of one run."""

    def __init__(self, index_urls: Sequence[str], find_links: Sequence[str],
                 client: HttpClient, *, strategy: str = "first-index",
                 cache: Cache | None = None, network: NetworkSettings | None = None) -> None:
        if strategy not in STRATEGIES:
            raise UsageError(f"Unknown index strategy {strategy!r}",
                             hint=f"choose one of {', '.join(STRATEGIES)}")
        self.index_urls = [as_index_url(url) for url in index_urls]
        self.find_links = list(find_links)
        self.client = client
        self.strategy = strategy
        self.network = network if network is not None else NetworkSettings()
        self.pages = PageCache(cache) if cache is not None else None
        self._lock = threading.Lock()
        self._lookups: dict[str, _Lookup] = {}
        self._find_links_lock = threading.Lock()
        self._find_links_files: list[DistFile] | None = None
        # What each page read said, by `<index URL> <name>`: the sha256 of the body its
        # files came from, or "absent" (404); None when that is not known (a cached
        # entry older than body hashes). See `page_digests`.
        self._digests: dict[str, str | None] = {}
        # How each of those pages was read, by the same key: the (URL, Accept) of the
        # request whose answer gave the digest when it was a plain request (sent as
        # given, answered without caching headers: `CachedGet.plain`), else None (from
        # the cache, revalidated, or a cacheable answer). See `plain_requests`.
        self._requests: dict[str, tuple[str, str] | None] = {}

    def page_digests(self) -> dict[str, str] | None:
        """The identity of every project page read so far (`<index URL> <name>` → the
        body's sha256, or "absent" for a 404); None when one of them is not known.

        Why: the files a page lists (hence everything resolved from it) are a function of
        its bytes, so a later run reading pages with the same digests would resolve the
        same way (commands/stored_resolution.py). A remote find-links page is not
        recorded: callers that rely on this refuse remote find-links."""
        with self._lock:
            digests = dict(self._digests)
        if any(value is None for value in digests.values()):
            return None
        return {key: value for key, value in digests.items() if value is not None}

    def plain_requests(self) -> dict[str, tuple[str, str, str | None]] | None:
        """For every page read so far (keyed as `page_digests`): the URL and Accept
        header of the plain request that read it, and the path of its page-cache entry
        (None without a cache, or for a `file://` index, read every time); None when a
        page was read any other way.

        Why: a later run that sends the same requests, finds each entry unchanged (so
        still unable to answer by itself) and gets the same digests back has read the
        same pages the normal path would (cli/replay_install.py)."""
        with self._lock:
            requests = dict(self._requests)
        found: dict[str, tuple[str, str, str | None]] = {}
        for key, request in requests.items():
            if request is None:
                return None
            index_url, _, name = key.rpartition(" ")
            entry = (str(self.pages.path(index_url, name))
                     if self.pages is not None and not index_url.startswith("file:")
                     else None)
            found[key] = (*request, entry)
        return found

    def _digested(self, index_url: str, name: str, digest: str | None,
                  request: tuple[str, str] | None = None) -> None:
        if name == FIND_LINKS_ENTRY:
            return
        key = f"{index_url} {name}"
        with self._lock:
            self._digests[key] = digest
            self._requests[key] = request

    def files_for(self, name: str) -> list[DistFile]:
        """Every file offered for project `name` (empty when nobody knows it)."""
        return list(self.project_files(name))

    def project_files(self, name: str) -> ProjectFiles:
        """`files_for` as the pages they come from, grouped by version, so a resolver
        can look at a few versions without materialising every file (project_page.py)."""
        key = normalize_name(name)
        with self._lock:
            lookup = self._lookups.get(key)
            owner = lookup is None
            if lookup is None:
                lookup = self._lookups[key] = _Lookup()
        if owner:
            try:
                lookup.files = self._lookup(key, lookup)
            except Exception as exc:
                lookup.error = exc
            except BaseException:
                with self._lock:  # interrupted: let the next caller start over
                    self._lookups.pop(key, None)
                lookup.error = IndexError_(f"Lookup of {name} was interrupted")
                raise
            finally:
                lookup.done.set()
        else:
            lookup.done.wait()
        if lookup.error is not None:
            raise lookup.error
        return lookup.files

    def prefetch(self, names: Iterable[str]) -> None:
        """Start looking up `names` in the background on the client's pool, the pages
        expected to be largest first (`_by_expected_size`)."""
        keys: list[str] = []
        for name in names:
            key = normalize_name(name)
            with self._lock:
                if key in self._lookups or key in keys:
                    continue
            keys.append(key)
        for key in self._by_expected_size(keys):
            self.client.submit(self._prefetch_one, key)

    def _by_expected_size(self, keys: list[str]) -> list[str]:
        """`keys` with the pages not in the cache first, then the cached ones by the size
        of their cache entries, largest first.

        Why: at most `WHERRY_CONCURRENT_DOWNLOADS` requests are in flight, the rest queue,
        and a page's download time grows with its size (one project page here is 6.9 MB,
        most are a few KB): when the largest is asked for last, everyone waits for it. The
        entry's size is a stat away and tracks the page's size closely. The order only
        decides when requests leave, never what they answer."""
        pages = self.pages
        if pages is None or not self.index_urls or len(keys) < 2:
            return keys
        index_url = self.index_urls[0]
        if index_url.startswith("file:"):
            return keys

        def size(key: str) -> int:
            try:
                return os.stat(pages.path(index_url, key)).st_size
            except OSError:
                return -1  # unknown: asked for first, it may be large and needs parsing

        sizes = {key: size(key) for key in keys}
        return sorted(keys, key=lambda key: (sizes[key] >= 0, -sizes[key]))

    def _prefetch_one(self, name: str) -> None:
        # An error is kept in the lookup and raised to the caller who needs the files.
        with contextlib.suppress(Exception):
            self.project_files(name)

    def index_for(self, name: str) -> str | None:
        """The index whose files `files_for(name)` returned (first-index), if any."""
        lookup = self._lookups.get(normalize_name(name))
        return lookup.found_in if lookup is not None else None

    def unknown_reason(self, name: str) -> str:
        """Which locations were asked about `name`, for a "not found" message."""
        key = normalize_name(name)
        lookup = self._lookups.get(key)
        places: list[str] = []
        if lookup is not None and lookup.done.is_set():
            for index_url, count in lookup.asked:
                outcome = "not found" if count is None else f"{count} files, none usable"
                places.append(f"{redact(project_url(index_url, key))} ({outcome})")
        else:
            places.extend(redact(project_url(url, key)) for url in self.index_urls)
        if self.find_links:
            places.append("find-links " + ", ".join(redact(f) for f in self.find_links))
        if not places:
            return (f"{name} was not looked up anywhere: no index is configured "
                    "(--no-index) and no --find-links was given")
        return f"{name} was not found in " + "; ".join(places)

    # -- fetching ------------------------------------------------------------------------

    def _lookup(self, name: str, lookup: _Lookup) -> ProjectFiles:
        pages: list[ProjectPage] = []
        for index_url in self.index_urls:
            page = self._fetch_project_page(index_url, name)
            lookup.asked.append((index_url, None if page is None else page.count))
            if page is None:
                continue
            if page.count:
                pages.append(page)
            if lookup.found_in is None:
                lookup.found_in = index_url
            if self.strategy == "first-index":
                break
        extra: list[DistFile] = []
        if self.find_links:
            extra = [f for f in self._all_find_links() if filename_matches(f.filename, name)]
        return ProjectFiles(pages, extra)

    def _fetch_project_page(self, index_url: str, name: str) -> ProjectPage | None:
        """The files on `name`'s page of one index; None when the index answers 404.

        `file://` indexes are read every time (as uv: reading is as cheap as the cache).
        Other pages go through the page cache: see `_fetch_cached`.
        """
        url = project_url(index_url, name)
        started = time.perf_counter()
        if url.startswith("file:"):
            response = self.client.get(url + "index.html", headers={"Accept": ACCEPT},
                                       allow_status=(200, 404))
            self._digested(index_url, name, _identity(response), (url + "index.html", ACCEPT))
            return self._parse(response, index_url, name, started, "read")
        return self._fetch_cached(index_url, name, url, ACCEPT, self.network.refreshes(name),
                                  started)

    def _fetch_cached(self, index_url: str, name: str, url: str, accept: str, refresh: bool,
                      started: float) -> ProjectPage | None:
        """A page through the simple-page cache under RFC 9111 (`cached_get`).

        A fresh entry answers without a request, a stale one is revalidated (304 keeps the
        stored files), `refresh` forces that revalidation, and `--offline` answers from the
        cache whatever its age, or fails. Project pages and remote find-links pages share
        this path; `name` is the entry's name under the index's folder.
        """
        stored = self.pages.load(index_url, name, url) if self.pages is not None else None
        if self.network.offline:
            if stored is None:
                raise NetworkError(
                    f"the page {redact(url)} is not in the cache and --offline was given",
                    hint="run the command once without --offline to fill the cache")
            self._digested(index_url, name, _stored_identity(stored))
            self._found(stored.page, index_url, name, started, "cached, --offline")
            return stored.page
        if self.pages is None:
            response = self.client.get(url, headers={"Accept": accept}, allow_status=(200, 404))
            self._digested(index_url, name, _identity(response), (url, accept))
            return self._parse(response, index_url, name, started, "fetched")
        result = cached_get(self.client, url, headers={"Accept": accept},
                            stored=stored.policy if stored is not None else None,
                            refresh=refresh, allow_status=(200, 404))
        if result.fresh or result.not_modified:
            assert stored is not None
            if result.not_modified and result.policy is not None:
                self.pages.restore(index_url, name, result.policy, stored)
            self._digested(index_url, name, _stored_identity(stored))
            self._found(stored.page, index_url, name, started,
                        "cached, fresh" if result.fresh else "cached, revalidated")
            return stored.page
        assert result.response is not None
        digest = result.response.sha256()
        self._digested(index_url, name, _identity(result.response),
                       (url, accept) if result.plain else None)
        if (
            stored is not None
            and stored.body_sha256 == digest
            and result.response.status == 200
            and result.policy is not None
        ):
            # The same bytes as last time parse to the same files: skip parsing. The new
            # policy is worth storing only if it can ever make the entry fresh or
            # revalidatable; the files are re-stored as they are, undecoded.
            if _can_answer_later(result.policy.response_headers):
                self.pages.restore(index_url, name, result.policy, stored)
            self._found(stored.page, index_url, name, started, "refetched, unchanged")
            return stored.page
        files = self._parse(result.response, index_url, name, started,
                            "refetched" if stored is not None else "fetched")
        if result.policy is not None:
            self.pages.store(index_url, name, result.policy, files, digest)
        elif stored is not None:
            self.pages.remove(index_url, name)
        return files

    def _parse(self, response: Response, index_url: str, name: str, started: float,
               how: str) -> ProjectPage | None:
        if response.status == 404:
            self._found(None, index_url, name, started, how)
            return None
        # A find-links page lists many projects: nothing to group its files by.
        project = None if name == FIND_LINKS_ENTRY else name
        if response.content_type.endswith("json"):
            filenames, raws = split_json_page(response.body, response.url)
            page = ProjectPage.from_json(response.url, filenames, raws, index_url, project,
                                         partial(_malformed, response.url))
        else:
            base, rows = parse_rows(response.body, response.content_type, response.url)
            page = ProjectPage.from_rows(base, rows, index_url, project)
        self._found(page, index_url, name, started, how)
        return page

    @staticmethod
    def _found(files: ProjectPage | None, index_url: str, name: str, started: float,
               how: str) -> None:
        elapsed = (time.perf_counter() - started) * 1000
        if files is None:
            log.debug("No project page for %s on %s (%s, %.0f ms)", name, redact(index_url),
                      how, elapsed)
        else:
            log.debug("Found %d files for %s on %s (%s, %.0f ms)", files.count, name,
                      redact(index_url), how, elapsed)

    def _all_find_links(self) -> list[DistFile]:
        # Sequential on purpose: fanning out to the pool while holding the lock could
        # deadlock against pool threads waiting for it. There is rarely more than one.
        with self._find_links_lock:
            if self._find_links_files is None:
                self._find_links_files = [
                    f for location in self.find_links for f in self._find_links_location(location)
                ]
            return self._find_links_files

    def _find_links_location(self, location: str) -> list[DistFile]:
        """One find-links location; a remote HTML page goes through the page cache, so
        it is revalidated like a project page (and read from the cache `--offline`)."""
        if not is_remote_page(location):
            return find_links_files(location, self.client)
        page = self._fetch_cached(location, FIND_LINKS_ENTRY, location.split("#", 1)[0],
                                  FIND_LINKS_ACCEPT, self.network.refresh, time.perf_counter())
        if page is None:
            raise IndexError_(f"Find-links page {redact(location)} was not found (404)",
                              hint="check the --find-links URL")
        return page.files()


def _malformed(page_url: str, detail: str) -> NoReturn:
    """A file object of a fetched JSON page is not a file (found when its version is read)."""
    raise malformed_json_page(page_url, detail)


def _can_answer_later(headers: dict[str, str]) -> bool:
    """Whether a response carries freshness or validators (else it is always stale)."""
    control = headers.get("cache-control", "").lower()
    return (
        "max-age" in control
        or "etag" in headers
        or "last-modified" in headers
        or "expires" in headers
    )
