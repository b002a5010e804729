"""Project pages and metadata, fetched in the background before the solver asks.

The solver runs on one thread and asks for one thing at a time; waiting on each request
in turn is what makes naive resolvers slow. `PackageData` memoises every answer behind a
future: when a package is first seen, its page is fetched and the metadata of its most
likely candidate is fetched right after, on a thread pool, while the solver works on
other packages. The solver then usually finds the answer already there.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime

from packaging.version import Version

from wherry.index.models import DistFile
from wherry.output import trace
from wherry.platform.tags import TargetTags
from wherry.resolve.candidates import Candidate, ProjectVersions, build_versions
from wherry.resolve.metadata import CoreMetadata, parse_core_metadata


class PackageData:
    """Thread-safe, future-backed memo of project versions and candidate metadata."""

    def __init__(
        self,
        files_for: Callable[[str], list[DistFile]],
        fetch_metadata: Callable[[DistFile], bytes],
        tags: TargetTags,
        python_version: Version,
        *,
        workers: int = 16,
        exclude_newer: datetime | None = None,
    ) -> None:
        self._exclude_newer = exclude_newer
        self._files_for = files_for
        self._fetch_metadata = fetch_metadata
        self._tags = tags
        self._python_version = python_version
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="wherry-prefetch")
        self._lock = threading.Lock()
        self._versions: dict[str, Future[ProjectVersions]] = {}
        self._metadata: dict[str, Future[CoreMetadata]] = {}

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _versions_future(self, name: str, *, then_metadata: bool) -> Future[ProjectVersions]:
        with self._lock:
            future = self._versions.get(name)
            if future is None:
                future = self._pool.submit(self._load_versions, name, then_metadata)
                self._versions[name] = future
        return future

    def _load_versions(self, name: str, then_metadata: bool) -> ProjectVersions:
        files = self._files_for(name)
        project = build_versions(
            name, files, self._tags, self._python_version, exclude_newer=self._exclude_newer
        )
        trace("Found %d usable versions of %s", len(project.candidates), name)
        if then_metadata:
            likely = next(
                (c for c in project.ordered() if not c.version.is_prerelease), None
            )
            if likely is not None:
                self._metadata_future(likely)
        return project

    def _metadata_future(self, candidate: Candidate) -> Future[CoreMetadata]:
        key = candidate.wheel.url
        with self._lock:
            future = self._metadata.get(key)
            if future is None:
                future = self._pool.submit(self._load_metadata, candidate.wheel)
                self._metadata[key] = future
        return future

    def _load_metadata(self, file: DistFile) -> CoreMetadata:
        return parse_core_metadata(self._fetch_metadata(file))

    def prefetch(self, names: Iterable[str]) -> None:
        """Start fetching these projects' pages and their likely candidates' metadata."""
        for name in names:
            self._versions_future(name, then_metadata=True)

    def versions(self, name: str) -> ProjectVersions:
        return self._versions_future(name, then_metadata=False).result()

    def metadata(self, candidate: Candidate) -> CoreMetadata:
        return self._metadata_future(candidate).result()
