"""Turning a failed resolution into a paragraph a person can act on.

explain.py renders the derivation ("Because a==1.0 depends on b>=2 ..."); this module
adds hints from what wherry saw on the index about the versions the proof rules out: a
project that does not exist at all, versions that exist but have no wheel for this
platform (naming the tags it needed), versions excluded by Requires-Python, yanked
versions, pre-releases that were not enabled, versions hidden by `--exclude-newer`, and
a project that a later index might offer under the `first-index` strategy.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Mapping

from packaging.version import Version

from wherry.platform.tags import TargetTags
from wherry.resolve.candidates import EXCLUDE_NEWER_REASON, ProjectVersions


def _always(name: str) -> bool:
    return True


def _nowhere(name: str) -> str | None:
    return None


def hints_for(
    projects: Iterable[ProjectVersions],
    tags: TargetTags,
    python_version: str,
    indexes: str,
    *,
    within: Mapping[str, Container[Version]] | None = None,
    prereleases_allowed: Callable[[str], bool] = _always,
    other_index: Callable[[str], str | None] = _nowhere,
) -> list[str]:
    """One hint per reason a project's versions were missing or unusable.

    With `within` (project -> the versions the proof says are unavailable), a project's
    hints are about those versions; otherwise about the versions newer than its newest
    usable one (the likely culprits). `prereleases_allowed(name)` says whether the
    pre-release policy let the solver choose that project's pre-releases;
    `other_index(name)` may explain that another index could offer the project.
    """
    hints: list[str] = []
    for project in projects:
        if not project.all_versions():
            hints.append(f"`{project.name}` was not found in {indexes}")
            continue
        ruled_out = None if within is None else within.get(project.name)
        if within is not None and ruled_out is None:
            continue
        newest_usable = max(project.candidates, default=None)

        def relevant(version: Version, ruled_out: Container[Version] | None = ruled_out,
                     newest_usable: Version | None = newest_usable) -> bool:
            if ruled_out is not None:
                return version in ruled_out
            return newest_usable is None or version > newest_usable

        hidden = _rejected(project, EXCLUDE_NEWER_REASON, relevant)
        if hidden:
            hints.append(_hidden_hint(project, hidden))
        no_wheel = _rejected(project, "no wheel", relevant)
        needs_python = _rejected(project, "requires Python", relevant)
        only_sdist = _rejected(project, "source distribution", relevant)
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
        if only_sdist:  # the binary policy forbade the build (candidates.py)
            newest = max(only_sdist)
            hints.append(
                f"`{project.name}` {newest} {project.rejected[newest]}; allow building it "
                f"(drop `--no-build`, or `--only-binary` for `{project.name}`)"
            )
        wheels_refused = _rejected(project, "--no-binary", relevant)
        if wheels_refused:
            newest = max(wheels_refused)
            hints.append(
                f"`{project.name}` {newest} {project.rejected[newest]}; drop `--no-binary` "
                f"for `{project.name}` to use them"
            )
        yanked = [v for v in project.yanked if ruled_out is not None and v in ruled_out]
        if yanked or (ruled_out is None and project.yanked and not project.candidates):
            newest = max(yanked or project.yanked)
            reason = project.yanked[newest].wheel.yanked
            why = f" (reason: {reason})" if isinstance(reason, str) and reason else ""
            hints.append(
                f"`{project.name}` {newest} was yanked{why}; pin it with "
                f"`{project.name}=={newest}` to use it"
            )
        pre = [v for v in project.candidates if v.is_prerelease and relevant(v)]
        if pre and not prereleases_allowed(project.name):
            hints.append(
                f"pre-releases are available for `{project.name}` in the requested range "
                f"(e.g., {max(pre)}), but pre-releases weren't enabled "
                "(try: `--prerelease=allow`)"
            )
        elif ruled_out is None and pre and len(pre) == len(project.candidates):
            hints.append(f"only pre-releases of `{project.name}` exist (newest: {max(pre)})")
        elsewhere = other_index(project.name)
        if elsewhere:
            hints.append(elsewhere)
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


def _rejected(
    project: ProjectVersions, reason: str, relevant: Callable[[Version], bool]
) -> list[Version]:
    """Rejected versions (for `reason`) that the failure is about."""
    return [
        version
        for version, why in project.rejected.items()
        if reason in why and relevant(version)
    ]
