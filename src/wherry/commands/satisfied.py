"""Is the request already satisfied by what is installed? (uv's "Audited N packages")

Answering this from site-packages alone, with no index and no resolver, is what makes a
repeated `pip install` cheap. It walks the requested requirements and the installed
dependencies they pull in (markers and extras evaluated for the target) and says yes only
when every one is installed at a version its specifier admits.
"""

from __future__ import annotations

from collections.abc import Sequence

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from wherry.install.site import InstalledDist
from wherry.requirements.parse import SourcedRequirement
from wherry.resolve.provider import parse_dependency


def satisfied_closure(
    requirements: Sequence[SourcedRequirement],
    constraints: Sequence[SourcedRequirement],
    installed: dict[str, list[InstalledDist]],
    markers: dict[str, str],
) -> list[InstalledDist] | None:
    """The installed distributions that satisfy the request, or None if any is missing."""
    found: dict[str, InstalledDist] = {}
    done: set[tuple[str, str]] = set()
    pending: list[tuple[Requirement, str]] = [
        (item.requirement, "") for item in [*requirements]
    ]
    constraint_map: dict[str, list[Requirement]] = {}
    for item in constraints:
        constraint_map.setdefault(str(canonicalize_name(item.requirement.name)), []).append(
            item.requirement
        )
    while pending:
        requirement, extra = pending.pop()
        if requirement.marker is not None and not requirement.marker.evaluate(
            {**markers, "extra": extra}
        ):
            continue
        if requirement.url:
            return None  # a direct reference: the install plan compares its source
        name = str(canonicalize_name(requirement.name))
        dists = installed.get(name) or []
        if len(dists) != 1:
            return None
        dist = dists[0]
        if not requirement.specifier.contains(dist.version, prereleases=True):
            return None
        for constraint in constraint_map.get(name, []):
            if not constraint.specifier.contains(dist.version, prereleases=True):
                return None
        found[name] = dist
        wanted_extras = {""} | {str(canonicalize_name(e)) for e in requirement.extras}
        for wanted in wanted_extras:
            if (name, wanted) in done:
                continue
            done.add((name, wanted))
            for text in dist.requires():
                dependency = parse_dependency(text)
                if dependency is None:
                    continue
                if wanted and (dependency.marker is None or dependency.marker.evaluate(
                    {**markers, "extra": ""}
                )):
                    continue  # base dependencies are walked with extra ""
                pending.append((dependency, wanted))
    return list(found.values())
