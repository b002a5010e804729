"""`resolve()`: requirements in, pinned candidates out (or a readable error).

This is the seam between the use cases in `commands/` and the solver: it builds the
provider, hands the root requirements to nab-resolver, and maps the solution back to
the candidates to install.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

import msgspec
from nab_resolver.errors import ResolutionError as SolverError
from nab_resolver.resolver import Resolver
from nab_resolver.types import RootRequirement
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from wherry.errors import ResolutionError
from wherry.index.models import DistFile
from wherry.output import log, trace
from wherry.platform.tags import TargetTags
from wherry.requirements.parse import SourcedRequirement
from wherry.resolve.candidates import BinaryPolicy, Candidate, format_cutoff
from wherry.resolve.explain import ExplainContext, explain, no_versions_terms
from wherry.resolve.metadata import CoreMetadata
from wherry.resolve.prefetch import FirstChoice, PackageData, read_ahead_for
from wherry.resolve.provider import (
    INVALID,
    PYTHON,
    InstalledPreference,
    ProviderConfig,
    WherryProvider,
    names_prerelease,
    split_extra,
)
from wherry.resolve.ranges import PubGrubRange
from wherry.resolve.report import hints_for
from wherry.resolve.url_dependencies import RootUrls


class Resolution(msgspec.Struct):
    """The pinned set: per canonical name, the candidate (or the kept installed version)."""

    pins: dict[str, Candidate | InstalledPreference]
    extras: dict[str, set[str]] = msgspec.field(default_factory=dict)
    versions_tried: int = 0
    # Canonical name -> the names of the pinned packages that depend on it (extras
    # folded into their base), for `# via` annotations.
    dependents: dict[str, set[str]] = msgspec.field(default_factory=dict)

    def version_of(self, name: str) -> Version:
        return self.pins[name].version


def resolve(
    requirements: Sequence[SourcedRequirement],
    *,
    files_for: Callable[[str], Sequence[DistFile]],
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
    overrides: Sequence[SourcedRequirement] = (),
    excludes: Collection[str] = (),
    prerelease: str = "if-necessary-or-explicit",
    resolution: str = "highest",
    preferences: Mapping[str, Version] | None = None,
    python_requested: bool = False,
    other_index: Callable[[str], str | None] | None = None,
    marker_possible: Callable[[Marker, str], bool] | None = None,
    on_edge: Callable[[str, Version, Requirement, Marker | None], None] | None = None,
    on_choice: Callable[[str, Any, Version], None] | None = None,
    direct: Mapping[str, tuple[Candidate, CoreMetadata]] | None = None,
    policy: BinaryPolicy | None = None,
    read_ahead: bool = True,
) -> Resolution:
    """Resolve `requirements` for one target; raise `ResolutionError` with hints on failure.

    `exclude_newer` (from `candidates.parse_exclude_newer`) hides files uploaded at or
    after that instant, as if the index had been read then. `overrides` replace every
    requirement on their names (root or transitive); `excludes` (canonical names) drop
    packages from the resolution with every requirement on them. `prerelease` and
    `resolution` are uv's modes (`provider.PRERELEASE_MODES`, `RESOLUTION_MODES`);
    `preferences` are versions to keep when allowed (the pins of an existing output file).
    On failure, `python_requested` (the Python came from `--python-version`) and
    `other_index(name)` (a hint that another index may offer `name`) shape the message.
    `read_ahead` prefetches dependencies of dependencies before the solver reaches them
    (prefetch.py); it changes what is fetched when, never the answer.
    """
    environment = {**markers, "extra": ""}

    def applies(marker: Marker | None) -> bool:
        """Whether a root/constraint/override marker holds for the target (or, in a
        universal resolution, can hold in the region being resolved)."""
        if marker is None:
            return True
        if marker_possible is not None:
            return marker_possible(marker, "")
        return bool(marker.evaluate(environment))

    roots: list[RootRequirement[str, Version]] = []
    wanted: list[tuple[str, PubGrubRange]] = []
    config = ProviderConfig(
        markers=markers, python_version=python_version, installed=dict(installed or {}),
        no_deps=no_deps, prerelease=prerelease, resolution=resolution,
        preferences=dict(preferences or {}), excludes=frozenset(excludes),
        marker_possible=marker_possible, on_edge=on_edge, on_choice=on_choice,
        root_urls=RootUrls.of([
            *((item.requirement.name, item.requirement.url)
              for items in (requirements, constraints, overrides) for item in items
              if item.requirement.url and applies(item.requirement.marker)),
            *((name, candidate.direct.requested) for name, (candidate, _m)
              in (direct or {}).items() if candidate.direct is not None)]),
    )
    for item in overrides:
        requirement = item.requirement
        name = str(canonicalize_name(requirement.name))
        entries = config.overrides.setdefault(name, [])
        if applies(requirement.marker):
            entries.append(requirement)
    for item in requirements:
        requirement = item.requirement
        if not applies(requirement.marker):
            log.debug("Ignoring %s: its markers do not match the target", requirement)
            continue
        name = str(canonicalize_name(requirement.name))
        if name in config.excludes:
            log.debug("Ignoring %s: excluded", requirement)
            continue
        origin = f"{requirement} ({item.source})"
        for effective in config.overrides.get(name, [requirement]):
            _add_root(effective, name, origin, roots, wanted, config)
    constraint_ranges: dict[str, PubGrubRange] = {}
    for item in constraints:
        requirement = item.requirement
        if not applies(requirement.marker):
            continue
        name = str(canonicalize_name(requirement.name))
        if names_prerelease(requirement):
            config.explicit_prereleases.add(name)
        new = PubGrubRange.from_specifier(requirement.specifier)
        previous = constraint_ranges.get(name)
        constraint_ranges[name] = new if previous is None else previous & new
    # The prefetch fetches what the solver will try first, in the same order (roots are
    # all known by now: `lowest-direct` needs them; the explicit pre-release set stays
    # live, as the provider adds those that dependencies name).
    first_choice = FirstChoice(
        resolution=config.resolution, roots=frozenset(config.direct),
        preferences=config.preferences,
        installed={name: pin.version for name, pin in config.installed.items()},
        prerelease=config.prerelease, explicit_prereleases=config.explicit_prereleases,
    )
    # The read-ahead evaluates markers for one target: not in a universal resolution,
    # whose regions only the solver's thread may ask about.
    guesses = None if no_deps or marker_possible is not None or not read_ahead else (
        read_ahead_for(config))
    data = PackageData(
        files_for, fetch_metadata, tags, python_version, exclude_newer=exclude_newer,
        first_match=first_match, direct=direct, policy=policy, first_choice=first_choice,
        read_ahead=guesses, constraints=constraint_ranges,
    )
    if exclude_newer is not None:
        log.debug("Hiding files uploaded at or after %s (--exclude-newer)",
                  format_cutoff(exclude_newer))
    provider = WherryProvider(
        config,
        versions_of=data.versions,
        metadata_of=data.metadata,
        on_new_packages=data.prefetch,
        prefetch_metadata=data.prefetch_metadata,
    )
    # Root requirements' likely sdists are built ahead, side by side; not those an
    # installed version already satisfies (the solver keeps it, and asks for nothing).
    data.prefetch([(name, allowed) for name, allowed in wanted
                   if name not in config.installed
                   or config.installed[name].version not in allowed], builds=True)
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
        raise _failure(exc, provider, data, tags, python_version, indexes_description,
                       python_requested, other_index) from None
    finally:
        data.close()
    trace("Solver finished in %.0fms", (time.perf_counter() - start) * 1000)
    log.debug("%s", tried_versions_line(provider.tried))
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
    dependents: dict[str, set[str]] = {}
    for parent, child in solution.edges:
        if PYTHON in (parent, child):
            continue
        parent_base, child_base = split_extra(parent)[0], split_extra(child)[0]
        if parent_base != child_base:
            dependents.setdefault(child_base, set()).add(parent_base)
    return Resolution(pins, extras, sum(provider.tried.values()), dependents)


def tried_versions_line(tried: Mapping[str, int]) -> str:
    """`Tried 7 versions: numpy 4, pandas 2, six 1` (uv's -v line): how hard the solver
    had to search, busiest packages first."""
    counts = sorted(
        ((package, count) for package, count in tried.items() if package != PYTHON),
        key=lambda item: (-item[1], item[0]),
    )
    total = sum(count for _package, count in counts)
    return f"Tried {total} versions: " + ", ".join(f"{p} {c}" for p, c in counts)


def _add_root(
    requirement: Requirement, name: str, origin: str,
    roots: list[RootRequirement[str, Version]], wanted: list[tuple[str, PubGrubRange]],
    config: ProviderConfig,
) -> None:
    """One root requirement (after overrides) as solver roots: the package, and one proxy
    per extra; `==` pins admit yanked versions, pre-release specifiers admit pre-releases."""
    constraint = PubGrubRange.from_specifier(requirement.specifier)
    roots.append(RootRequirement(name, constraint, origin))
    wanted.append((name, constraint))
    config.direct.add(name)
    for extra in sorted(requirement.extras):
        extra_package = f"{name}[{canonicalize_name(extra)}]"
        roots.append(RootRequirement(extra_package, constraint, origin))
    for specifier in requirement.specifier:
        if specifier.operator in ("==", "===") and "*" not in specifier.version:
            with contextlib.suppress(ValueError):
                config.pinned.setdefault(name, set()).add(Version(specifier.version))
    if names_prerelease(requirement):
        config.explicit_prereleases.add(name)


def _failure(
    exc: SolverError, provider: WherryProvider, data: PackageData, tags: TargetTags,
    python_version: Version, indexes_description: str, python_requested: bool,
    other_index: Callable[[str], str | None] | None,
) -> ResolutionError:
    """The solver's proof as uv-style prose, with hints about the versions it rules out."""
    root = exc.incompatibility
    projects = [data.versions(name) for name in _seen_projects(provider)]
    if root is None:  # a limit, not a proof
        return ResolutionError(f"resolution stopped without an answer: {exc}",
                               hint="please report this, with the requirements")

    def available(name: str) -> list[Version]:
        project = data.versions(name)
        return [*project.candidates, *project.yanked]

    context = ExplainContext(available, str(python_version), python_requested)
    text = explain(root, context)
    within: dict[str, PubGrubRange] = {}
    invalid = False
    for package, constraint in no_versions_terms(root):
        invalid = invalid or package.startswith(INVALID)
        if package == PYTHON or package.startswith(INVALID):
            continue
        base = split_extra(package)[0]
        within[base] = within[base] | constraint if base in within else constraint
    hints = hints_for(
        projects, tags, str(python_version), indexes_description, within=within,
        prereleases_allowed=provider.prereleases_allowed,
        other_index=other_index or (lambda name: None),
    )
    if invalid:
        hints.append("a distribution's metadata named above is invalid: require another "
                     "version of it, or ask its maintainers to publish a fixed release")
    message = "no solution found when resolving dependencies:\n" + _indent(text)
    if not hints:  # nothing specific to point at: say what the user can change
        hints = [_general_hint(text, indexes_description)]
    return ResolutionError(message, hint="\n  hint: ".join(hints))


def _general_hint(proof: str, indexes_description: str) -> str:
    """A hint for a proof no specific hint explains: two requirements that cannot both
    hold (a conflict), or a range the index has no version in."""
    if " depends on " in proof:
        return ("loosen one of the requirements named above; an overrides file "
                "(`--override`) can replace a dependency's own requirement")
    return (f"loosen the version range, or check that {indexes_description} has the "
            "version you expect")


def _seen_projects(provider: WherryProvider) -> list[str]:
    names = {split_extra(package)[0] for package in provider.order
             if package != PYTHON and not package.startswith(INVALID)}
    return sorted(names)


def _indent(text: str) -> str:
    return "\n".join("  " + line if line else "" for line in text.splitlines())
