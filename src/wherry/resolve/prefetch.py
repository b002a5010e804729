"""Project pages and metadata, fetched in the background before the solver asks.

The solver runs on one thread and asks for one thing at a time; waiting on each request
in turn is what makes naive resolvers slow. `PackageData` memoises every answer behind a
future: when a package is first seen, its page is fetched and the metadata of the
candidate the solver will try first (`FirstChoice`) is fetched right after, on a thread
pool, while the solver works on other packages. The solver then usually finds the answer
already there.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from packaging.version import Version

from wherry.index.models import DistFile
from wherry.output import trace
from wherry.platform.tags import TargetTags
from wherry.resolve.candidates import BinaryPolicy, Candidate, ProjectVersions, build_versions
from wherry.resolve.metadata import CoreMetadata, parse_core_metadata


@dataclass(frozen=True)
class FirstChoice:
    """Which candidate the solver tries first for a project, so the prefetch fetches that
    one and not a version the solver will never ask about. Mirrors the provider's order
    (provider.WherryProvider._choose): an installed version the requirement allows needs
    nothing; a preferred pin (an existing `-o` file's) the requirement allows comes
    first; then the newest version, or the oldest under `--resolution lowest`, and under
    `lowest-direct` for root requirements only; pre-releases only where the pre-release
    mode allows them (`allow`, or a requirement naming one under `explicit` modes)."""

    resolution: str = "highest"
    roots: Container[str] = frozenset()
    preferences: Mapping[str, Version] = field(default_factory=dict)
    installed: Mapping[str, Version] = field(default_factory=dict)
    prerelease: str = "if-necessary-or-explicit"
    explicit_prereleases: Container[str] = frozenset()

    def lowest_first(self, name: str) -> bool:
        return self.resolution == "lowest" or (
            self.resolution == "lowest-direct" and name in self.roots)

    def candidate(self, project: ProjectVersions,
                  allowed: Container[Version] | None) -> Candidate | None:
        """The candidate whose metadata the solver will ask for first; None when it
        will ask for none (an installed version fits) or the answer is unclear."""
        name = project.name

        def fits(version: Version) -> bool:
            return allowed is None or version in allowed

        installed = self.installed.get(name)
        if installed is not None and fits(installed):
            return None
        allow_pre = self.prerelease == "allow" or (
            self.prerelease in ("explicit", "if-necessary-or-explicit")
            and name in self.explicit_prereleases)
        preferred = self.preferences.get(name)
        if preferred is not None and fits(preferred) and (
                allow_pre or not preferred.is_prerelease or self.prerelease != "disallow"):
            found = project.candidates.get(preferred)
            if found is not None:
                return found
        ordered = project.ordered()
        if self.lowest_first(name):
            ordered = ordered[::-1]
        for candidate in ordered:
            version = candidate.version
            if (allow_pre or not version.is_prerelease) and fits(version):
                return candidate
        return None


class PackageData:
    """Thread-safe, future-backed memo of project versions and candidate metadata."""

    def __init__(
        self,
        files_for: Callable[[str], Sequence[DistFile]],
        fetch_metadata: Callable[[DistFile], bytes],
        tags: TargetTags,
        python_version: Version,
        *,
        workers: int = 16,
        exclude_newer: datetime | None = None,
        first_match: bool = False,
        direct: Mapping[str, tuple[Candidate, CoreMetadata]] | None = None,
        policy: BinaryPolicy | None = None,
        first_choice: FirstChoice | None = None,
    ) -> None:
        self._first_choice = first_choice or FirstChoice()
        # Direct references (`name @ URL`, paths, `-e`): each is the only version of its
        # name, with metadata the command layer already read or built.
        self._direct = dict(direct or {})
        self._policy = None if policy is None or policy.is_default else policy
        self._first_match = first_match
        self._exclude_newer = exclude_newer
        self._files_for = files_for
        self._fetch_metadata = fetch_metadata
        self._tags = tags
        self._python_version = python_version
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="wherry-prefetch")
        self._lock = threading.Lock()
        self._versions: dict[str, Future[ProjectVersions]] = {}
        self._metadata: dict[str, Future[CoreMetadata]] = {}
        self._likely: set[tuple[str, Container[Version] | None]] = set()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _versions_future(self, name: str) -> Future[ProjectVersions]:
        with self._lock:
            future = self._versions.get(name)
            if future is None:
                future = self._pool.submit(self._load_versions, name)
                self._versions[name] = future
        return future

    def _load_versions(self, name: str) -> ProjectVersions:
        direct = self._direct.get(name)
        if direct is not None:
            candidate = direct[0]
            return ProjectVersions.of(name, [candidate])
        files = self._files_for(name)
        project = build_versions(
            name, files, self._tags, self._python_version, exclude_newer=self._exclude_newer,
            first_match=self._first_match, policy=self._policy,
        )
        # Not `len(project.candidates)`: that would decide every version (candidates.py).
        trace("Found %d versions of %s", len(project.all_versions()), name)
        return project

    def _fetch_likely(
        self, allowed: Container[Version] | None, builds: bool, future: Future[ProjectVersions]
    ) -> None:
        """Once a page is in, fetch the metadata of the candidate the solver will try
        first (`FirstChoice`: the newest stable version the requirement allows, unless a
        resolution mode, a preference or an installed version says otherwise). Runs as a
        done callback, so no pool thread ever blocks waiting for another.

        A candidate that needs a build (an sdist) gets its metadata built ahead only when
        `builds` says so: for root requirements, whose likely candidate the solver is all
        but certain to ask about, so their builds run side by side instead of one after
        another. Deeper down a build costs seconds and may never be needed."""
        if future.cancelled() or future.exception() is not None:
            return
        candidate = self._first_choice.candidate(future.result(), allowed)
        if candidate is None or (candidate.needs_build and not builds):
            return
        with contextlib.suppress(RuntimeError):  # the pool is shut down: done
            self._metadata_future(candidate)

    def _metadata_future(self, candidate: Candidate) -> Future[CoreMetadata]:
        key = candidate.wheel.url
        if candidate.direct is not None:
            done: Future[CoreMetadata] = Future()
            done.set_result(self._direct[candidate.name][1])
            return done
        with self._lock:
            future = self._metadata.get(key)
            if future is None:
                future = self._pool.submit(self._load_metadata, candidate.wheel)
                self._metadata[key] = future
        return future

    def _load_metadata(self, file: DistFile) -> CoreMetadata:
        return parse_core_metadata(self._fetch_metadata(file))

    def prefetch(self, wanted: Iterable[tuple[str, Container[Version] | None]],
                 *, builds: bool = False) -> None:
        """Start fetching projects' pages and their likely candidates' metadata.

        Each item names a project and the versions its requirement allows (None: any),
        so a pinned `foo==1.2` prefetches the metadata of 1.2, not of the newest `foo`.
        With `builds`, a likely candidate that is an sdist has its metadata built too.
        """
        for name, allowed in wanted:
            with self._lock:
                if (name, allowed) in self._likely:
                    continue
                self._likely.add((name, allowed))
            self._versions_future(name).add_done_callback(
                partial(self._fetch_likely, allowed, builds))

    def prefetch_metadata(self, candidates: Iterable[Candidate]) -> None:
        """Start fetching these candidates' metadata (the solver is walking back through a
        project's versions and will likely ask for them one after another)."""
        with contextlib.suppress(RuntimeError):  # the pool is shut down: done
            for candidate in candidates:
                if not candidate.needs_build:  # builds only when the solver asks
                    self._metadata_future(candidate)

    def versions(self, name: str) -> ProjectVersions:
        return self._versions_future(name).result()

    def metadata(self, candidate: Candidate) -> CoreMetadata:
        return self._metadata_future(candidate).result()
