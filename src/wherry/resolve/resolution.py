"""`resolve()`: requirements in, pinned candidates out (or a readable error).

This is the seam between the use cases in `commands/` and the solver: it builds the
provider, hands the root requirements to nab-resolver, and maps the solution back to
the candidates to install.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from nab_resolver.errors import ResolutionError as SolverError
from nab_resolver.resolver import Resolver
from nab_resolver.types import RootRequirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from wherry.errors import ResolutionError
from wherry.index.models import DistFile
from wherry.output import log
from wherry.platform.tags import TargetTags
from wherry.requirements.parse import SourcedRequirement
from wherry.resolve.candidates import Candidate, format_cutoff
from wherry.resolve.prefetch import PackageData
from wherry.resolve.provider import (
    PYTHON,
    InstalledPreference,
    ProviderConfig,
    WherryProvider,
    split_extra,
)
from wherry.resolve.ranges import PubGrubRange
from wherry.resolve.report import hints_for


@dataclass
class Resolution:
    """The pinned set: per canonical name, the candidate (or the kept installed version)."""

    pins: dict[str, Candidate | InstalledPreference]
    extras: dict[str, set[str]] = field(default_factory=dict)
    versions_tried: int = 0

    def version_of(self, name: str) -> Version:
        return self.pins[name].version


def resolve(
    requirements: Sequence[SourcedRequirement],
    *,
    files_for: Callable[[str], list[DistFile]],
    fetch_metadata: Callable[[DistFile], bytes],
    tags: TargetTags,
    markers: dict[str, str],
    python_version: Version,
    installed: dict[str, InstalledPreference] | None = None,
    constraints: Sequence[SourcedRequirement] = (),
    no_deps: bool = False,
    indexes_description: str = "the package index",
    exclude_newer: datetime | None = None,
    first_match: bool = False,
) -> Resolution:
    """Resolve `requirements` for one target; raise `ResolutionError` with hints on failure.

    `exclude_newer` (from `candidates.parse_exclude_newer`) hides files uploaded at or
    after that instant, as if the index had been read then.
    """
    environment = {**markers, "extra": ""}
    roots: list[RootRequirement[str, Version]] = []
    wanted: list[tuple[str, PubGrubRange]] = []
    config = ProviderConfig(
        markers=markers, python_version=python_version, installed=dict(installed or {}),
        no_deps=no_deps,
    )
    for item in requirements:
        requirement = item.requirement
        if requirement.marker is not None and not requirement.marker.evaluate(environment):
            log.debug("Ignoring %s: its markers do not match the target", requirement)
            continue
        name = str(canonicalize_name(requirement.name))
        constraint = PubGrubRange.from_specifier(requirement.specifier)
        origin = f"{requirement} ({item.source})"
        roots.append(RootRequirement(name, constraint, origin))
        wanted.append((name, constraint))
        for extra in sorted(requirement.extras):
            extra_package = f"{name}[{canonicalize_name(extra)}]"
            roots.append(RootRequirement(extra_package, constraint, origin))
        for specifier in requirement.specifier:
            if specifier.operator in ("==", "===") and "*" not in specifier.version:
                config.pinned.setdefault(name, set()).add(Version(specifier.version))
    constraint_ranges: dict[str, PubGrubRange] = {}
    for item in constraints:
        requirement = item.requirement
        if requirement.marker is not None and not requirement.marker.evaluate(environment):
            continue
        name = str(canonicalize_name(requirement.name))
        new = PubGrubRange.from_specifier(requirement.specifier)
        previous = constraint_ranges.get(name)
        constraint_ranges[name] = new if previous is None else previous & new
    data = PackageData(
        files_for, fetch_metadata, tags, python_version, exclude_newer=exclude_newer,
        first_match=first_match,
    )
    if exclude_newer is not None:
        log.debug("Hiding files uploaded at or after %s (--exclude-newer)",
                  format_cutoff(exclude_newer))
    provider = WherryProvider(
        config,
        versions_of=data.versions,
        metadata_of=data.metadata,
        on_new_packages=data.prefetch,
    )
    data.prefetch(wanted)
    for root in roots:
        provider.order.setdefault(root.package, len(provider.order))
    solver: Resolver[str, Version] = Resolver(
        provider,
        range_type=PubGrubRange,
        root_version=Version("0"),
        format_range=lambda r: r.display(),
    )
    start = time.perf_counter()
    try:
        solution = solver.solve(roots, constraint_ranges or None)
    except SolverError as exc:
        projects = [data.versions(name) for name in _seen_projects(provider)]
        hints = hints_for(projects, tags, str(python_version), indexes_description)
        message = "no solution found for the requirements:\n" + _indent(str(exc))
        raise ResolutionError(message, hint="; ".join(hints) if hints else None) from None
    finally:
        data.close()
    log.debug(
        "Solver finished in %.0fms after trying %d versions",
        (time.perf_counter() - start) * 1000,
        sum(provider.tried.values()),
    )
    pins: dict[str, Candidate | InstalledPreference] = {}
    extras: dict[str, set[str]] = {}
    for package, version in solution.pins.items():
        if package == PYTHON:
            continue
        base, extra_name = split_extra(package)
        if extra_name is not None:
            extras.setdefault(base, set()).add(extra_name)
            continue
        pins[base] = provider.candidate(base, version)
    return Resolution(pins, extras, sum(provider.tried.values()))


def _seen_projects(provider: WherryProvider) -> list[str]:
    names = {split_extra(package)[0] for package in provider.order if package != PYTHON}
    return sorted(names)


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())
