"""Dependencies between installed distributions, for `show`, `tree`, `check` and uninstall.

Requires-Dist lines are parsed with `packaging` and their markers evaluated for the
environment with no extra active, as pip's and uv's checks do: a dependency reached only
through an extra (`requests[socks]`) is not an edge of the graph.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache

from packaging.requirements import InvalidRequirement, Requirement

from wherry.install.site import InstalledDist, canonicalize_name
from wherry.output import log


@lru_cache(maxsize=4096)
def parse_requirement_line(text: str) -> Requirement | None:
    """A Requires-Dist value as a `Requirement`, or None when it is not valid PEP 508."""
    try:
        return Requirement(text)
    except InvalidRequirement:
        return None


def active_requirements(dist: InstalledDist, markers: Mapping[str, str]) -> list[Requirement]:
    """`dist`'s requirements whose markers hold in the environment (no extra requested)."""
    environment = {**markers, "extra": ""}
    result: list[Requirement] = []
    for text in dist.requires():
        requirement = parse_requirement_line(text)
        if requirement is None:
            log.debug("Ignoring invalid requirement %r of %s", text, dist.name)
            continue
        if requirement.marker is not None:
            try:
                if not requirement.marker.evaluate(environment):
                    continue
            except Exception as exc:  # an undefined marker variable, say
                log.debug("Ignoring requirement %r of %s: %s", text, dist.name, exc)
                continue
        result.append(requirement)
    return result


class DependencyGraph:
    """Installed distributions (one per name) and the edges between them.

    `requires[name]` lists the active requirements in METADATA order (several lines for
    one dependency are kept); `required_by[name]` the installed packages that need it.
    """

    def __init__(
        self, found: Mapping[str, list[InstalledDist]], markers: Mapping[str, str]
    ) -> None:
        self.markers = dict(markers)
        self.dists: dict[str, InstalledDist] = {
            name: dists[0] for name, dists in sorted(found.items()) if dists
        }
        self.requires: dict[str, list[Requirement]] = {}
        self.required_by: dict[str, set[str]] = {name: set() for name in self.dists}
        for name, dist in self.dists.items():
            requirements = active_requirements(dist, markers)
            self.requires[name] = requirements
            for requirement in requirements:
                dependency = canonicalize_name(requirement.name)
                if dependency in self.required_by and dependency != name:
                    self.required_by[dependency].add(name)

    def dependencies(self, name: str) -> list[str]:
        """The installed dependencies of `name`, canonical, unique, in METADATA order."""
        seen: dict[str, None] = {}
        for requirement in self.requires.get(name, []):
            dependency = canonicalize_name(requirement.name)
            if dependency in self.dists and dependency != name:
                seen.setdefault(dependency)
        return list(seen)

    def closure(self, roots: Iterable[str]) -> set[str]:
        """`roots` (those installed) and everything they need, transitively."""
        result: set[str] = set()
        stack = [canonicalize_name(r) for r in roots]
        while stack:
            name = stack.pop()
            if name in result or name not in self.dists:
                continue
            result.add(name)
            stack.extend(self.dependencies(name))
        return result
