"""`wherry pip download`: fetch the resolved distributions into a directory.

For air-gapped installs and other platforms: the request is resolved for a target
(`--python-platform`, `--python-version`; by default the chosen interpreter's), exactly
as `pip install` would resolve it with nothing installed, and the file each pinned
candidate carries (a wheel, or an sdist when no wheel fits; its metadata is read by a
metadata build, as pip does) is downloaded into the directory, verified against the hash
the index published. `--only-binary :all:` keeps sdists out. The
directory then serves as a `--find-links` location:
`wherry pip install --no-index --find-links DIR ...` installs from it offline.

A file already in the directory is kept when its sha256 matches the index's (or when the
index publishes none), as pip does, so re-running a download only fetches what changed.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

from wherry.cache.layout import Cache
from wherry.commands.install import InstallOptions, gather_requirements, index_settings
from wherry.errors import InterpreterNotFound, RequirementError, UsageError
from wherry.output import Printer, log, timed

TYPE_CHECKING = False

if TYPE_CHECKING:
    from wherry.commands.build_env import BuildContext
    from wherry.index.models import DistFile
    from wherry.platform.targets import Target
    from wherry.python.info import InterpreterInfo
    from wherry.requirements.parse import RequirementsSpec
    from wherry.settings import IndexSettings


class Downloaded:
    """One file in the destination: its project, version and whether it was fetched now."""

    def __init__(self, name: str, version: str, path: Path, fetched: bool) -> None:
        self.name = name
        self.version = version
        self.path = path
        self.fetched = fetched


def _interpreter(options: InstallOptions, cache: Cache) -> InterpreterInfo:
    """`--python`, else an active or nearby environment, else the first Python on PATH:
    it supplies the markers and tags that `--python-platform`/`--python-version` do not."""
    from wherry.python.discovery import find_environment

    if options.python is not None:
        return find_environment(options.python, cache)
    try:
        return find_environment(None, cache)
    except InterpreterNotFound:
        return find_environment(None, cache, system=True)


def _already_there(path: Path, file: DistFile) -> bool:
    if not path.is_file():
        return False
    expected = file.hashes.get("sha256")
    if expected is None:
        return True
    from wherry.install.unpack import hash_file

    return hash_file(path) == expected.lower()


def _source_path(file: DistFile) -> Path | None:
    parts = urlsplit(file.url)
    return Path(unquote(parts.path)) if parts.scheme == "file" else None


def download(options: InstallOptions, dest: Path, cache: Cache,
              printer: Printer) -> list[Downloaded]:
    """Resolve the request for its target and save every pinned distribution in `dest`."""
    start = time.perf_counter()
    spec = gather_requirements(options)
    if not spec.requirements:
        raise RequirementError("no requirements given",
                               hint="name packages to download, or pass `-r FILE`")
    settings = index_settings(options, spec)
    env = _interpreter(options, cache)
    from wherry.platform.targets import target_for

    target = target_for(env, python_platform=options.python_platform,
                        python_version=options.python_version)
    log.debug("Downloading for Python %s (%s)", target.python_full_version,
              target.markers.get("sys_platform"))
    from wherry.commands.build_env import BuildContext

    # Builds only to read an sdist's metadata when it has no wheel (as pip does); the
    # file saved is the sdist itself.
    builds = BuildContext(env, target, settings, cache, options)
    try:
        return _resolve_and_fetch(options, spec, settings, env, target, dest, cache, printer,
                                  builds, start)
    finally:
        builds.close()


def _resolve_and_fetch(options: InstallOptions, spec: RequirementsSpec,
                       settings: IndexSettings, env: InterpreterInfo, target: Target,
                       dest: Path, cache: Cache, printer: Printer, builds: BuildContext,
                       start: float) -> list[Downloaded]:
    from wherry.commands.pipeline import resolve_for

    resolution, client = resolve_for(target, spec, settings, cache, {}, options,
                                     builds=builds)
    results: list[Downloaded] = []
    try:
        printer.summary(timed("Resolved", len(resolution.pins), start))
        start = time.perf_counter()
        from wherry.resolve.candidates import Candidate

        pins = [(name, pin) for name, pin in sorted(resolution.pins.items())
                if isinstance(pin, Candidate)]
        try:
            dest.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot create the download directory {dest}: "
                             f"{exc.strerror or exc}") from None

        def fetch(item: tuple[str, Candidate]) -> Downloaded:
            name, pin = item
            file = pin.wheel  # the file the candidate carries: a wheel, or an sdist
            version = str(pin.version)
            source = _source_path(file)
            if source is not None and source.is_dir():
                raise UsageError(
                    f"cannot download {name}: it is the local directory {source}",
                    hint="build it (`python -m build`) and download the built archive",
                )
            path = dest / file.filename
            if _already_there(path, file):
                log.debug("Already downloaded: %s", path)
                return Downloaded(name, version, path, False)
            log.debug("Downloading %s", file.filename)
            client.download(file.url, path, hashes=file.hashes)
            return Downloaded(name, version, path, True)

        with printer.progress("Downloading", len(pins)) as bar:
            def fetch_and_count(item: tuple[str, Candidate]) -> Downloaded:
                done = fetch(item)
                bar.advance(done.name)
                return done

            results = list(client.map(fetch_and_count, pins))
    finally:
        client.close()
    fetched = [r for r in results if r.fetched]
    printer.summary(timed("Downloaded", len(fetched), start))
    for item in results:
        shown = os.path.relpath(item.path) if not item.path.is_absolute() else item.path
        state = "Saved" if item.fetched else "Kept"
        printer.summary(f" {state} {shown}")
    return results
