"""The PubGrub provider: Python packaging rules on top of nab-resolver.

Packages are canonical project names; `name[extra]` is a virtual package pinned to its
base (so extras never pick a different version), and `Python` is a virtual package whose
only version is the target's, so a Requires-Python in metadata becomes an ordinary
dependency that the solver can explain. Network work never happens on the solver's
critical path when it can be started earlier: see prefetch.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from nab_resolver.resolver import BaseProvider
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from wherry.resolve.candidates import Candidate, ProjectVersions
from wherry.resolve.metadata import CoreMetadata
from wherry.resolve.ranges import PubGrubRange

PYTHON = "Python"


@lru_cache(maxsize=8192)
def parse_dependency(text: str) -> Requirement | None:
    """A Requires-Dist entry; None for one packaging cannot parse (pip skips those too)."""
    try:
        return Requirement(text)
    except InvalidRequirement:
        return None


def split_extra(package: str) -> tuple[str, str | None]:
    """`foo[bar]` -> (`foo`, `bar`); `foo` -> (`foo`, None)."""
    if package.endswith("]") and "[" in package:
        base, _, extra = package[:-1].partition("[")
        return base, extra
    return package, None


@dataclass
class InstalledPreference:
    """An installed distribution the resolver should keep when the request allows it."""

    version: Version
    metadata: CoreMetadata


@dataclass
class ProviderConfig:
    markers: dict[str, str]
    python_version: Version
    explicit_prereleases: set[str] = field(default_factory=set)
    pinned: dict[str, set[Version]] = field(default_factory=dict)
    installed: dict[str, InstalledPreference] = field(default_factory=dict)
    no_deps: bool = False


class WherryProvider(BaseProvider[str, Version]):
    """Answers the solver's questions from the index (via callbacks) and the environment."""

    def __init__(
        self,
        config: ProviderConfig,
        versions_of: Callable[[str], ProjectVersions],
        metadata_of: Callable[[Candidate], CoreMetadata],
        on_new_packages: Callable[[list[tuple[str, PubGrubRange]]], None] = lambda new: None,
    ) -> None:
        self.config = config
        self.versions_of = versions_of
        self.metadata_of = metadata_of
        self.on_new_packages = on_new_packages
        self.order: dict[str, int] = {}
        self.tried: dict[str, int] = {}
        self._dependencies: dict[tuple[str, Version], dict[str, PubGrubRange]] = {}

    # -- choosing -------------------------------------------------------------------------
    def _choose(self, package: str, version_range: Any) -> Version | None:
        if package == PYTHON:
            version = self.config.python_version
            return version if version in version_range else None
        name, _extra = split_extra(package)
        installed = self.config.installed.get(name)
        if installed is not None and installed.version in version_range:
            return installed.version
        project = self.versions_of(name)
        ordered = project.ordered()
        for candidate in ordered:
            if not candidate.version.is_prerelease and candidate.version in version_range:
                return candidate.version
        pinned = self.config.pinned.get(name, set())
        for version in sorted(project.yanked, reverse=True):
            if version in pinned and version in version_range:
                return version
        # Pre-releases: when asked for explicitly, or when nothing else fits (uv's
        # "if-necessary-or-explicit" default).
        for candidate in ordered:
            if candidate.version.is_prerelease and candidate.version in version_range:
                return candidate.version
        return None

    def choose_version(self, package: str, version_range: Any) -> Version | None:
        self.tried[package] = self.tried.get(package, 0) + 1
        return self._choose(package, version_range)

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
            if p != PYTHON and p not in self.order
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
        environment = dict(self.config.markers)
        environment["extra"] = extra or ""
        for text in metadata.requires_dist:
            requirement = parse_dependency(text)
            if requirement is None:
                continue
            if requirement.marker is not None:
                if not requirement.marker.evaluate(environment):
                    continue
                if extra is not None and requirement.marker.evaluate(
                    {**environment, "extra": ""}
                ):
                    continue  # a base dependency: the base package carries it
            elif extra is not None:
                continue
            dep_name = str(canonicalize_name(requirement.name))
            if dep_name == name and not requirement.extras:
                continue
            dep_range = PubGrubRange.from_specifier(requirement.specifier)
            targets = [dep_name] + [
                f"{dep_name}[{canonicalize_name(e)}]" for e in sorted(requirement.extras)
            ]
            for target in targets:
                if target == package:
                    continue
                existing = result.get(target)
                result[target] = dep_range if existing is None else existing & dep_range
        return result

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
        pinned = 0 if version_range.is_single_version() else 1
        return (1, -conflict_counts.get(package, 0), pinned, self.order.get(package, 0), package)

    def widen_decision(self, package: str, version: Version) -> None:
        return None

