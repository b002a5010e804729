"""Turning a failed resolution into a paragraph a person can act on.

nab-resolver renders the derivation ("because a 1.0 depends on b >=2 ..."); wherry adds
hints from what it saw on the index: a project that does not exist at all, versions
that exist but have no wheel for this platform (naming the tags it needed), versions
excluded by Requires-Python, yanked versions, pre-releases that were not considered,
versions hidden by `--exclude-newer`.
"""

from __future__ import annotations

from collections.abc import Iterable

from packaging.version import Version

from wherry.platform.tags import TargetTags
from wherry.resolve.candidates import EXCLUDE_NEWER_REASON, ProjectVersions


def hints_for(
    projects: Iterable[ProjectVersions], tags: TargetTags, python_version: str, indexes: str
) -> list[str]:
    """One hint per project whose versions were missing or unusable."""
    hints: list[str] = []
    for project in projects:
        if not project.all_versions():
            hints.append(f"`{project.name}` was not found in {indexes}")
            continue
        newest_usable = max(project.candidates, default=None)
        hidden = _newer(project, EXCLUDE_NEWER_REASON, newest_usable)
        if hidden:
            hints.append(_hidden_hint(project, hidden))
        no_wheel = _newer(project, "no wheel", newest_usable)
        needs_python = _newer(project, "requires Python", newest_usable)
        only_sdist = _newer(project, "source distribution", newest_usable)
        if no_wheel:
            newest = max(no_wheel)
            seen = ", ".join(sorted(project.seen_tags)[:4]) or "none"
            hints.append(
                f"`{project.name}` {newest} has no wheel compatible with this platform "
                f"(its wheels carry tags like {seen}); wherry needed one of: {tags.describe()}"
            )
        if needs_python:
            newest = max(needs_python)
            hints.append(
                f"`{project.name}` {newest} {project.rejected[newest]}, "
                f"and the target Python is {python_version}"
            )
        if only_sdist:
            hints.append(
                f"`{project.name}` {max(only_sdist)} has only a source distribution, and "
                "building from source is not supported yet"
            )
        if project.yanked and not project.candidates:
            newest = max(project.yanked)
            hints.append(
                f"`{project.name}` {newest} was yanked; pin it with `=={newest}` to use it"
            )
        pre = [v for v in project.candidates if v.is_prerelease]
        if pre and len(pre) == len(project.candidates):
            hints.append(f"only pre-releases of `{project.name}` exist (newest: {max(pre)})")
    return hints


def _hidden_hint(project: ProjectVersions, hidden: list[Version]) -> str:
    """`pkg` 2.0 was uploaded after the --exclude-newer cutoff (...), and N newer versions."""
    newest = max(hidden)
    text = f"`{project.name}` {newest} {project.rejected[newest]}"
    total = len(project.all_versions())
    if len(project.hidden_by_exclude_newer()) == total:
        if total > 1:
            text += f"; all {total} versions of `{project.name}` are hidden by --exclude-newer"
    elif len(hidden) > 1:
        others = len(hidden) - 1
        text += f" ({others} other newer version{'s' if others > 1 else ''} hidden too)"
    return text


def _newer(project: ProjectVersions, reason: str, than: Version | None) -> list[Version]:
    """Rejected versions (for `reason`) newer than the newest usable one: the likely culprits."""
    return [
        version
        for version, why in project.rejected.items()
        if reason in why and (than is None or version > than)
    ]
