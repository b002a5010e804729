"""Universal resolution (`pip compile --universal`): one answer for every platform and
every Python version from a floor up, with markers saying where each pin applies.

As uv does it: a dependency is kept whenever its marker *can* hold (marker_algebra.py
decides), wheels of any platform count, and a file's Requires-Python must admit the
lowest Python of the region. When one package asks for another with markers that are
disjoint and specifiers that differ (`numpy>=2; python_version >= '3.10'` and
`numpy<2; python_version < '3.10'`), no single version may serve both, so the region
forks in two along that marker and each part is resolved on its own, later parts
preferring the versions earlier ones chose. A requirement by URL and one by version (or
another URL) differ the same way, and a fork uses a requested direct reference only
where the marker of a requirement naming its URL can hold. Each pinned package's marker
is then where it is reachable: the union over paths from the requirements of the
conjunction of the markers along the path, within its fork.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from wherry.errors import ResolutionError
from wherry.index.models import DistFile
from wherry.output import log
from wherry.platform.tags import TargetTags
from wherry.requirements.parse import SourcedRequirement
from wherry.resolve.candidates import BinaryPolicy, Candidate
from wherry.resolve.marker_algebra import PYTHON, MarkerSet, _interval, from_marker
from wherry.resolve.metadata import CoreMetadata
from wherry.resolve.provider import InstalledPreference, split_extra
from wherry.resolve.resolution import Resolution, resolve
from wherry.resolve.url_dependencies import UrlKey, url_key

MAX_FORKS = 256


class AnyPlatformTags(TargetTags):
    """Accepts the wheel of every platform: a universal resolution serves them all."""

    def __init__(self) -> None:
        super().__init__([])

    def _rank_of_triple(self, python: str, abi: str, platform: str) -> int | None:
        # Pure-Python wheels first, so metadata comes from the most generic file.
        return 0 if platform == "any" else 1

    def describe(self, limit: int = 3) -> str:
        return "any platform (universal resolution)"


@dataclass
class UniversalPin:
    """One line of the output: a version of a package and where it applies."""

    name: str
    pin: Candidate | InstalledPreference
    marker: MarkerSet
    extras: set[str] = field(default_factory=set)
    dependents: set[str] = field(default_factory=set)

    @property
    def version(self) -> Version:
        return self.pin.version


@dataclass
class UniversalResolution:
    pins: list[UniversalPin]
    base: MarkerSet
    forks: int
    versions_tried: int

    def marker_text(self, pin: UniversalPin) -> str | None:
        return pin.marker.render(self.base)


class _ForkNeeded(Exception):
    def __init__(self, marker: MarkerSet, reason: str) -> None:
        super().__init__(reason)
        self.marker = marker
        self.reason = reason


class _Markers:
    """`from_marker` memoised: the same few markers are converted thousands of times."""

    def __init__(self) -> None:
        self._memo: dict[tuple[str, frozenset[str]], MarkerSet] = {}

    def of(self, marker: Marker | None, extras: frozenset[str] = frozenset()) -> MarkerSet:
        if marker is None:
            return MarkerSet.true()
        key = (str(marker), extras)
        found = self._memo.get(key)
        if found is None:
            found = self._memo[key] = from_marker(marker, extras)
        return found


def _extras_of(extra: str) -> frozenset[str]:
    return frozenset({extra}) if extra else frozenset()


def _floor(python_floor: Version) -> MarkerSet:
    """Every environment a universal resolution serves: Python >= the floor."""
    return MarkerSet.atom(PYTHON, _interval(python_floor, True, None, False))


def possible_anywhere(python_floor: Version) -> Callable[[Marker, str], bool]:
    """Whether a marker (with an extra requested, or "") can hold in some environment
    the resolution serves: which direct references a universal resolution needs."""
    base = _floor(python_floor)
    markers = _Markers()
    return lambda marker, extra: not (base & markers.of(marker, _extras_of(extra))).is_empty


def _url_regions(
    direct: Mapping[str, tuple[Candidate, CoreMetadata]],
    kinds: Sequence[Sequence[SourcedRequirement]], markers: _Markers,
) -> dict[str, MarkerSet]:
    """Where the request names each direct reference: the union of the markers of the
    requirements, constraints and overrides that give its URL. References the request
    does not name (URL dependencies of direct references) are left out: they apply
    wherever their parent is reached."""
    regions: dict[str, MarkerSet] = {}
    for items in kinds:
        for item in items:
            requirement = item.requirement
            name = str(canonicalize_name(requirement.name))
            if requirement.url and name in direct:
                region = markers.of(requirement.marker)
                regions[name] = regions[name] | region if name in regions else region
    return regions


#: A requirement noted for the fork check: itself, where it holds, `_requirement_key`.
_Noted = tuple[Requirement, MarkerSet, tuple[str, UrlKey | None]]


def _requirement_key(requirement: Requirement) -> tuple[str, UrlKey | None]:
    """What makes two requirements on one name ask for different things: the specifier,
    or the reference a URL names."""
    url = requirement.url
    return str(requirement.specifier), None if not url else url_key(url)


@dataclass
class _Fork:
    env: MarkerSet
    resolution: Resolution
    edges: dict[tuple[str, Version], list[tuple[str, MarkerSet]]]


def resolve_universal(
    requirements: Sequence[SourcedRequirement],
    *,
    python_floor: Version,
    files_for: Callable[[str], list[DistFile]],
    fetch_metadata: Callable[[DistFile], bytes],
    constraints: Sequence[SourcedRequirement] = (),
    overrides: Sequence[SourcedRequirement] = (),
    excludes: Collection[str] = (),
    prerelease: str = "if-necessary-or-explicit",
    resolution: str = "highest",
    preferences: Mapping[str, Version] | None = None,
    no_deps: bool = False,
    indexes_description: str = "the package index",
    exclude_newer: datetime | None = None,
    first_match: bool = False,
    other_index: Callable[[str], str | None] | None = None,
    direct: Mapping[str, tuple[Candidate, CoreMetadata]] | None = None,
    policy: BinaryPolicy | None = None,
) -> UniversalResolution:
    """Resolve for every environment with Python >= `python_floor`; see the module doc."""
    base = _floor(python_floor)
    markers = _Markers()
    regions = _url_regions(direct or {}, (requirements, constraints, overrides), markers)
    tags = AnyPlatformTags()
    pending = [base]
    done: list[_Fork] = []
    preferred = dict(preferences or {})
    python_bounds = _PythonBounds(files_for)
    tried = 0
    while pending:
        env = pending.pop(0)
        try:
            _check_root_forks(requirements, env, markers)
            fork = _resolve_fork(
                requirements, env, markers, tags, python_floor, preferred, python_bounds,
                files_for=files_for, fetch_metadata=fetch_metadata, constraints=constraints,
                overrides=overrides, excludes=excludes, prerelease=prerelease,
                resolution=resolution, no_deps=no_deps,
                indexes_description=indexes_description, exclude_newer=exclude_newer,
                first_match=first_match, other_index=other_index, policy=policy,
                direct={name: made for name, made in (direct or {}).items()
                        if name not in regions or not (env & regions[name]).is_empty},
            )
        except _ForkNeeded as split:
            parts = [env & split.marker, env & ~split.marker]
            parts = [part for part in parts if not part.is_empty]
            log.debug("Splitting the resolution (%s): %s", split.reason,
                      " | ".join(p.render(base) or "everywhere" for p in parts))
            pending[0:0] = parts
            if len(done) + len(pending) > MAX_FORKS:
                raise ResolutionError(
                    f"the universal resolution needs more than {MAX_FORKS} forks",
                    hint="narrow the requirements with markers, or resolve for one target "
                    "without --universal",
                ) from None
            continue
        except ResolutionError as exc:
            where = env.render(base)
            if where is not None:
                exc.message = exc.message.replace(
                    "no solution found when resolving dependencies:",
                    f"no solution found when resolving dependencies for {where}:", 1)
            raise
        tried += fork.resolution.versions_tried
        done.append(fork)
        for name, pin in fork.resolution.pins.items():
            preferred.setdefault(name, pin.version)
    return UniversalResolution(_merge(done, requirements, markers), base, len(done), tried)


def _check_root_forks(
    requirements: Sequence[SourcedRequirement], env: MarkerSet, markers: _Markers
) -> None:
    seen: dict[str, list[_Noted]] = {}
    for item in requirements:
        requirement = item.requirement
        marker = env & markers.of(requirement.marker)
        if marker.is_empty:
            continue
        _note(seen, str(canonicalize_name(requirement.name)), requirement, marker,
              "requirements")


def _note(
    seen: dict[str, list[_Noted]], name: str,
    requirement: Requirement, marker: MarkerSet, where: str,
) -> None:
    """Remember a requirement on `name`; fork when an earlier one differs in specifier
    and holds in a disjoint set of environments."""
    key = _requirement_key(requirement)
    for other, other_marker, other_key in seen.get(name, []):
        if other_key != key and marker.is_disjoint(other_marker):
            raise _ForkNeeded(marker, f"{where} ask for `{other}` and `{requirement}`")
    seen.setdefault(name, []).append((requirement, marker, key))


def _resolve_fork(
    requirements: Sequence[SourcedRequirement], env: MarkerSet, markers: _Markers,
    tags: TargetTags, python_floor: Version, preferred: Mapping[str, Version],
    python_bounds: _PythonBounds, **kwargs: object,
) -> _Fork:
    edges: dict[tuple[str, Version], list[tuple[str, MarkerSet]]] = {}
    by_parent: dict[tuple[str, Version], dict[str, list[_Noted]]] = {}

    def possible(marker: Marker, extra: str) -> bool:
        return not (env & markers.of(marker, _extras_of(extra))).is_empty

    def on_edge(package: str, version: Version, requirement: Requirement,
                written: Marker | None) -> None:
        extra = split_extra(package)[1] or ""
        marker = markers.of(written, _extras_of(extra))
        if requirement.marker is not written:  # an override: both markers apply
            marker = marker & markers.of(requirement.marker)
        marker = marker & env
        if marker.is_empty:
            return
        name = str(canonicalize_name(requirement.name))
        _note(by_parent.setdefault((package, version), {}), name, requirement, marker,
              f"{package} {version}'s dependencies")
        targets = [name] + [f"{name}[{canonicalize_name(e)}]" for e in sorted(
            requirement.extras)]
        for target in targets:
            edges.setdefault((package, version), []).append((target, marker))

    lowest = env.python_lower_bound(python_floor)

    def on_choice(package: str, version_range: Any, chosen: Version) -> None:
        """uv's `requires-python` fork strategy: when a newer version in range needs a
        newer Python than this region's lowest, split the region there, so the Pythons
        that can run it get it."""
        name = split_extra(package)[0]
        for bound in python_bounds.newer_needs(name, version_range, chosen, lowest):
            above = MarkerSet.atom(PYTHON, _interval(bound, True, None, False))
            if not (env & above).is_empty and not (env & ~above).is_empty:
                raise _ForkNeeded(above, f"a newer {package} requires Python >={bound}")

    result = resolve(
        requirements, tags=tags, markers={}, python_version=lowest,
        preferences=preferred, marker_possible=possible, on_edge=on_edge,
        on_choice=on_choice,
        **kwargs,  # type: ignore[arg-type]
    )
    return _Fork(env, result, edges)


class _PythonBounds:
    """Per project, each version's lowest supported Python (from its files'
    Requires-Python; None when some file has none), newest version first."""

    def __init__(self, files_for: Callable[[str], list[DistFile]]) -> None:
        self._files_for = files_for
        self._table: dict[str, list[tuple[Version, Version | None]]] = {}

    def _entries(self, name: str) -> list[tuple[Version, Version | None]]:
        table = self._table.get(name)
        if table is None:
            bounds: dict[Version, Version | None] = {}
            for file in self._files_for(name):
                version = file_version(file, name)
                if version is None:
                    continue
                bound = _python_lower_bound(file.requires_python)
                if version not in bounds:
                    bounds[version] = bound
                else:
                    current = bounds[version]
                    bounds[version] = None if current is None or bound is None else min(
                        current, bound)
            table = self._table[name] = sorted(bounds.items(), reverse=True)
        return table

    def newer_needs(self, name: str, version_range: Any, chosen: Version,
                    lowest: Version) -> Iterator[Version]:
        """The Python lower bounds of the versions above `chosen` in range that only
        newer Pythons than `lowest` can use, newest version first."""
        for version, bound in self._entries(name):
            if version <= chosen:
                return
            if version.is_prerelease and not chosen.is_prerelease:
                continue
            if version in version_range and bound is not None and bound > lowest:
                yield bound


def file_version(file: DistFile, name: str) -> Version | None:
    """The version a wheel or sdist filename carries, if it names project `name`."""
    from packaging.utils import (
        InvalidSdistFilename,
        InvalidWheelFilename,
        parse_sdist_filename,
        parse_wheel_filename,
    )

    try:
        if file.is_wheel:
            wheel_name, version, _build, _tags = parse_wheel_filename(file.filename)
            return version if wheel_name == name else None
        sdist_name, version = parse_sdist_filename(file.filename)
        return version if sdist_name == name else None
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None


@lru_cache(maxsize=4096)
def _python_lower_bound(requires_python: str | None) -> Version | None:
    """`>=3.10` -> 3.10; None when the file admits every Python or the value is bad."""
    if not requires_python:
        return None
    from wherry.resolve.ranges import PubGrubRange

    try:
        allowed = PubGrubRange.from_specifier(requires_python)
    except ValueError:
        return None
    if not allowed._bounds:
        return None
    low = allowed._bounds[0][0].version
    return low if isinstance(low, Version) else None


def _merge(
    forks: list[_Fork], requirements: Sequence[SourcedRequirement], markers: _Markers
) -> list[UniversalPin]:
    merged: dict[tuple[str, Version], UniversalPin] = {}
    for fork in forks:
        reach = _reach(fork, requirements, markers)
        resolution = fork.resolution
        for name, pin in resolution.pins.items():
            marker = reach.get(name, MarkerSet.false())
            for extra in resolution.extras.get(name, ()):
                marker = marker | reach.get(f"{name}[{extra}]", MarkerSet.false())
            if marker.is_empty:
                continue
            key = (name, pin.version)
            entry = merged.get(key)
            if entry is None:
                entry = merged[key] = UniversalPin(name, pin, marker)
            else:
                entry.marker = entry.marker | marker
            entry.extras |= resolution.extras.get(name, set())
            entry.dependents |= resolution.dependents.get(name, set())
    return sorted(merged.values(), key=lambda p: (p.name, p.version))


def _reach(
    fork: _Fork, requirements: Sequence[SourcedRequirement], markers: _Markers
) -> dict[str, MarkerSet]:
    """Where each package of one fork is needed: a fixpoint over the dependency graph."""
    resolution = fork.resolution
    versions: dict[str, Version] = {name: pin.version for name, pin in resolution.pins.items()}
    for name, extras in resolution.extras.items():
        for extra_name in extras:
            versions[f"{name}[{extra_name}]"] = versions[name]
    reach: dict[str, MarkerSet] = {}
    queue: list[str] = []

    def widen(node: str, marker: MarkerSet) -> None:
        if node not in versions or marker.is_empty:
            return
        current = reach.get(node)
        if current is not None and marker.is_subset(current):
            return
        reach[node] = marker if current is None else current | marker
        queue.append(node)

    for item in requirements:
        requirement = item.requirement
        marker = fork.env & markers.of(requirement.marker)
        name = str(canonicalize_name(requirement.name))
        widen(name, marker)
        for wanted in requirement.extras:
            widen(f"{name}[{canonicalize_name(wanted)}]", marker)
    while queue:
        node = queue.pop()
        here = reach[node]
        base_name, extra = split_extra(node)
        if extra is not None:
            widen(base_name, here)
        for target, marker in fork.edges.get((node, versions[node]), []):
            widen(target, here & marker)
    return reach
