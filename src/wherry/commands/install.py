"""`wherry pip install`: resolve, prepare, and change the environment in one transaction."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

from wherry.cache.layout import Cache
from wherry.commands.environment import site_dirs, target_environment
from wherry.errors import RequirementError
from wherry.output import Printer, change_line, log, timed
from wherry.python.info import InterpreterInfo
from wherry.settings import NetworkSettings

TYPE_CHECKING = False  # not `from typing import ...`: importing typing costs ~3 ms

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from wherry.build.options import BuildOptions
    from wherry.commands.pipeline import Plan
    from wherry.commands.session import IndexSession
    from wherry.commands.stored_resolution import StoredResolution
    from wherry.index.sources import IndexSources
    from wherry.install.site import InstalledDist
    from wherry.requirements.parse import RequirementsSpec
    from wherry.resolve.candidates import BinaryPolicy, Candidate
    from wherry.settings import IndexSettings

    # Told of an install that was a stored resolution's: the environment, the record,
    # the index settings and sources it was read with, and what was installed before
    # (`recorded_install.before_install`).
    OnStored = Callable[[InterpreterInfo, StoredResolution, IndexSettings, IndexSources,
                         dict[str, Any]], None]


class InstallOptions:
    """Everything `pip install` was asked to do, already parsed from the command line.

    A plain class rather than a dataclass, to keep `dataclasses` off the no-op path.
    """

    def __init__(
        self,
        *,
        requirements: list[str] | None = None,
        requirement_files: list[Path] | None = None,
        constraint_files: list[Path] | None = None,
        python: str | None = None,
        system: bool = False,
        break_system_packages: bool = False,
        index_url: str | None = None,
        extra_index_urls: list[str] | None = None,
        find_links: list[str] | None = None,
        no_index: bool = False,
        index_strategy: str | None = None,
        no_deps: bool = False,
        dry_run: bool = False,
        upgrade: bool = False,
        upgrade_packages: list[str] | None = None,
        reinstall: bool = False,
        reinstall_packages: list[str] | None = None,
        link_mode: str | None = None,
        compile_bytecode: bool | None = None,
        target: Path | None = None,
        prefix: Path | None = None,
        python_platform: str | None = None,
        python_version: str | None = None,
        network: NetworkSettings | None = None,
        override_files: list[Path] | None = None,
        exclude_files: list[Path] | None = None,
        extras: list[str] | None = None,
        all_extras: bool = False,
        groups: list[str] | None = None,
        prerelease: str | None = None,
        resolution: str | None = None,
        editables: list[str] | None = None,
        build: BuildFlags | None = None,
    ) -> None:
        # Source builds (cli/options.py `add_build_options`): `-e PATH` requirements, the
        # binary policy and the build settings, turned into their objects when used.
        self.editables = list(editables or [])
        self.build = build
        # Resolver options (cli/options.py `add_resolver_options`): `--override`,
        # `--exclude`, `--extra`/`--all-extras`/`--group` and uv's `--prerelease` and
        # `--resolution` modes (None: the default, or `--pre` in a requirements file).
        self.override_files = list(override_files or [])
        self.exclude_files = list(exclude_files or [])
        self.extras = list(extras or [])
        self.all_extras = all_extras
        self.groups = list(groups or [])
        self.prerelease = prerelease
        self.resolution = resolution
        self.requirements = list(requirements or [])
        self.requirement_files = list(requirement_files or [])
        self.constraint_files = list(constraint_files or [])
        self.python = python
        self.system = system
        self.break_system_packages = break_system_packages
        self.index_url = index_url
        self.extra_index_urls = list(extra_index_urls or [])
        self.find_links = list(find_links or [])
        self.no_index = no_index
        self.index_strategy = index_strategy
        self.no_deps = no_deps
        self.dry_run = dry_run
        self.upgrade = upgrade
        # Canonical names (PEP 503), so `-P Foo_Bar` matches the pin `foo-bar`.
        self.upgrade_packages = sorted({_canonical(n) for n in upgrade_packages or []})
        self.reinstall = reinstall
        self.reinstall_packages = sorted({_canonical(n) for n in reinstall_packages or []})
        self.link_mode = link_mode  # None: WHERRY_LINK_MODE, else clone (install/link.py)
        self.compile_bytecode = compile_bytecode  # None: WHERRY_COMPILE_BYTECODE
        self.target = target  # --target DIR / --prefix DIR (commands/environment.py)
        self.prefix = prefix
        self.python_platform = python_platform
        self.python_version = python_version
        self.network = network or NetworkSettings()
        if reinstall:  # as uv: reinstalling implies revalidating what the cache holds
            self.network.refresh = True
        elif self.reinstall_packages:
            self.network.refresh_packages = (
                self.network.refresh_packages | frozenset(self.reinstall_packages)
            )

    @property
    def binary_policy(self) -> BinaryPolicy:
        from wherry.commands.build_flags import binary_policy

        return binary_policy(self.build)

    @property
    def build_options(self) -> BuildOptions:
        from wherry.commands.build_flags import build_options

        if self._build_options is None:
            self._build_options = build_options(self.build, self.network)
        return self._build_options

    _build_options: BuildOptions | None = None

    def upgrades(self, name: str) -> bool:
        """May the resolver move installed `name` (canonical) away from its version?"""
        return self.upgrade or name in self.upgrade_packages

    def reinstalls(self, name: str) -> bool:
        """Must `name` (canonical) be reinstalled even when installed at the chosen version?"""
        return self.reinstall or name in self.reinstall_packages

    @property
    def keeps_installed(self) -> bool:
        """True when nothing asks to move or replace an installed distribution, so an
        environment that already satisfies the request may be answered "Audited"."""
        return not (self.upgrade or self.upgrade_packages or self.reinstall
                    or self.reinstall_packages
                    # Overrides and excludes change what transitive requirements mean,
                    # which the satisfied check and the no-op verdict do not model.
                    or self.override_files or self.exclude_files
                    or self.extras or self.all_extras or self.groups)


class BuildFlags:
    """The build flags as given: `--no-build-isolation[-package]`, `--no-build`,
    `--no-binary`, `--only-binary`, `-C KEY=VALUE`, `--build-constraint FILE`."""

    def __init__(
        self,
        *,
        no_build_isolation: bool = False,
        no_build_isolation_packages: list[str] | None = None,
        no_build: bool = False,
        no_binary: list[str] | None = None,
        only_binary: list[str] | None = None,
        config_settings: list[str] | None = None,
        build_constraint_files: list[Path] | None = None,
    ) -> None:
        self.no_build_isolation = no_build_isolation
        self.no_build_isolation_packages = list(no_build_isolation_packages or [])
        self.no_build = no_build
        self.no_binary = list(no_binary or [])
        self.only_binary = list(only_binary or [])
        self.config_settings = list(config_settings or [])
        self.build_constraint_files = list(build_constraint_files or [])


def _canonical(name: str) -> str:
    from wherry.install.site import canonicalize_name

    return canonicalize_name(name.strip())


class Change:
    """One line of an install's summary: ` + name==1.0` or ` - name==0.9`."""

    def __init__(self, name: str, version: str, sign: str) -> None:
        self.name = name
        self.version = version
        self.sign = sign

    def line(self) -> str:
        return change_line(self.sign, self.name, self.version)


def gather_requirements(options: InstallOptions) -> RequirementsSpec:
    from wherry.requirements.gather import gather_requirements as gather

    spec = gather(
        requirements=options.requirements,
        requirement_files=options.requirement_files,
        constraint_files=options.constraint_files,
        override_files=options.override_files,
        exclude_files=options.exclude_files,
        extras=options.extras,
        all_extras=options.all_extras,
        groups=options.groups,
    )
    if spec.no_binary or spec.only_binary:  # from requirements files, after the flags'
        flags = options.build or BuildFlags()
        flags.no_binary = [*flags.no_binary, *spec.no_binary]
        flags.only_binary = [*flags.only_binary, *spec.only_binary]
        options.build = flags
    if options.editables:
        from wherry.requirements.parse import parse_requirement

        spec.requirements.extend(parse_requirement(path, "command line (-e)", editable=True)
                                 for path in options.editables)
    return spec


def prepare_environment(options: InstallOptions, cache: Cache) -> InterpreterInfo:
    """The environment a modifying command acts on, with the options checked that must
    fail even when there turns out to be nothing to do."""
    env = target_environment(
        options.python, cache, system=options.system,
        break_system_packages=options.break_system_packages,
        target=options.target, prefix=options.prefix,
    )
    log.debug("Using Python %s environment at: %s", env.full_version, env.prefix)
    if options.network.exclude_newer is not None:
        from wherry.resolve.candidates import parse_exclude_newer

        parse_exclude_newer(options.network.exclude_newer)
    return env


def install(options: InstallOptions, cache: Cache, printer: Printer,
            on_audited: Callable[[InterpreterInfo], None] | None = None,
            on_stored: OnStored | None = None) -> list[Change]:
    """Install the requested packages into the target environment; return the changes.

    `on_audited` is told the environment when there was nothing to do and the no-op
    verdict for this request is stored; `on_stored`, when the install was a stored
    resolution's, replayed or just stored (the command replay records from both)."""
    start = time.perf_counter()
    prepare_tls(options)
    from wherry.python.info import while_probing

    early = EarlyStart(options, cache)
    try:
        with while_probing(early.begin):
            env = prepare_environment(options, cache)
        from wherry.commands import noop

        # The stored verdicts know nothing of `-e` projects, which are always reinstalled.
        audited = None if options.editables else noop.check(options, env, cache)
        if audited is not None:
            printer.summary(timed("Audited", audited, start))
            if on_audited is not None:
                on_audited(env)
            return []
        if not early.begun:
            changes = early.begin_in(env, printer, start)
            if changes is not None:  # a stored resolution, replayed
                if (on_stored is not None and early.replayed is not None
                        and early.stored_before is not None):
                    on_stored(env, *early.replayed, early.stored_before)
                return changes
        spec = early.spec if early.spec is not None else gather_requirements(options)
        if not spec.requirements:
            raise RequirementError(
                "no requirements given", hint="name packages to install, or pass `-r FILE`"
            )
        settings = early.settings if early.settings is not None else (
            index_settings(options, spec))
        session, early.session = early.session, None
    finally:
        early.close()
    try:
        return install_into(env, spec, settings, cache, printer, options, start=start,
                            on_audited=on_audited, session=session, installed=early.installed,
                            stored_key=early.stored_key, stored_before=early.stored_before,
                            on_stored=on_stored)
    except BaseException:
        if session is not None:  # closing twice is harmless
            session.close()
        raise


class EarlyStart:
    """What a resolving command can begin while its interpreter is probed: read the
    requirements, open the index session, send the requests for the pages it is sure to
    read, and import the resolver (`preload_resolution`).

    Why: a probe (a new or changed interpreter: every fresh virtual environment) is a
    20-40 ms subprocess, and the pages of the requested packages do not depend on its
    answer: only a requirement with a marker does, and those wait. A page requested for
    a package that turns out to be installed already is a wasted request, never a
    different answer. When the interpreter's answer is cached, nothing here runs before
    the no-op check (the no-op path stays as light as it was); if the request is not
    satisfied, `begin_in` does the same work then, leaving out installed packages.
    Failures are left for the normal path to meet and report.
    """

    def __init__(self, options: InstallOptions, cache: Cache) -> None:
        self.options = options
        self.cache = cache
        self.spec: RequirementsSpec | None = None
        self.settings: IndexSettings | None = None
        self.session: IndexSession | None = None
        self.begun = False
        # What the target has installed, when it was scanned before the early requests
        # (`begin_in`): their pages are not requested early, and `install_into` uses
        # the scan instead of making it again.
        self.installed: dict[str, list[InstalledDist]] | None = None
        self._installed: frozenset[str] = frozenset()
        # The key a stored resolution of this request is (or would be) kept under
        # (commands/stored_resolution.py); None when the request is not of that kind.
        self.stored_key: str | None = None
        # The environment as that key saw it (recorded_install.before_install).
        self.stored_before: dict[str, Any] | None = None
        # The stored resolution replayed, with its settings and index sources (for the
        # command replay to record: commands/recorded_install.py).
        self.replayed: tuple[StoredResolution, IndexSettings, IndexSources] | None = None

    def begin(self) -> None:
        self.begun = True
        try:
            with contextlib.suppress(Exception):  # met again, and reported, later
                self._request()
        finally:
            preload_resolution()

    def begin_in(self, env: InterpreterInfo, printer: Printer, start: float
                 ) -> list[Change] | None:
        """`begin`, for an environment already known and found not to satisfy the
        request (its answer came from the cache, so no probe ran to fill): the same
        early requests, less the pages of packages installed there (a changed
        requirements file in a full environment must not refetch every page).

        First, a stored resolution of this very request whose inputs are all unchanged
        is installed instead (its changes are returned); when its pages turn out to
        differ, the pages already read serve the normal path."""
        from wherry.install.site import scan_site_packages

        with contextlib.suppress(Exception):  # `install_into` scans again, and reports
            self.installed = scan_site_packages(site_dirs(env))
            if not self.options.upgrade:
                self._installed = frozenset(
                    name for name in self.installed
                    if name not in self.options.upgrade_packages)
        if self.installed is not None:
            changes = self._replay(env, self.installed, printer, start)
            if changes is not None:
                return changes
        self.begin()
        return None

    def _replay(self, env: InterpreterInfo, installed: dict[str, list[InstalledDist]],
                printer: Printer, start: float) -> list[Change] | None:
        from wherry.commands import stored_resolution as stored

        if not stored.replayable(self.options):
            return None
        from wherry.requirements.parse import RequirementsSpec

        try:
            settings = index_settings(self.options, RequirementsSpec())
            self.stored_key = stored.request_key(self.options, env, installed, settings)
            if self.stored_key is None:
                return None
            from wherry.commands.recorded_install import before_install

            self.stored_before = before_install(env, installed)
            record = stored.load(self.cache, self.stored_key)
            if record is None:
                return None
            self._open(settings, stored.page_names(record))
            assert self.session is not None
            if not stored.pages_unchanged(record, self.session):
                return None
        except Exception as exc:  # met again, and reported, by the normal path
            log.debug("Not using a stored resolution: %s", exc)
            return None
        changes = stored.replay(record, env, self.cache, printer, self.options, start)
        if changes is not None:
            assert self.session is not None
            self.replayed = (record, settings, self.session.sources)
            self.close()
        return changes

    def _request(self) -> None:
        if not self.options.editables:
            if self.options.network.exclude_newer is not None:
                from wherry.resolve.candidates import parse_exclude_newer

                parse_exclude_newer(self.options.network.exclude_newer)  # a usage error
            names = self._plain_names()
            if names is not None:
                # Every input is a plain `name==version` kind of line: their pages are
                # requested now, and the parse (which imports packaging) runs while
                # they travel. No file option was seen, so the settings are the
                # command line's, the same the full parse gives.
                from wherry.requirements.parse import RequirementsSpec

                self._open(index_settings(self.options, RequirementsSpec()),
                           [name for name in names if name not in self._installed])
            spec = gather_requirements(self.options)
            self.spec = spec
            if self.session is None:
                from wherry.commands.session import certain_lookups

                self._open(index_settings(self.options, spec),
                           certain_lookups(spec, None, self._installed))

    def _plain_names(self) -> list[str] | None:
        """The names of the requirements when each is a plain named one and nothing
        else could change which pages are read (no constraints, overrides, excludes,
        extras or groups); else None. See requirements/prescan.py."""
        options = self.options
        if (options.constraint_files or options.override_files or options.exclude_files
                or options.extras or options.all_extras or options.groups):
            return None
        from wherry.requirements.prescan import quick_names

        return quick_names(options.requirements, options.requirement_files)

    def _open(self, settings: IndexSettings, names: list[str]) -> None:
        """Open the session (once: a stored resolution's may be open) and ask for the
        pages of `names`."""
        from wherry.commands.session import IndexSession

        if self.session is None:
            self.settings = settings
            self.session = IndexSession.open(settings, self.cache, self.options.network)
        self.session.head_start(names)

    def close(self) -> None:
        """Close the session unless it was handed on (set to None by the taker)."""
        if self.session is not None:
            self.session.close()
            self.session = None


def preload_resolution() -> None:
    """Import what a resolving command needs once its environment is known: the
    resolver, the index layer, the install pipeline and the HTTP wire layer (together
    80-120 ms of CPU). Run while an interpreter probe runs (`python.info.while_probing`),
    so those imports fill a wait instead of competing with the threads reading the first
    answers (every 16 KB read of a response needs the GIL back). The install step's
    modules too (`apply`, `prepare`, `satisfied`: ~8 ms), which were otherwise imported
    after the resolution, when nothing else is left to overlap them with."""
    import wherry.commands.apply
    import wherry.commands.build_env
    import wherry.commands.hashes
    import wherry.commands.pipeline
    import wherry.commands.prepare
    import wherry.commands.satisfied
    import wherry.http.wire  # noqa: F401  (what the HTTP client imports on its first request)


def prepare_tls(options: InstallOptions) -> None:
    """Have the TLS context built in the background while the environment is examined,
    when the command line's and configuration's index locations include HTTPS (the
    requirements files' own `--index-url` lines are not read for this: a guess costs at
    most a context built for nothing, on the other core). See `http/tls.prepare_tls`."""
    if options.network.offline or options.no_index:
        return
    from wherry.http.tls import prepare_tls as start

    def locations() -> list[str]:
        from wherry.settings import resolve_index_settings

        settings = resolve_index_settings(
            cli_index_url=options.index_url, cli_extra_index_urls=options.extra_index_urls,
            cli_find_links=options.find_links, cli_no_index=options.no_index)
        return [*settings.index_urls, *settings.find_links]

    start(options.network.cert, locations)


def index_settings(options: InstallOptions, spec: RequirementsSpec) -> IndexSettings:
    """The index settings of the command line merged with those of the requirements files
    (and every other source: `settings.resolve_index_settings`)."""
    from wherry.settings import resolve_index_settings

    return resolve_index_settings(
        cli_index_url=options.index_url,
        cli_extra_index_urls=options.extra_index_urls,
        cli_find_links=options.find_links,
        cli_no_index=options.no_index,
        cli_index_strategy=options.index_strategy,
        file_index_url=spec.index_url,
        file_extra_index_urls=spec.extra_index_urls,
        file_find_links=spec.find_links,
        file_no_index=spec.no_index,
    )


def install_into(
    env: InterpreterInfo,
    spec: RequirementsSpec,
    settings: IndexSettings,
    cache: Cache,
    printer: Printer,
    options: InstallOptions,
    *,
    start: float,
    on_audited: Callable[[InterpreterInfo], None] | None = None,
    session: IndexSession | None = None,
    installed: dict[str, list[InstalledDist]] | None = None,
    stored_key: str | None = None,
    stored_before: dict[str, Any] | None = None,
    on_stored: OnStored | None = None,
) -> list[Change]:
    """Resolve and install `spec` into `env`. `installed`: the target's distributions,
    when the caller has just scanned them (another process may change them meanwhile,
    as after any scan: the install step checks again under the environment's lock).
    `stored_key`: the request's key in commands/stored_resolution.py, made from that
    scan (`stored_before`: the environment then, `recorded_install.before_install`); the
    resolution is stored under it when it is of the kind that may be, and `on_stored`
    told."""
    from wherry.commands import noop
    from wherry.commands.session import IndexSession, certain_lookups
    from wherry.install.site import scan_site_packages
    from wherry.platform.targets import target_for

    target = target_for(env, python_platform=options.python_platform,
                        python_version=options.python_version)
    dirs = site_dirs(env)
    if installed is None:
        installed = scan_site_packages(dirs)
    if stored_key is None:
        from wherry.commands import stored_resolution

        if stored_resolution.replayable(options):  # a new interpreter: store for next time
            stored_key = stored_resolution.request_key(options, env, installed, settings)
            stored_before = None
    if stored_key is not None and stored_before is None:
        from wherry.commands.recorded_install import before_install

        stored_before = before_install(env, installed)
    # Requested packages that are not installed: the request is not satisfied, and their
    # pages will be read. Those requests leave now, before the resolver is imported.
    missing = certain_lookups(spec, target.markers, installed, options.upgrades)
    if options.keeps_installed and not missing:
        from wherry.commands.satisfied import satisfied_closure

        closure = satisfied_closure(spec.requirements, spec.constraints, installed, target.markers)
        if closure is not None:
            if session is not None:
                session.close()
            noop.record(options, env, cache, spec, dirs, closure)
            count = len(closure)
            printer.summary(timed("Audited", count, start))
            if on_audited is not None:
                on_audited(env)
            return []
    if session is None:
        session = IndexSession.open(settings, cache, options.network)
    try:
        session.head_start(missing)
        from wherry.commands.build_env import BuildContext
        from wherry.commands.hashes import RequestedHashes
        from wherry.commands.pipeline import execute_plan, plan_changes, resolve_for

        builds = BuildContext(env, target, settings, cache, options,
                              build_ahead=not options.dry_run)
    except BaseException:
        session.close()
        raise
    try:
        resolution, client = resolve_for(target, spec, settings, cache, installed, options,
                                         builds=builds, session=session)
        try:
            count = len(resolution.pins)
            printer.summary(timed("Resolved", count, start))
            requested = {item.name for item in spec.requirements}
            plan = plan_changes(resolution, installed, requested, reinstall=options.reinstalls)
            hashes = RequestedHashes.of([*spec.requirements, *spec.constraints])
            prepared: list[tuple[Candidate, Path]] = []
            changes = execute_plan(env, plan, cache, client, printer, options, builds=builds,
                                   hashes=hashes, prepared_sink=prepared)
        finally:
            client.close()
    finally:
        builds.close()
    if not options.dry_run:
        from wherry.commands.satisfied import satisfied_closure

        after = scan_site_packages(dirs)
        closure = satisfied_closure(spec.requirements, spec.constraints, after, target.markers)
        if closure is not None:
            noop.record(options, env, cache, spec, dirs, closure)
            if stored_key is not None:
                record = _store_resolution(stored_key, env, cache, options, settings,
                                           installed, session, plan, prepared, after,
                                           closure, spec)
                if record is not None and on_stored is not None and stored_before is not None:
                    on_stored(env, record, settings, session.sources, stored_before)
    return changes


def _store_resolution(
    key: str, env: InterpreterInfo, cache: Cache, options: InstallOptions,
    settings: IndexSettings, before: dict[str, list[InstalledDist]], session: IndexSession,
    plan: Plan, prepared: list[tuple[Candidate, Path]], after: dict[str, list[InstalledDist]],
    closure: list[InstalledDist], spec: RequirementsSpec,
) -> StoredResolution | None:
    """Store the resolution just installed when it may be replayed (see
    commands/stored_resolution.py): every pin installed fresh from the index (a wheel
    whose sha256 the index gave, or an sdist's build, as the built-wheel cache holds
    it), and the request's inputs unchanged since the key was made. The record
    stored, if any."""
    from wherry.commands import stored_resolution as stored

    if plan.keep or plan.remove or len(prepared) != len(plan.install):
        return None
    pins: list[stored.StoredPin] = []
    for candidate, (installed_as, archive) in zip(plan.install, prepared, strict=True):
        if (candidate.direct is not None
                or candidate.wheel.index_url not in session.sources.index_urls):
            return None
        file = installed_as.wheel  # the built wheel, for an sdist
        sha256 = file.hashes.get("sha256")
        if sha256 is None or (not candidate.needs_build and candidate.wheel != file):
            return None
        if archive.name != sha256.lower():  # not where `archive_path` finds it again
            return None
        pins.append(stored.StoredPin(candidate.name, str(candidate.version), file.filename,
                                     sha256, candidate.name in plan.requested))
    if stored.request_key(options, env, before, settings) != key:
        return None  # a requirements file or find-links folder changed meanwhile
    record = stored.make_record(key, session.sources.page_digests(), pins, after, closure,
                                spec.files, spec.variables)
    if record is not None:
        stored.store(cache, record)
    return record


def seed_environment(venv_info: InterpreterInfo, cache: Cache, printer: Printer) -> None:
    """Install pip (and setuptools and wheel below Python 3.12) into a new venv (`--seed`)."""
    packages = ["pip"] if venv_info.version >= (3, 12, 0) else ["pip", "setuptools", "wheel"]
    options = InstallOptions(requirements=packages, python=venv_info.executable)
    spec = gather_requirements(options)
    from wherry.settings import resolve_index_settings

    settings = resolve_index_settings(
        cli_index_url=None, cli_extra_index_urls=[], cli_find_links=[], cli_no_index=False
    )
    install_into(venv_info, spec, settings, cache, printer, options, start=time.perf_counter())
