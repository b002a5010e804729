"""The steps of an install after the request is known: resolve, plan, prepare, apply.

Kept apart from `install.py` so `sync` and `--seed` (and later builds) reuse the same
steps, and so the no-op path (`install.py` answering "Audited") never imports the
resolver, the HTTP client or the index layer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from functools import partial
from typing import TYPE_CHECKING

import msgspec
from packaging.version import Version

from wherry.cache.layout import Cache
from wherry.commands.session import IndexSession
from wherry.http.client import HttpClient
from wherry.index.metadata import wheel_metadata
from wherry.index.sources import IndexSources
from wherry.install.site import InstalledDist
from wherry.output import Printer, counted, log, timed
from wherry.platform.targets import Target
from wherry.python.info import InterpreterInfo
from wherry.requirements.parse import RequirementsSpec, SourcedRequirement, parse_requirement
from wherry.resolve.candidates import Candidate, parse_exclude_newer
from wherry.resolve.metadata import parse_core_metadata
from wherry.resolve.provider import InstalledPreference
from wherry.resolve.resolution import Resolution, resolve
from wherry.settings import IndexSettings

if TYPE_CHECKING:
    from pathlib import Path

    from wherry.commands.build_env import BuildContext
    from wherry.commands.hashes import RequestedHashes
    from wherry.commands.install import Change, InstallOptions


def _describe_indexes(settings: IndexSettings) -> str:
    from wherry.http.urls import redact_url

    places = [redact_url(u) for u in [*settings.index_urls, *settings.find_links]]
    if not places:
        return "any configured location (--no-index and no --find-links)"
    return ", ".join(places)


def resolve_for(
    target: Target,
    spec: RequirementsSpec,
    settings: IndexSettings,
    cache: Cache,
    installed: dict[str, list[InstalledDist]],
    options: InstallOptions,
    preferred_versions: dict[str, Version] | None = None,
    sources_sink: list[IndexSources] | None = None,
    builds: BuildContext | None = None,
    session: IndexSession | None = None,
) -> tuple[Resolution, HttpClient]:
    """Resolve the request for `env`; the client is returned for the download step.

    `preferred_versions` (the pins of `compile`'s existing output file) are kept when
    the request allows them, like installed versions. `sources_sink` receives the index
    sources used (compile reads every file of a pinned version from them for hashes).
    `builds` (commands/build_env.py) builds what has no wheel: sdists' metadata and the
    direct references of `spec`, prepared first (their placeholder names fixed in
    `spec`); without it, only wheels are usable. `session` is the command's index session
    when it was opened early (commands/session.py); its client is the one returned."""
    exclude_newer = options.network.exclude_newer
    cutoff = None if exclude_newer is None else parse_exclude_newer(exclude_newer)
    if session is None:
        session = IndexSession.open(settings, cache, options.network)
    client, sources = session.client, session.sources
    try:
        if sources_sink is not None:
            sources_sink.append(sources)
        if builds is not None:
            builds.client = client
            if spec.has_direct_references:  # else no need to import what makes them
                from wherry.commands.direct import prepare_direct

                prepare_direct(spec, builds, client)
        # Installed versions are preferred (kept when the request allows them), except
        # under `-U` and for each `-P` package.
        preferences: dict[str, InstalledPreference] = {}
        for name, dists in installed.items():
            if len(dists) == 1 and not options.upgrades(name) and not (
                builds is not None and name in builds.direct
            ):
                preference = _preference(dists[0])
                if preference is not None:
                    preferences[name] = preference

        def run(requirements: list[SourcedRequirement],
                installed: dict[str, InstalledPreference], no_deps: bool) -> Resolution:
            return resolve(
                requirements,
                constraints=spec.constraints,
                files_for=sources.project_files,
                fetch_metadata=(
                    (lambda file: builds.metadata(file, client)) if builds is not None
                    else lambda file: wheel_metadata(file, client, cache)),
                tags=target.tags,
                markers=target.markers,
                python_version=Version(target.python_full_version),
                installed=installed,
                no_deps=no_deps,
                indexes_description=_describe_indexes(settings),
                exclude_newer=cutoff,
                first_match=settings.strategy == "unsafe-first-match",
                overrides=spec.overrides,
                excludes=spec.excludes,
                prerelease=prerelease_mode(options.prerelease, spec),
                resolution=options.resolution or "highest",
                preferences=preferred_versions,
                python_requested=options.python_version is not None,
                other_index=partial(_other_index_hint, sources, settings),
                direct=builds.direct if builds is not None else None,
                policy=getattr(options, "binary_policy", None),
            )

        resolution = run(spec.requirements, preferences, options.no_deps)
        # A package kept at its installed version but to be reinstalled needs that same
        # version's wheel from the index: find it with a second, dependency-free
        # resolution of exact pins (the first one answered from the installed metadata).
        refetch = [
            parse_requirement(f"{name}=={pin.version}", "--reinstall")
            for name, pin in sorted(resolution.pins.items())
            if isinstance(pin, InstalledPreference) and options.reinstalls(name)
        ]
        if refetch:
            again = run(refetch, {}, True)
            resolution.pins.update(again.pins)
            resolution.versions_tried += again.versions_tried
    except BaseException:
        client.close()
        raise
    return resolution, client


def _other_index_hint(sources: IndexSources, settings: IndexSettings, name: str) -> str | None:
    """Under `first-index`, a project found on one index is never looked up on the later
    ones: say so when the versions found there were not enough (uv's hint)."""
    from wherry.http.urls import redact_url

    if settings.strategy != "first-index" or len(settings.index_urls) < 2:
        return None
    found = sources.index_for(name)
    if found is None or found not in settings.index_urls:
        return None
    later = settings.index_urls[settings.index_urls.index(found) + 1:]
    if not later:
        return None
    return (
        f"`{name}` was found on {redact_url(found)}, but not at the requested version; "
        f"a compatible version may be available on a later index ({redact_url(later[0])}). "
        "By default, wherry only considers the first index that has a project, to avoid "
        "dependency confusion; if all indexes are equally trusted, use "
        "`--index-strategy unsafe-best-match`"
    )


def prerelease_mode(option: str | None, spec: RequirementsSpec) -> str:
    """`--prerelease` if given, else `allow` for a `--pre` line in a requirements file,
    else uv's default."""
    if option is not None:
        return option
    return "allow" if spec.pre else "if-necessary-or-explicit"


def _preference(dist: InstalledDist) -> InstalledPreference | None:
    try:
        version = Version(dist.version)
        data = (dist.path / "METADATA").read_bytes()
    except (OSError, ValueError):
        return None
    return InstalledPreference(version, parse_core_metadata(data))


class Plan(msgspec.Struct):
    """What to change: wheels to link in, distributions to take out, and what is kept.

    `extraneous` are installed distributions the resolution does not need: `install`
    keeps them (and says so at `-v`), `sync` removes them (they are also in `remove`).
    """

    install: list[Candidate] = msgspec.field(default_factory=list)
    remove: list[InstalledDist] = msgspec.field(default_factory=list)
    keep: list[str] = msgspec.field(default_factory=list)
    requested: set[str] = msgspec.field(default_factory=set)
    extraneous: list[InstalledDist] = msgspec.field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not self.install and not self.remove


def _never(name: str) -> bool:
    return False


def plan_changes(
    resolution: Resolution,
    installed: dict[str, list[InstalledDist]],
    requested: set[str],
    *,
    reinstall: Callable[[str], bool] = _never,
    exact: bool = False,
    retain: Collection[str] = (),
) -> Plan:
    """Compare the resolution with what is installed (uv's `Planner`).

    An installed distribution at the pinned version is kept unless `reinstall(name)`; one
    at another version (or several installed copies) is removed and the pin installed.
    Installed distributions the resolution does not mention are extraneous: kept, unless
    `exact` (sync), which removes all of them but the names in `retain` (seed packages).
    """
    plan = Plan(requested=requested)
    for name, pin in sorted(resolution.pins.items()):
        present = installed.get(name, [])
        if isinstance(pin, InstalledPreference) or (
            len(present) == 1 and _same_version(present[0].version, pin.version)
            and not reinstall(name) and _same_source(pin, present[0])
        ):
            plan.keep.append(name)
            continue
        if present:
            log.debug("Replacing %s (installed: %s) with %s==%s", name,
                      ", ".join(d.version for d in present), name, pin.version)
        plan.install.append(pin)
        plan.remove.extend(present)
    for name, dists in sorted(installed.items()):
        if name in resolution.pins:
            continue
        for dist in dists:
            plan.extraneous.append(dist)
            if exact and name not in retain:
                log.debug("Removing extraneous package: %s==%s", name, dist.version)
                plan.remove.append(dist)
            else:
                log.debug("Unnecessary package: %s==%s", name, dist.version)
    return plan


def _same_source(pin: Candidate, dist: InstalledDist) -> bool:
    """A direct reference is kept only when the installed copy came from it."""
    if pin.direct is None:
        return True
    from wherry.commands.direct import direct_satisfied

    return direct_satisfied(pin, dist)


def _same_version(installed: str, wanted: Version) -> bool:
    try:
        return Version(installed) == wanted
    except ValueError:
        return False


def execute_plan(
    env: InterpreterInfo,
    plan: Plan,
    cache: Cache,
    client: HttpClient,
    printer: Printer,
    options: InstallOptions,
    builds: BuildContext | None = None,
    hashes: RequestedHashes | None = None,
    prepared_sink: list[tuple[Candidate, Path]] | None = None,
) -> list[Change]:
    """Carry out `plan`; with `hashes` (from `--hash` options), every file installed for
    a hashed requirement is checked first (see commands/hashes.py). `prepared_sink`
    receives what was installed for each of `plan.install`, in order: the candidate as
    installed (a build's names the built wheel) and its unpacked archive."""
    from wherry.commands.install import Change

    start = time.perf_counter()
    unverified: set[str] = set()
    if hashes:
        unverified = hashes.check_before_download(plan.install)
    changes = [Change(d.canonical_name, d.version, "-") for d in plan.remove]
    changes += [Change(c.name, str(c.version), "+") for c in plan.install]
    changes.sort(key=lambda c: (c.name, c.sign == "+", c.version))
    if options.dry_run:
        if plan.is_empty:
            printer.summary("Would make no changes")
        else:
            if plan.remove:
                printer.summary(f"Would uninstall {counted(len(plan.remove))}")
            if plan.install:
                printer.summary(f"Would install {counted(len(plan.install))}")
            for change in changes:
                printer.summary(change.line())
        return changes
    if plan.is_empty:
        printer.summary(timed("Audited", len(plan.keep), start))
        return []
    from wherry.commands.apply import WheelToPlace, apply_plan
    from wherry.commands.prepare import cached_archive, downloaded_sha256, prepare_candidate

    def checked(candidate: Candidate, result: tuple[Candidate, Path]) -> tuple[Candidate, Path]:
        if hashes and candidate.name in unverified:
            hashes.check_downloaded(candidate, downloaded_sha256(candidate, cache))
        return result

    def prepare(candidate: Candidate) -> tuple[Candidate, Path]:
        return checked(candidate, prepare_candidate(candidate, cache, client, builds))

    with printer.progress("Preparing", len(plan.install)) as bar:  # a bar on a terminal
        # An index wheel whose archive is cached costs one `utime` (`cached_archive`):
        # answered here rather than through the pool (a warm install's every wheel).
        found: dict[int, tuple[Candidate, Path]] = {}
        for i, candidate in enumerate(plan.install):
            if candidate.direct is None and not candidate.needs_build:
                archive = cached_archive(candidate.wheel, cache)
                if archive is not None:
                    found[i] = bar.done(checked(candidate, (candidate, archive)),
                                        candidate.name)
        # Biggest first: big wheels queue for the unpacking processes, and the longest
        # jobs started first finish soonest overall.
        order = sorted((i for i in range(len(plan.install)) if i not in found),
                       key=lambda i: -(plan.install[i].wheel.size or 0))
        done = client.map(lambda c: bar.done(prepare(c), c.name),
                          [plan.install[i] for i in order]) if order else []
    found.update(zip(order, done, strict=True))
    prepared = [found[i] for i in range(len(plan.install))]
    if prepared_sink is not None:
        prepared_sink.extend(prepared)
    if plan.install:
        printer.summary(timed("Prepared", len(plan.install), start))
    start = time.perf_counter()
    apply_plan(env, plan.remove, [
        WheelToPlace(candidate.name, candidate.wheel.filename, archive,
                     requested=candidate.name in plan.requested,
                     direct_url=(candidate.direct.direct_url()
                                 if candidate.direct is not None else None))
        for candidate, archive in prepared
    ], printer, link_mode=options.link_mode,
        compile_bytecode=getattr(options, "compile_bytecode", None))
    if plan.remove:
        printer.summary(timed("Uninstalled", len(plan.remove), start))
    if plan.install:
        printer.summary(timed("Installed", len(plan.install), start))
    for change in changes:
        printer.summary(change.line())
    return changes

