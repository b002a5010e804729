"""From an index's file list to the installable versions of a project for one target.

A version is a candidate when it has a wheel whose tags the target accepts and whose
Requires-Python admits the target's Python; the best-ranked wheel is kept. Versions that
fail are remembered with the reason, so "no version" errors can say *why* (no wheel for
this platform, Requires-Python, yanked) instead of just "not found".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

from wherry.index.models import DistFile
from wherry.platform.tags import TargetTags


@dataclass(frozen=True)
class Candidate:
    """One installable version of a project: its best wheel for the target."""

    name: str
    version: Version
    wheel: DistFile
    yanked: bool


@dataclass
class ProjectVersions:
    """Every version of a project seen on the index, split into usable and unusable."""

    name: str
    candidates: dict[Version, Candidate] = field(default_factory=dict)
    yanked: dict[Version, Candidate] = field(default_factory=dict)
    rejected: dict[Version, str] = field(default_factory=dict)
    seen_tags: set[str] = field(default_factory=set)

    def ordered(self) -> list[Candidate]:
        """Usable candidates, newest first."""
        return [self.candidates[v] for v in sorted(self.candidates, reverse=True)]

    def all_versions(self) -> list[Version]:
        return sorted({*self.candidates, *self.yanked, *self.rejected}, reverse=True)


@lru_cache(maxsize=4096)
def _requires_python(text: str) -> SpecifierSet | None:
    try:
        return SpecifierSet(text)
    except InvalidSpecifier:
        return None


def python_allows(requires_python: str | None, python_version: Version) -> bool:
    """Whether a Requires-Python string admits the target (an invalid one admits it, as pip)."""
    if not requires_python:
        return True
    specifier = _requires_python(requires_python)
    return specifier is None or specifier.contains(python_version, prereleases=True)


def build_versions(
    name: str, files: list[DistFile], tags: TargetTags, python_version: Version
) -> ProjectVersions:
    """Group `files` by version and keep, per version, the best-ranked compatible wheel."""
    project = ProjectVersions(name)
    best: dict[Version, tuple[int, DistFile]] = {}
    reasons: dict[Version, str] = {}
    for file in files:
        try:
            if file.is_wheel:
                wheel_name, version, _build, file_tags = parse_wheel_filename(file.filename)
            else:
                wheel_name, version = parse_sdist_filename(file.filename)
                file_tags = frozenset()
        except (InvalidWheelFilename, InvalidSdistFilename):
            continue
        if canonicalize_name(wheel_name) != name:
            continue
        if not python_allows(file.requires_python, python_version):
            reasons.setdefault(version, f"requires Python {file.requires_python}")
            continue
        if not file.is_wheel:
            reasons.setdefault(version, "has only a source distribution (builds come later)")
            continue
        project.seen_tags.update(str(tag) for tag in file_tags)
        rank = tags.best_rank(file_tags)
        if rank is None:
            reasons[version] = "has no wheel compatible with this platform"
            continue
        current = best.get(version)
        if current is None or rank < current[0] or (
            rank == current[0] and current[1].is_yanked and not file.is_yanked
        ):
            best[version] = (rank, file)
    for version, (_rank, file) in best.items():
        candidate = Candidate(name, version, file, file.is_yanked)
        (project.yanked if file.is_yanked else project.candidates)[version] = candidate
    for version, reason in reasons.items():
        if version not in best:
            project.rejected[version] = reason
    return project
