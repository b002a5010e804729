"""`wherry pip check`: are the installed packages consistent with each other?

Reports, in pip's wording: dependencies that are missing, installed versions that do not
satisfy a requirement, Requires-Python that excludes the environment's Python, invalid
Requires-Dist lines, and (like uv) several installed distributions of one name.
Markers are evaluated for the environment with no extra active, as pip does.
"""

from __future__ import annotations

from collections.abc import Mapping

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from wherry.commands.depgraph import parse_requirement_line
from wherry.commands.show import metadata_text
from wherry.install.site import InstalledDist, canonicalize_name, header_values


def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def check_environment(
    found: Mapping[str, list[InstalledDist]],
    markers: Mapping[str, str],
    python_full_version: str,
) -> list[str]:
    """One line per problem, sorted by package; empty when everything is consistent."""
    problems: list[str] = []
    python = _version(python_full_version)
    environment = {**markers, "extra": ""}
    for name in sorted(found):
        dists = found[name]
        if len(dists) > 1:
            places = ", ".join(f"{d.version} ({d.path})"
                               for d in sorted(dists, key=lambda d: (d.version, str(d.path))))
            problems.append(f"{name} has {len(dists)} installed distributions: {places}")
        for dist in dists:
            label = f"{name} {dist.version}"
            requires_python = header_values(metadata_text(dist), "Requires-Python")
            if requires_python and python is not None:
                try:
                    specifier = SpecifierSet(requires_python[0])
                except InvalidSpecifier:
                    problems.append(
                        f"{label} has an invalid Requires-Python: {requires_python[0]!r}"
                    )
                else:
                    if not specifier.contains(python, prereleases=True):
                        problems.append(f"{label} requires Python {specifier}, but you have "
                                        f"Python {python_full_version}")
            for text in dist.requires():
                requirement = parse_requirement_line(text)
                if requirement is None:
                    problems.append(f"{label} has an invalid requirement: {text!r}")
                    continue
                if requirement.marker is not None:
                    try:
                        if not requirement.marker.evaluate(environment):
                            continue
                    except Exception:
                        problems.append(f"{label} has a requirement with an invalid "
                                        f"marker: {text!r}")
                        continue
                dependency = canonicalize_name(requirement.name)
                installed = found.get(dependency)
                if not installed:
                    problems.append(f"{label} requires {dependency}, which is not installed.")
                    continue
                if not requirement.specifier:
                    continue
                wanted = dependency + (
                    f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
                ) + str(requirement.specifier)
                # Each installed copy of a duplicate is checked: which one imports first
                # depends on sys.path order and file system listing order.
                for have in sorted(installed, key=lambda d: d.version):
                    have_version = _version(have.version)
                    if have_version is None or not requirement.specifier.contains(
                        have_version, prereleases=True
                    ):
                        problems.append(f"{label} has requirement {wanted}, but you have "
                                        f"{dependency} {have.version}.")
    return problems
