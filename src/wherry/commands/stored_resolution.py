"""A stored resolution: an install whose every input is unchanged installs the pins it
resolved last time, without parsing requirements, importing the resolver or deciding
anything again.

Why: on a warm install the resolution itself is the largest piece of work left (parsing
the request imports `packaging`'s parser, the resolver is imported and run, each cached
page and metadata file is read back), all of it holding the GIL the page downloads need.
uv answers the same request in less time than that work takes here.

Never a different answer: a resolution is a function of its inputs, and each is part of
the key or checked before the stored pins are used (any difference, and the normal path
runs, and stores a fresh record):

- the request: every option of the command (`InstallOptions`, paths made absolute), the
  bytes of each requirements and build-constraints file, and every configured value
  (`config.Config.fingerprint`: configuration files and `PIP_*`/`WHERRY_*` variables);
- the target: the interpreter's probed facts (markers, tags, PEP 600 answers, scheme);
- what is installed there (name, version and dist-info of each distribution), since
  installed versions are preferred;
- local find-links: each listed file's name, size and modification time (a remote
  find-links page or file is never stored: what it offers is not in the key);
- wherry's own code: size and modification time of each of its modules;
- the index: the sha256 of every project page the resolution read (`IndexSources.
  page_digests`), or its 404. Those pages are fetched again (as the normal path would,
  the index sends no validators) and must hash the same: the files a page lists, hence
  every candidate and its metadata (immutable by file hash), follow from its bytes.

Only plain requests are stored (named requirements, `requirements/prescan.py`; no
constraints, overrides, extras, editables, `-U`/`--reinstall`, `--dry-run`, `--offline`
or `--exclude-newer`, which can depend on the clock) whose resolution installed every pin
fresh from the index (nothing kept, replaced, or from find-links or a URL): a wheel with
the sha256 the index gave, or an sdist's build, recorded as the built wheel that was
installed (the built-wheel cache answers the same for the same sdist, interpreter and
build options, all in the key); never with a remote find-links page (not in the page
digests). The unpacked archives must still be in the cache, else the normal path
prepares them.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

import msgspec

from wherry.cache.entry import write_atomic
from wherry.cache.layout import Cache
from wherry.commands.fingerprints import find_links_listing, package_files, size_and_time
from wherry.output import Printer, log, timed
from wherry.python.info import InterpreterInfo

if TYPE_CHECKING:
    from wherry.commands.install import Change, InstallOptions
    from wherry.commands.session import IndexSession
    from wherry.install.site import InstalledDist
    from wherry.settings import IndexSettings

_VERSION = 1


class StoredPin(msgspec.Struct):
    name: str  # canonical
    version: str
    filename: str
    sha256: str
    requested: bool


class StoredResolution(msgspec.Struct):
    """One record: its key material (compared on read), the pages the resolution read,
    its pins, and what the no-op verdict stored after the install needs (`closure`: the
    names satisfying the request, valid when the environment holds `after` again)."""

    key: str
    pages: dict[str, str]
    pins: list[StoredPin]
    after: dict[str, str]
    closure: list[str]
    files: list[str]
    variables: dict[str, str | None]


_DECODER = msgspec.msgpack.Decoder(StoredResolution)


def replayable(options: InstallOptions) -> bool:
    """Whether the request has the shape a stored resolution may answer."""
    if not options.keeps_installed or options.dry_run or options.editables:
        return False
    if options.network.offline:  # not stored or replayed (see the module's docstring)
        return False
    if options.constraint_files or options.network.exclude_newer is not None:
        return False
    from wherry.requirements.prescan import quick_names

    return quick_names(options.requirements, options.requirement_files) is not None


def request_key(options: InstallOptions, env: InterpreterInfo,
                installed: dict[str, list[InstalledDist]],
                settings: IndexSettings) -> str | None:
    """The key material of this request, or None when it cannot be stored (a remote
    find-links page, or a file that cannot be read)."""
    from wherry.commands.noop import metadata_file
    from wherry.config import current as current_config

    listings: list[Any] = []
    for location in settings.find_links:
        if location.lower().startswith(("http:", "https:")):
            return None  # a remote page or file: what it offers is not in the key
        listings.append([location, find_links_listing(location)])
    files: dict[str, str | None] = {}
    build_constraints = options.build.build_constraint_files if options.build else []
    for path in [*options.requirement_files, *build_constraints]:
        try:
            files[os.path.abspath(path)] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        except OSError:
            return None
    material = {
        "version": _VERSION,
        "code": _code_fingerprint(),
        "options": _plain({k: v for k, v in vars(options).items() if not k.startswith("_")}),
        "files": files,
        "config": current_config().fingerprint(),
        "interpreter": env.raw,
        # What is installed, down to each metadata file's stat (installed versions are
        # preferred, with their dependencies as their metadata states them).
        "installed": {name: sorted([d.version, d.path.name, *size_and_time(metadata_file(d))]
                                   for d in dists)
                      for name, dists in sorted(installed.items())},
        "indexes": [settings.index_urls, settings.strategy],
        "find_links": listings,
    }
    return json.dumps(material, sort_keys=True, default=repr)


def load(cache: Cache, key: str) -> StoredResolution | None:
    try:
        record = _DECODER.decode(_path(cache, key).read_bytes())
    except (OSError, msgspec.DecodeError, msgspec.ValidationError):
        return None
    return record if record.key == key else None


def store(cache: Cache, record: StoredResolution) -> None:
    """Write a record atomically (a failure to write is logged, never fatal)."""
    try:
        write_atomic(_path(cache, record.key), msgspec.msgpack.encode(record))
    except OSError as exc:
        log.debug("Cannot store the resolution: %s", exc)


def _path(cache: Cache, key: str) -> Path:
    digest = hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:32]
    return cache.bucket("resolutions") / f"{digest}.msgpack"


def page_names(record: StoredResolution) -> list[str]:
    """The projects whose pages the stored resolution read."""
    names: list[str] = []
    for entry in record.pages:
        name = entry.rpartition(" ")[2]
        if name not in names:
            names.append(name)
    return names


def pages_unchanged(record: StoredResolution, session: IndexSession) -> bool:
    """Read the record's pages through `session` (already asked for them); True when
    the index answers each with the same bytes as when the record was made. A failed
    lookup is False: the normal path meets it again and reports it."""
    sources = session.sources
    for name in page_names(record):
        try:
            sources.project_files(name)
        except Exception:
            return False
    current = sources.page_digests()
    if current != record.pages:
        log.debug("The index answered differently since the resolution was stored; "
                  "resolving again")
        return False
    return True


def replay(record: StoredResolution, env: InterpreterInfo, cache: Cache, printer: Printer,
           options: InstallOptions, start: float) -> list[Change] | None:
    """Install the record's pins; None (nothing done) when an archive is no longer in
    the cache."""
    from wherry.commands.apply import WheelToPlace, apply_plan
    from wherry.commands.install import Change
    from wherry.install.archives import archive_path

    looked_up = time.perf_counter()
    wheels: list[WheelToPlace] = []
    for pin in record.pins:
        archive = archive_path(cache, pin.sha256)
        if archive is None:
            log.debug("%s is no longer in the cache; resolving again", pin.filename)
            return None
        wheels.append(WheelToPlace(pin.name, pin.filename, archive, pin.requested))
    log.debug("Using the stored resolution of this request (%d pages unchanged)",
              len(record.pages))
    count = len(record.pins)
    printer.summary(timed("Resolved", count, start))
    printer.summary(timed("Prepared", count, looked_up))  # each archive found in the cache
    applied = time.perf_counter()
    apply_plan(env, [], wheels, printer, link_mode=options.link_mode,
               compile_bytecode=options.compile_bytecode)
    printer.summary(timed("Installed", count, applied))
    changes = sorted((Change(pin.name, pin.version, "+") for pin in record.pins),
                     key=lambda c: (c.name, c.version))
    for change in changes:
        printer.summary(change.line())
    _record_verdict(record, env, cache, options)
    return changes


def _record_verdict(record: StoredResolution, env: InterpreterInfo, cache: Cache,
                    options: InstallOptions) -> None:
    """The no-op verdict the normal path stores after installing, from the record's
    closure when the environment holds what it held then (else none is stored, and the
    next run audits in full)."""
    from wherry.commands import noop
    from wherry.commands.environment import site_dirs
    from wherry.install.site import scan_site_packages
    from wherry.requirements.parse import RequirementsSpec

    dirs = site_dirs(env)
    after = scan_site_packages(dirs)
    if {name: [d.version for d in dists] for name, dists in after.items()} != {
            name: [version] for name, version in record.after.items()}:
        return
    spec = RequirementsSpec(files=[Path(f) for f in record.files],
                            variables=dict(record.variables))
    noop.record(options, env, cache, spec, dirs, [after[name][0] for name in record.closure])


def make_record(key: str, pages: dict[str, str] | None, pins: Iterable[StoredPin],
                after: dict[str, list[InstalledDist]], closure: Iterable[InstalledDist],
                files: Iterable[Path], variables: dict[str, str | None]
                ) -> StoredResolution | None:
    """A record of a finished install, or None when the environment after it holds more
    than one copy of a name (the verdict could not be rebuilt from names)."""
    if pages is None:
        return None
    versions: dict[str, str] = {}
    for name, dists in after.items():
        if len(dists) != 1:
            return None
        versions[name] = dists[0].version
    return StoredResolution(
        key=key, pages=pages, pins=list(pins), after=versions,
        closure=sorted(d.canonical_name for d in closure),
        files=[str(f) for f in files], variables=dict(variables),
    )


def _code_fingerprint() -> list[Any]:
    # Paths below the package's folder, by slicing: `os.path.relpath` made this ~3 ms.
    start = len(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))) + 1
    return [[path[start:], *size_and_time(path)] for path in package_files()]


def _plain(value: Any) -> Any:
    """`value` as JSON data that compares equal exactly when the value does (sets
    sorted, paths absolute, objects by their public attributes)."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, PurePath):
        return os.path.abspath(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(json.dumps(_plain(v), sort_keys=True) for v in value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if hasattr(value, "__dict__"):
        return {k: _plain(v) for k, v in vars(value).items() if not k.startswith("_")}
    return repr(value)
