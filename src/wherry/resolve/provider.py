"""The PubGrub provider: Python packaging rules on top of nab-resolver.

Packages are canonical project names; `name[extra]` is a virtual package pinned to its
base (so extras never pick a different version), and `Python` is a virtual package whose
only version is the target's, so a Requires-Python in metadata becomes an ordinary
dependency that the solver can explain. Network work never happens on the solver's
critical path when it can be started earlier: see prefetch.py.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Container, Iterator, Mapping
from functools import lru_cache
from typing import Any

import msgspec
from nab_resolver.resolver import BaseProvider
from packaging.markers import Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from wherry.output import log
from wherry.resolve.candidates import Candidate, ProjectVersions
from wherry.resolve.metadata import CoreMetadata
from wherry.resolve.ranges import PubGrubRange
from wherry.resolve.url_dependencies import RootUrls, check_url_dependency

PYTHON = "Python"


@lru_cache(maxsize=8192)
def parse_dependency(text: str) -> Requirement | None:
    """A Requires-Dist entry; None for one packaging cannot parse (pip skips those too)."""
    try:
        return Requirement(text)
    except InvalidRequirement:
        return None


#: Names of the pseudo-packages standing for "this version's metadata is invalid": one
#: per such version, never with any version, so the solver rules the version out (as pip
#: and uv do: "Ignoring version 2 of a since it has invalid metadata") and explains why.
INVALID = "<invalid metadata>"


def invalid_requirement(text: str) -> str | None:
    """Why a Requires-Dist entry is not a requirement (its first line), or None."""
    try:
        Requirement(text)
    except InvalidRequirement as exc:
        return str(exc).splitlines()[0] if str(exc) else "unparsable"
    return None


def invalid_package(name: str, version: Version, why: str) -> str:
    return f"{INVALID} {name}=={version} ({why})"


def allows_prereleases(mode: str, name: str, explicit: Container[str]) -> bool:
    """Whether `--prerelease MODE` lets `name`'s pre-releases be chosen wherever a
    requirement admits them (`explicit`: the names a requirement spelled one for)."""
    return mode == "allow" or (
        mode in ("explicit", "if-necessary-or-explicit") and name in explicit)


def tries_lowest_first(resolution: str, name: str, roots: Container[str]) -> bool:
    """Whether `--resolution` makes the solver try `name`'s oldest version first."""
    return resolution == "lowest" or (resolution == "lowest-direct" and name in roots)


def in_solver_order(project: ProjectVersions, lowest_first: bool) -> Iterator[Candidate]:
    """`project`'s usable candidates in the order the solver tries them, lazily."""
    return project.oldest_first() if lowest_first else iter(project.ordered())


def split_extra(package: str) -> tuple[str, str | None]:
    """`foo[bar]` -> (`foo`, `bar`); `foo` -> (`foo`, None)."""
    if package.endswith("]") and "[" in package:
        base, _, extra = package[:-1].partition("[")
        return base, extra
    return package, None


class InstalledPreference(msgspec.Struct):
    """An installed distribution the resolver should keep when the request allows it."""

    version: Version
    metadata: CoreMetadata


#: `--prerelease` modes (uv's names); the default allows a pre-release of a package when
#: a requirement on it names one, or when no stable version fits.
PRERELEASE_MODES = ("disallow", "allow", "if-necessary", "explicit", "if-necessary-or-explicit")
#: `--resolution` modes: newest versions, oldest versions, oldest for direct requirements.
RESOLUTION_MODES = ("highest", "lowest", "lowest-direct")


def names_prerelease(requirement: Requirement) -> bool:
    """Whether a requirement's specifier names a pre-release (`>=2.0b1`, `==1.0rc1`): an
    explicit request for pre-releases of that project (`!=` excludes, so never counts)."""
    for specifier in requirement.specifier:
        if specifier.operator == "!=":
            continue
        text = specifier.version.removesuffix(".*")
        try:
            if Version(text).is_prerelease:
                return True
        except ValueError:
            continue  # `===` arbitrary strings
    return False


class ProviderConfig(msgspec.Struct):
    markers: dict[str, str]
    python_version: Version
    explicit_prereleases: set[str] = msgspec.field(default_factory=set)
    pinned: dict[str, set[Version]] = msgspec.field(default_factory=dict)
    installed: dict[str, InstalledPreference] = msgspec.field(default_factory=dict)
    no_deps: bool = False
    prerelease: str = "if-necessary-or-explicit"
    resolution: str = "highest"
    # Root requirement names (`--resolution lowest-direct` picks their lowest versions).
    direct: set[str] = msgspec.field(default_factory=set)
    # Versions to keep when the request allows them (pins of an existing `-o` file).
    preferences: dict[str, Version] = msgspec.field(default_factory=dict)
    # `--override`: canonical name -> the requirements that replace every requirement on
    # it, root or transitive (already filtered by the target's markers).
    overrides: dict[str, list[Requirement]] = msgspec.field(default_factory=dict)
    # `--exclude`: names dropped from the resolution, with every requirement on them.
    excludes: frozenset[str] = frozenset()
    # Universal resolution (resolve/universal.py): whether a marker can hold in the
    # region being resolved (given the extra), instead of evaluating it for one target;
    # and a callback seeing every dependency edge with the marker it was written with.
    marker_possible: Callable[[Marker, str], bool] | None = None
    on_edge: Callable[[str, Version, Requirement, Marker | None], None] | None = None
    # Universal resolution: sees every version chosen (it may split the Python range so
    # that newer Pythons get newer versions, uv's `requires-python` fork strategy).
    on_choice: Callable[[str, Any, Version], None] | None = None
    # The URLs a dependency's `x @ URL` may name (the request's, and those of direct
    # references' own URL dependencies): any other fails the resolution instead of being
    # taken from the index by name (url_dependencies.py).
    root_urls: RootUrls = msgspec.field(default_factory=RootUrls)


def dependency_requirements(
    config: ProviderConfig, metadata: CoreMetadata, extra: str | None,
) -> Iterator[tuple[str, Requirement, Requirement]]:
    """The Requires-Dist entries of a distribution (or, with `extra`, those only that
    extra adds) that hold for the target, after `--exclude` and `--override`: (canonical
    name, the requirement as written, the one in effect). Reads `config`, never changes
    it, so the prefetch can read dependencies ahead with it from its own threads."""
    possible = config.marker_possible
    environment = dict(config.markers)

    def applies(marker: Marker, extra_name: str) -> bool:
        if possible is not None:
            return possible(marker, extra_name)
        environment["extra"] = extra_name
        return bool(marker.evaluate(environment))

    for text in metadata.requires_dist:
        requirement = parse_dependency(text)
        if requirement is None:
            continue
        if requirement.marker is not None:
            if not applies(requirement.marker, extra or ""):
                continue
            if extra is not None and applies(requirement.marker, ""):
                continue  # a base dependency: the base package carries it
        elif extra is not None:
            continue
        dep_name = str(canonicalize_name(requirement.name))
        if dep_name in config.excludes:
            continue
        replacements = config.overrides.get(dep_name)
        for effective in (requirement,) if replacements is None else replacements:
            yield dep_name, requirement, effective


class WherryProvider(BaseProvider[str, Version]):
    """Answers the solver's questions from the index (via callbacks) and the environment."""

    def __init__(
        self,
        config: ProviderConfig,
        versions_of: Callable[[str], ProjectVersions],
        metadata_of: Callable[[Candidate], CoreMetadata],
        on_new_packages: Callable[[list[tuple[str, PubGrubRange]]], None] = lambda new: None,
        prefetch_metadata: Callable[[list[Candidate]], None] = lambda batch: None,
    ) -> None:
        self.config = config
        self.prefetch_metadata = prefetch_metadata
        self.versions_of = versions_of
        self.metadata_of = metadata_of
        self.on_new_packages = on_new_packages
        self.order: dict[str, int] = {}
        self.tried: dict[str, int] = {}
        self._dependencies: dict[tuple[str, Version], dict[str, PubGrubRange]] = {}
        self._known: dict[str, list[Version]] = {}

    # -- choosing -------------------------------------------------------------------------
    def _choose(self, package: str, version_range: Any) -> Version | None:
        if package == PYTHON:
            version = self.config.python_version
            return version if version in version_range else None
        if package.startswith(INVALID):
            return None
        name, _extra = split_extra(package)
        config = self.config
        installed = config.installed.get(name)
        if installed is not None and installed.version in version_range:
            return installed.version
        project = self.versions_of(name)
        mode = config.prerelease
        allow_pre = allows_prereleases(mode, name, config.explicit_prereleases)
        preferred = config.preferences.get(name)
        if (
            preferred is not None
            and preferred in version_range
            and preferred in project.candidates
            and (allow_pre or not preferred.is_prerelease or mode != "disallow")
        ):
            return preferred
        lowest_first = tries_lowest_first(config.resolution, name, config.direct)
        for candidate in in_solver_order(project, lowest_first):
            version = candidate.version
            if (allow_pre or not version.is_prerelease) and version in version_range:
                return version
        pinned = config.pinned.get(name)
        if pinned:
            for version in sorted(project.yanked, reverse=True):
                if version in pinned and version in version_range:
                    return version
        # Pre-releases when nothing stable fits (uv's "if-necessary", part of the default).
        if not allow_pre and mode in ("if-necessary", "if-necessary-or-explicit"):
            for candidate in in_solver_order(project, lowest_first):
                if candidate.version.is_prerelease and candidate.version in version_range:
                    return candidate.version
        return None

    def prereleases_allowed(self, name: str) -> bool:
        """Whether the pre-release policy let the solver choose `name`'s pre-releases
        wherever a requirement admitted them (for the "pre-releases exist" hint)."""
        return allows_prereleases(self.config.prerelease, name,
                                  self.config.explicit_prereleases)

    def choose_version(self, package: str, version_range: Any) -> Version | None:
        tried = self.tried.get(package, 0) + 1
        self.tried[package] = tried
        chosen = self._choose(package, version_range)
        if chosen is not None and tried >= 5 and (tried in (5, 10) or tried % 20 == 0):
            self._prefetch_older(package, chosen, min(tried, 50))
        if chosen is not None and self.config.on_choice is not None and package != PYTHON:
            self.config.on_choice(package, version_range, chosen)
        return chosen

    def _prefetch_older(self, package: str, chosen: Version, count: int) -> None:
        """The solver is walking back through `package`'s versions: fetch the metadata of
        the next `count` candidates it would try (uv's batch prefetch), so each step back
        finds its answer already there instead of waiting on one request at a time."""
        name, _extra = split_extra(package)
        if name in self.config.installed or package == PYTHON:
            return
        project = self.versions_of(name)
        lowest_first = tries_lowest_first(self.config.resolution, name, self.config.direct)
        # Lazily, and only as far as the batch reaches: deciding every version of a
        # project with thousands (each decoding its files) was a third of a cold
        # resolution's CPU when it walked back through boto3 and botocore.
        # Not limited to the current range: when two packages walk back together, each
        # one's range ends where the other's current version puts it, and moves with it;
        # limited to the range, one of them fetched one version per round trip
        # (benchmarks/backtracking.py at 50 ms: gap 6.5 s -> 2.0 s, deep 18.5 s -> 5.1 s).
        batch: list[Candidate] = []
        for candidate in in_solver_order(project, lowest_first):
            if candidate.version > chosen if lowest_first else candidate.version < chosen:
                batch.append(candidate)
                if len(batch) == count:
                    break
        if batch:
            self.prefetch_metadata(batch)

    def has_satisfying_version(self, package: str, version_range: Any) -> bool:
        return self._choose(package, version_range) is not None

    def candidate(self, name: str, version: Version) -> Candidate | InstalledPreference:
        installed = self.config.installed.get(name)
        if installed is not None and installed.version == version:
            return installed
        project = self.versions_of(name)
        found = project.candidates.get(version) or project.yanked.get(version)
        if found is None:  # pragma: no cover - the solver only asks about chosen versions
            raise KeyError(f"{name}=={version}")
        return found

    # -- dependencies ---------------------------------------------------------------------
    def get_dependencies(self, package: str, version: Version) -> Mapping[str, PubGrubRange]:
        key = (package, version)
        cached = self._dependencies.get(key)
        if cached is not None:
            return cached
        if package == PYTHON:
            result: dict[str, PubGrubRange] = {}
        else:
            result = self._compute_dependencies(package, version)
        self._dependencies[key] = result
        new = [
            (split_extra(p)[0], allowed)
            for p, allowed in result.items()
            if p != PYTHON and not p.startswith(INVALID) and p not in self.order
        ]
        for dependency in result:
            self.order.setdefault(dependency, len(self.order))
        if new:
            self.on_new_packages(new)
        return result

    def _compute_dependencies(self, package: str, version: Version) -> dict[str, PubGrubRange]:
        name, extra = split_extra(package)
        chosen = self.candidate(name, version)
        metadata = chosen.metadata if isinstance(chosen, InstalledPreference) else (
            self.metadata_of(chosen)
        )
        result: dict[str, PubGrubRange] = {}
        if extra is not None:
            result[name] = PubGrubRange.singleton(version)
        elif metadata.requires_python:
            result[PYTHON] = PubGrubRange.from_specifier(metadata.requires_python)
        if self.config.no_deps:
            return result
        for text in metadata.requires_dist:
            # `parse_dependency` is memoised (the prefetch has usually parsed these
            # already); only an entry it rejects is parsed again, for the reason.
            why = invalid_requirement(text) if parse_dependency(text) is None else None
            if why is not None:  # this version cannot be used at all
                log.debug("Ignoring %s==%s: it has invalid metadata (Requires-Dist %r: %s)",
                          name, version, text, why)
                return {invalid_package(name, version, f"Requires-Dist {text!r}: {why}"):
                        PubGrubRange.full()}
        on_edge = self.config.on_edge
        for dep_name, written, effective in dependency_requirements(
                self.config, metadata, extra):
            if effective.url:
                check_url_dependency(self.config.root_urls, name, version, dep_name,
                                     effective)
            if on_edge is not None:
                on_edge(package, version, effective, written.marker)
            self._add_dependency(result, package, name, dep_name, effective)
        return result

    def _add_dependency(
        self, result: dict[str, PubGrubRange], package: str, name: str, dep_name: str,
        requirement: Requirement,
    ) -> None:
        if dep_name == name and not requirement.extras:
            return
        if requirement.specifier and names_prerelease(requirement):
            self.config.explicit_prereleases.add(dep_name)
        dep_range = PubGrubRange.from_specifier(requirement.specifier)
        targets = [dep_name] + [
            f"{dep_name}[{canonicalize_name(e)}]" for e in sorted(requirement.extras)
        ]
        for target in targets:
            if target == package:
                continue
            existing = result.get(target)
            result[target] = dep_range if existing is None else existing & dep_range

    # -- ordering -------------------------------------------------------------------------
    def prioritize(
        self,
        package: str,
        version_range: Any,
        conflict_counts: Mapping[str, int],
        culprit_counts: Mapping[str, int] | None = None,
    ) -> Any:
        if package == PYTHON:
            return (0, 0, 0, "")
        # A package whose decisions keep being discarded is decided earlier (its count
        # lowers the key), so what constrains it is settled before the packages it
        # pulls in. Deciding it *later* instead (one reading of uv's conflict tracking)
        # solves the synthetic two-package walk in benchmarks/backtracking.py 4x faster
        # but sent the 110-package benchmark through every boto3/botocore release (10x
        # slower), so this order stays.
        pinned = 0 if version_range.is_single_version() else 1
        return (1, -conflict_counts.get(package, 0), pinned, self.order.get(package, 0), package)

    def widen_decision(self, package: str, version: Version) -> PubGrubRange | None:
        """`version` widened to the gap between its neighbouring known versions.

        When the solver walks back through a project's versions, each rejected version
        otherwise leaves a one-version hole in the range, and every later range
        operation pays for all the holes (the walk costs N^3). No version inside the gap
        other than `version` can ever be chosen (the index lists no other, and installed
        and preferred versions count as listed), so nab-resolver's contract holds and
        adjacent rejections merge into one interval.
        """
        if package == PYTHON:
            return None
        name, _extra = split_extra(package)
        known = self._known_versions(name)
        at = bisect_left(known, version)
        if at >= len(known) or known[at] != version:
            return None
        low = known[at - 1] if at > 0 else None
        high = known[at + 1] if at + 1 < len(known) else None
        if low is None and high is None:
            return None
        return PubGrubRange.between(low, high)

    def _known_versions(self, name: str) -> list[Version]:
        known = self._known.get(name)
        if known is None:
            # all_versions() is distinct and newest first: reversing it is the sort
            # (sorting thousands of Versions again cost more than the whole walk).
            known = self.versions_of(name).all_versions()[::-1]
            installed = self.config.installed.get(name)
            preferred = self.config.preferences.get(name)
            for extra in (installed.version if installed is not None else None, preferred):
                if extra is not None:
                    at = bisect_left(known, extra)
                    if at == len(known) or known[at] != extra:
                        known.insert(at, extra)
            self._known[name] = known
        return known

