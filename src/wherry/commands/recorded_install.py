"""A repeated install answered before argparse: the pins of a stored resolution
(commands/stored_resolution.py), installed again for the very same invocation once every
page that resolution read has been read again and hashes the same.

Why: the stored resolution spares a warm install its resolution, but reaching it still
costs the normal path's set-up: argparse and the command's parser, the configuration
layers, the interpreter lookup, msgspec, `packaging` and the index layer (~80 ms of CPU
before the first page request leaves, measured on the 7-sdist scenario, whose whole run
uv does in ~170 ms). A `pip install` invocation that stored a resolution records here
what installing it again takes, and the same invocation later does only that: read the
pages, compare, place the archives.

Never a different answer. The entry is found by the command replay's key (cli/replay.py:
the arguments, the working directory, every environment variable, the kernel, whether
the streams are terminals, wherry's version), so every option and configured value is
what it was; the rest is checked before anything is changed (any difference: the normal
path runs, from the start):

- the files the answer depends on, by stat: the configuration files, the `.venv`
  directories discovery looks at, every module of wherry, the requirements and
  build-constraints files, and the page-cache entry of each page read (unchanged, each is
  still an entry that can answer no request, so the normal path would send the same
  plain requests: `CachedGet.plain`);
- the interpreter, by its validators (python/validators.py), whose probed facts are the
  ones recorded;
- what is installed: each distribution's metadata file, by stat, as the stored
  resolution's key has it (`dist_entries`);
- each local find-links location's listing (`find_links_listing`);
- the index: each page is requested again, as the normal path would, and its sha256 (or
  404) must be the recorded one;
- each pin's unpacked archive must still be in the cache.

What it writes is what the normal path writes for the same run: the environment's new
files (`apply_plan`, one transaction under the environment's lock) and the no-op verdict
(commands/noop.py) when the environment then holds what it held when this was recorded.
Left as they are, as the normal path leaves them for a run whose pages did not change:
the page cache and the stored resolution. Left for a later run: the interpreter cache's
soft validators (site directory stats, python/info.py).
"""

from __future__ import annotations

import os
import sys
import time

from wherry.commands.fingerprints import dist_entries, find_links_listing, size_and_time

TYPE_CHECKING = False  # not `from typing import ...`: importing typing costs ~3 ms

if TYPE_CHECKING:
    from typing import Any

    from wherry.cache.layout import Cache
    from wherry.commands.install import InstallOptions
    from wherry.commands.stored_resolution import StoredResolution
    from wherry.index.sources import IndexSources
    from wherry.install.site import InstalledDist
    from wherry.python.info import InterpreterInfo
    from wherry.settings import IndexSettings

_FORMAT = 1


# -- what both sides compute (the comparisons themselves: commands/fingerprints.py) -----


def before_install(env: InterpreterInfo, installed: dict[str, list[InstalledDist]]
                   ) -> dict[str, Any]:
    """The environment as the stored resolution's key saw it, taken with the scan that
    key was made from: its distributions (`dist_entries`, from the scan: a directory
    the scan could not read is missing here and present in `dist_entries`, so such an
    environment never matches, and takes the normal path) and the interpreter's
    validators. Both before the install: what it installs (a `.pth` file, say) is not
    in a fresh environment the next run installs into."""
    from wherry.python.validators import validators_of

    return {"dists": _installed_entries(installed),
            "interpreter": validators_of(env.executable, env.raw)}


def _installed_entries(installed: dict[str, list[InstalledDist]]) -> list[list[Any]]:
    from wherry.commands.noop import metadata_file

    return sorted([str(dist.path), size_and_time(metadata_file(dist))]
                  for dists in installed.values() for dist in dists)


# -- recording (the normal path) --------------------------------------------------------


def facts(options: InstallOptions, env: InterpreterInfo, cache: Cache,
          record: StoredResolution, settings: IndexSettings, sources: IndexSources,
          before: dict[str, Any]) -> dict[str, Any] | None:
    """What installing `record` again takes, for the command replay to keep (plain data);
    None when this run cannot be answered that way: `--target`/`--prefix`, an index URL
    with credentials, or a page that was not read by a plain request."""
    from wherry.commands import noop
    from wherry.commands.environment import site_dirs

    if options.target is not None or options.prefix is not None or options.system:
        return None
    from urllib.parse import urlsplit

    if any(urlsplit(url).username is not None for url in settings.index_urls):
        return None  # the entry would hold the URL's credentials
    requests = sources.plain_requests()
    if requests is None or set(requests) != set(record.pages):
        return None
    pages = []
    for key, (url, accept, entry) in sorted(requests.items()):
        size = size_and_time(entry)[:1] if entry is not None else []
        pages.append([url, accept, record.pages[key], entry, size[0] if size else -1])
    dirs = [str(d) for d in site_dirs(env)]
    build_constraints = options.build.build_constraint_files if options.build else []
    verdict = None
    stored = noop.stored(options, env, cache)
    if stored is not None:
        name, material = noop.verdict_key(options, env)
        count, files, variables = stored
        verdict = {"name": name, "key": material, "count": count, "files": files,
                   "variables": variables}
    network = options.network
    client = sources.client  # as configured, with the values exported from config files
    return {
        "format": _FORMAT,
        "raw": env.raw,
        "files": [os.path.abspath(f) for f in [*options.requirement_files,
                                                *build_constraints]],
        "find_links": [[location, find_links_listing(location)]
                       for location in settings.find_links],
        "site_dirs": dirs,
        "before": before["dists"],
        "interpreter": before["interpreter"],  # the entry's, taken out by the recorder
        "after": [path for path, _ in dist_entries(dirs)],
        "client": {"cert": network.cert,
                   "allow_insecure_hosts": list(network.allow_insecure_hosts),
                   "keyring_provider": network.keyring_provider,
                   "index_urls": list(settings.index_urls),
                   "timeout": client.timeout, "retries": client.retries,
                   "max_workers": client.max_workers},
        "pages": pages,
        "pins": [[p.name, p.version, p.filename, p.sha256, p.requested]
                 for p in record.pins],
        "link_mode": options.link_mode,
        "compile_bytecode": options.compile_bytecode,
        "verdict": verdict,
    }


def depends_on(recorded: dict[str, Any]) -> list[str]:
    """The files, beyond those of every command replay, whose stat must hold."""
    return [*recorded["files"], *(page[3] for page in recorded["pages"] if page[3])]


# -- replaying (before argparse) ---------------------------------------------------------


def holds(recorded: dict[str, Any]) -> bool:
    """Whether what is installed and the find-links listings are as recorded (the stats
    and the interpreter are checked by the caller)."""
    if recorded.get("format") != _FORMAT:
        return False
    if dist_entries(recorded["site_dirs"]) != recorded["before"]:
        return False
    return all(find_links_listing(location) == listing
               for location, listing in recorded["find_links"])


def install(recorded: dict[str, Any], cache_root: str, *, quiet: bool, color: bool,
            started: float) -> bool:
    """Read the recorded pages again and, when each hashes as recorded and every archive
    is in the cache, install the pins; False (nothing changed) otherwise."""
    from pathlib import Path

    from wherry.cache.layout import Cache

    cache = Cache(Path(cache_root))
    ready = _ready(recorded, cache)
    if ready is None:
        # The normal path opens the cache again; this handle's shared lock must not be
        # left behind for it to wait on (the end-of-run pruning locks the root).
        cache.release()
        return False
    wheels, prepared = ready
    _apply(recorded, cache, wheels, quiet=quiet, color=color, started=started,
           prepared=prepared)
    return True


def _ready(recorded: dict[str, Any], cache: Cache) -> tuple[list[Any], float] | None:
    """The wheels to place (and the seconds spent finding them in the cache), once every
    page has been read again and hashes as recorded; None when one does not, or an
    archive is missing."""
    from wherry.http.client import HttpClient
    from wherry.output import log

    client = HttpClient(**recorded["client"])
    try:
        pages = sorted(recorded["pages"], key=lambda page: -page[4])  # largest first
        reads = [client.submit(_identity, client, url, accept) for url, accept, *_ in pages]
        from wherry.commands.apply import WheelToPlace
        from wherry.install.archives import archive_path

        looked_up = time.perf_counter()
        wheels = []
        for name, _, filename, sha256, requested in recorded["pins"]:
            archive = archive_path(cache, sha256)
            if archive is None:
                log.debug("%s is no longer in the cache", filename)
                return None
            wheels.append(WheelToPlace(name, filename, archive, requested))
        prepared = time.perf_counter() - looked_up
        for page, read in zip(pages, reads, strict=True):
            try:
                if read.result() != page[2]:
                    log.debug("%s answered differently since this install was recorded",
                              page[0])
                    return None
            except Exception as exc:  # met again, and reported, by the normal path
                log.debug("Reading %s again failed: %s", page[0], exc)
                return None
    finally:
        client.close()
    return wheels, prepared


def _identity(client: Any, url: str, accept: str) -> str:
    """What `IndexSources.page_digests` records for the page at `url` (index/sources.py)."""
    response = client.get(url, headers={"Accept": accept}, allow_status=(200, 404),
                          digest=True)
    return "absent" if response.status == 404 else str(response.sha256())


def _apply(recorded: dict[str, Any], cache: Cache, wheels: list[Any], *, quiet: bool,
           color: bool, started: float, prepared: float) -> None:
    from wherry.commands.apply import apply_plan
    from wherry.output import Printer, change_line, counted, format_duration, timed, wants_progress
    from wherry.python.info import InterpreterInfo

    printer = Printer(quiet=quiet, color=color, progress=wants_progress(sys.stderr))
    pins = recorded["pins"]
    printer.summary(timed("Resolved", len(pins), started))
    printer.summary(f"Prepared {counted(len(pins))} in {format_duration(prepared)}")
    applied = time.perf_counter()
    apply_plan(InterpreterInfo(recorded["raw"]), [], wheels, printer,
               link_mode=recorded["link_mode"], compile_bytecode=recorded["compile_bytecode"])
    printer.summary(timed("Installed", len(pins), applied))
    for name, version, *_ in sorted(pins, key=lambda pin: (pin[0], pin[1])):
        printer.summary(change_line("+", name, version))
    _write_verdict(recorded, cache)


def _write_verdict(recorded: dict[str, Any], cache: Cache) -> None:
    """The no-op verdict the normal path stored after the recorded install, with the
    stats of now, when the environment holds the same distributions as it did then."""
    verdict = recorded["verdict"]
    if verdict is None:
        return
    if [path for path, _ in dist_entries(recorded["site_dirs"])] != recorded["after"]:
        return
    import contextlib

    from wherry.commands.noop import write_verdict

    with contextlib.suppress(OSError):  # not stored: the next run audits in full
        write_verdict(cache, verdict["name"], verdict["key"], verdict["count"],
                      verdict["files"], verdict["variables"])
