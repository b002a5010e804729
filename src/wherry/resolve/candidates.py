"""From an index's file list to the installable versions of a project for one target.

A version is a candidate when it has a wheel whose tags the target accepts and whose
Requires-Python admits the target's Python; the best-ranked wheel is kept. Versions that
fail are remembered with the reason, so "no version" errors can say *why* (no wheel for
this platform, Requires-Python, yanked) instead of just "not found".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import InvalidSdistFilename, canonicalize_name, parse_sdist_filename
from packaging.version import InvalidVersion, Version

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


_NAME_SEPARATORS = re.compile(r"[-_.]+")


def _canonical(name: str) -> str:
    return _NAME_SEPARATORS.sub("-", name).lower()


def build_versions(
    name: str, files: list[DistFile], tags: TargetTags, python_version: Version
) -> ProjectVersions:
    """Group `files` by version and keep, per version, the best-ranked compatible wheel.

    Big projects list thousands of files, so this works on filename strings: a version
    string is parsed once however many files carry it, and a wheel's tags are ranked
    by string lookup. Filenames packaging would reject are skipped, as pip does.
    """
    project = ProjectVersions(name)
    best: dict[Version, tuple[int, DistFile]] = {}
    reasons: dict[Version, str] = {}
    versions: dict[str, Version | None] = {}

    def version_of(text: str) -> Version | None:
        if text not in versions:
            try:
                versions[text] = Version(text)
            except InvalidVersion:
                versions[text] = None
        return versions[text]

    for file in files:
        filename = file.filename
        if file.is_wheel:
            parts = filename[:-4].split("-")
            if len(parts) not in (5, 6) or _canonical(parts[0]) != name:
                continue
            version = version_of(parts[1])
            triple = parts[-3:]
        else:
            try:
                sdist_name, version = parse_sdist_filename(filename)
            except InvalidSdistFilename:
                continue
            if canonicalize_name(sdist_name) != name:
                continue
            triple = []
        if version is None:
            continue
        if not python_allows(file.requires_python, python_version):
            reasons.setdefault(version, f"requires Python {file.requires_python}")
            continue
        if not triple:
            reasons.setdefault(version, "has only a source distribution (builds come later)")
            continue
        rank = tags.rank_of_filename_tags(*triple)
        if rank is None:
            if len(project.seen_tags) < 16:
                project.seen_tags.add("-".join(triple))
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
