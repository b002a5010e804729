"""Cache maintenance: size, clean (everything or per package), prune, and a size bound.

All of these are safe while other wherry processes run. Reading the size takes the
root's lock shared; clean and prune take it exclusive, waiting (with a message) until
every other process using the cache has finished, because those hard-link from archive
entries. Entries are removed by rename-then-delete (`cache.entry.remove_entry`), so even
a process that ignores the lock never sees half an entry. The end-of-run size bound
(`cache-max-size`) takes the lock only if it is free at once and otherwise waits for a
later run: a finished install must not hang on someone else's.

Which package an entry belongs to, per bucket: simple pages are files named after the
project; METADATA files carry a `Name:` header; an archive's completion marker names the
wheel it was unpacked from; a `wheels` pointer names the archive (by sha256) it points
to; a built-wheel source directory holds the built wheel (or METADATA) of its project.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from wherry.cache.entry import remove_entry
from wherry.cache.layout import BUCKETS, Cache
from wherry.errors import WherryError
from wherry.output import Printer, log

_MARKER = ".wherry-complete"  # install/unpack.py's completion marker of an archive
_ROOT_FILES = {".lock", "CACHEDIR.TAG", ".gitignore", ".tmp"}
_NAME_RUN = re.compile(r"[-_.]+")


def canonical(name: str) -> str:
    """PEP 503 normalisation (kept here: `packaging` is not needed to compare names)."""
    return _NAME_RUN.sub("-", name).lower()


class CacheLocked(WherryError):
    """The cache is in use by another process for longer than we may wait."""


def _exclusive(cache: Cache, printer: Printer, *, force: bool = False) -> None:
    def waiting() -> None:
        printer.summary(f"Waiting for other wherry processes to finish using the cache at "
                        f"{cache.root}...")

    if force:  # uv's `--force`: do not wait; entries still go by rename-then-delete
        if not cache.lock.exclusive(wait=False):
            printer.warn(f"the cache at {cache.root} is in use by another wherry process; "
                         "removing entries anyway (--force)")
        return
    if not cache.lock.exclusive(on_wait=waiting):
        raise CacheLocked(
            f"the cache at {cache.root} is still in use by another wherry process",
            hint="wait for it to finish, or raise WHERRY_LOCK_TIMEOUT (seconds)",
        )


def _graveyard(cache: Cache) -> Path:
    return cache.root / ".tmp"


# -- size ---------------------------------------------------------------------------------


def _tree_size(path: Path) -> tuple[int, int]:
    """(bytes, files) under `path`; hard links count once per link, as `du -l` does not."""
    total = files = 0
    for dirpath, _dirs, names in os.walk(path):
        for name in names:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, name)).st_size
                files += 1
    return total, files


def cache_size(cache: Cache) -> int:
    """The bytes of every file under the cache root."""
    if not cache.root.exists():
        return 0
    cache.lock.shared()
    return _tree_size(cache.root)[0]


def human_size(size: float) -> str:
    """`1023B`, `1.5KiB`, `12.0MiB`, as uv's `cache size --human`."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f}{unit}" if unit == "B" else f"{size:.1f}{unit}"
        size /= 1024
    raise AssertionError


# -- clean --------------------------------------------------------------------------------


class Removed:
    """What a clean or prune removed: entries, files and bytes."""

    def __init__(self) -> None:
        self.entries = 0
        self.files = 0
        self.bytes = 0

    def remove(self, path: Path, graveyard: Path) -> None:
        size, files = _tree_size(path) if path.is_dir() else (_file_size(path), 1)
        if remove_entry(path, graveyard):
            self.entries += 1
            self.files += files
            self.bytes += size

    def summary(self) -> str:
        if not self.files:
            return "No cache entries found"
        noun = "file" if self.files == 1 else "files"
        return f"Removed {self.files} {noun} ({human_size(self.bytes)})"


def _file_size(path: Path) -> int:
    try:
        return os.lstat(path).st_size
    except OSError:
        return 0


def cache_clean(cache: Cache, packages: Iterable[str] = (), *,
                printer: Printer | None = None, force: bool = False) -> Removed:
    """Remove every entry, or with `packages` every entry about those projects."""
    printer = printer or Printer(quiet=True)
    removed = Removed()
    if not cache.root.exists():
        return removed
    _exclusive(cache, printer, force=force)
    cache.forget_buckets()
    names = {canonical(p) for p in packages}
    graveyard = _graveyard(cache)
    if not names:
        for child in sorted(cache.root.iterdir()):
            if child.name not in (".lock", ".tmp"):
                removed.remove(child, graveyard)
        # `.tmp` last: it is where the removed entries went.
        for child in list(graveyard.iterdir()) if graveyard.exists() else []:
            if not child.name.startswith("removing-"):
                removed.remove(child, graveyard)
        return removed
    for path in package_entries(cache, names):
        removed.remove(path, graveyard)
    _remove_dangling_pointers(cache, removed)
    return removed


def package_entries(cache: Cache, names: set[str]) -> Iterator[Path]:
    """Every cache entry about one of the projects `names` (canonical)."""
    root = cache.root
    simple = root / BUCKETS["simple"]
    if simple.is_dir():
        import hashlib

        files = set()
        for name in names:
            safe = re.fullmatch(r"[a-z0-9][a-z0-9-]*", name)
            stem = name if safe else "_" + hashlib.sha256(name.encode()).hexdigest()[:16]
            files.add(f"{stem}.msgpack")
        for index in _dirs(simple):
            for file in files:
                if (index / file).exists():
                    yield index / file
    metadata = root / BUCKETS["metadata"]
    if metadata.is_dir():
        for dirpath, _, filenames in os.walk(metadata):
            for filename in filenames:
                path = Path(dirpath) / filename
                if _metadata_name(path) in names:
                    yield path
    archives = root / BUCKETS["archives"]
    for entry in _dirs(archives):
        if _archive_project(entry) in names:
            yield entry
    built = root / BUCKETS["built"]
    for kind in _dirs(built):
        for source in _dirs(kind):
            if _built_projects(source) & names:
                yield source


def _dirs(path: Path) -> list[Path]:
    try:
        return [p for p in path.iterdir() if p.is_dir() and not p.is_symlink()]
    except OSError:
        return []


def _metadata_name(path: Path) -> str | None:
    """The project of a METADATA (or PKG-INFO) file, from its `Name:` header."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)
    except OSError:
        return None
    for line in head.decode("utf-8", "replace").splitlines():
        if not line.strip():
            break
        if line.lower().startswith("name:"):
            return canonical(line.split(":", 1)[1].strip())
    return None


def _archive_project(entry: Path) -> str | None:
    """The project of an unpacked wheel, from its marker or its `.dist-info` name."""
    try:
        marker = json.loads((entry / _MARKER).read_text(encoding="utf-8"))
        return canonical(str(marker["wheel"]).split("-", 1)[0])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    with contextlib.suppress(OSError):
        for child in entry.iterdir():
            if child.name.endswith(".dist-info"):
                return canonical(child.name[: -len(".dist-info")].rsplit("-", 1)[0])
    return None


def _built_projects(source: Path) -> set[str]:
    """The projects a built-wheel source directory (or a cached sdist file) is about."""
    found: set[str] = set()
    for dirpath, _, filenames in os.walk(source):
        for filename in filenames:
            if filename.endswith(".whl"):
                found.add(canonical(filename.split("-", 1)[0]))
            elif filename.endswith((".tar.gz", ".zip", ".tar.bz2", ".tgz")):
                found.add(canonical(filename.rsplit("-", 1)[0]))
            elif filename in ("METADATA", "PKG-INFO") or filename.endswith(".METADATA"):
                name = _metadata_name(Path(dirpath) / filename)
                if name:
                    found.add(name)
    return found


def _remove_dangling_pointers(cache: Cache, removed: Removed) -> None:
    """Drop `wheels` pointers to archives that no longer exist."""
    pointers = cache.root / BUCKETS["wheels"]
    archives = cache.root / BUCKETS["archives"]
    if not pointers.is_dir():
        return
    for pointer in pointers.glob("*.json"):
        try:
            sha256 = str(json.loads(pointer.read_bytes())["sha256"]).lower()
        except (OSError, ValueError, KeyError, TypeError):
            removed.remove(pointer, _graveyard(cache))
            continue
        if not (archives / sha256 / _MARKER).is_file():
            removed.remove(pointer, _graveyard(cache))


# -- prune --------------------------------------------------------------------------------


def cache_prune(cache: Cache, *, ci: bool = False, printer: Printer | None = None,
                force: bool = False) -> Removed:
    """Remove what no run can use (uv's `cache prune`): buckets of other versions and
    unknown directories, scratch space, incomplete archives, pointers to missing
    archives, no-op verdicts and interpreter entries whose files are gone.

    `ci` also removes what can be downloaded again (unpacked pre-built wheels, their
    pointers and cached sdist files) and keeps wheels built from source, which are the
    expensive part to recreate (uv's `--ci`).
    """
    printer = printer or Printer(quiet=True)
    removed = Removed()
    if not cache.root.exists():
        return removed
    _exclusive(cache, printer, force=force)
    cache.forget_buckets()
    graveyard = _graveyard(cache)
    current = set(BUCKETS.values())
    for child in sorted(cache.root.iterdir()):
        if child.name not in current and child.name not in _ROOT_FILES:
            log.debug("Removing unknown cache bucket %s", child)
            removed.remove(child, graveyard)
    if graveyard.exists():  # scratch space: no other process runs, so none is in use
        for child in list(graveyard.iterdir()):
            if not child.name.startswith("removing-"):
                removed.remove(child, graveyard)
    archives = cache.root / BUCKETS["archives"]
    built_wheels = _built_wheel_names(cache) if ci else set()
    for entry in _dirs(archives):
        if not (entry / _MARKER).is_file():
            removed.remove(entry, graveyard)  # an interrupted unpack of an old wherry
        elif ci and _archive_wheel(entry) not in built_wheels:
            removed.remove(entry, graveyard)
    if ci:
        sdists = cache.root / BUCKETS["built"] / "sdist-files"
        if sdists.is_dir():
            removed.remove(sdists, graveyard)
    _remove_dangling_pointers(cache, removed)
    _prune_verdicts(cache, removed)
    _prune_replays(cache, removed)
    _prune_interpreters(cache, removed)
    return removed


def _archive_wheel(entry: Path) -> str | None:
    try:
        return str(json.loads((entry / _MARKER).read_text(encoding="utf-8"))["wheel"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _built_wheel_names(cache: Cache) -> set[str]:
    names: set[str] = set()
    for _dirpath, _, filenames in os.walk(cache.root / BUCKETS["built"]):
        names.update(f for f in filenames if f.endswith(".whl"))
    return names


def _prune_verdicts(cache: Cache, removed: Removed) -> None:
    """No-op verdicts whose validators no longer hold can never answer again."""
    bucket = cache.root / BUCKETS["noop"]
    for path in bucket.glob("*.json") if bucket.is_dir() else []:
        try:
            stats = json.loads(path.read_bytes())["stats"]
            dead = any(stat is not None and not os.path.exists(file) for file, stat in stats)
        except (OSError, ValueError, KeyError, TypeError):
            dead = True
        if dead:
            removed.remove(path, _graveyard(cache))


def _prune_replays(cache: Cache, removed: Removed) -> None:
    """Recorded command answers (cli/replay.py) that can never be replayed again: one
    of the files they depend on has changed."""
    from wherry.cli.replay import holds

    bucket = cache.root / BUCKETS["replay"]
    for path in bucket.glob("*.marshal") if bucket.is_dir() else []:
        if not holds(path):
            removed.remove(path, _graveyard(cache))


def _prune_interpreters(cache: Cache, removed: Removed) -> None:
    """Interpreter entries of executables that no longer exist."""
    bucket = cache.root / BUCKETS["interpreters"]
    for path in bucket.glob("*.json") if bucket.is_dir() else []:
        try:
            data = json.loads(path.read_bytes())
            executable = data.get("executable") or data.get("info", {}).get("executable")
        except (OSError, ValueError, AttributeError):
            removed.remove(path, _graveyard(cache))
            continue
        if isinstance(executable, str) and not os.path.exists(executable):
            removed.remove(path, _graveyard(cache))


# -- the size bound -----------------------------------------------------------------------


def _units(cache: Cache) -> Iterator[tuple[float, int, Path]]:
    """(last use, bytes, path) of every removable unit: archive and built-source
    directories whole, every other file on its own."""
    root = cache.root
    whole = {root / BUCKETS["archives"]: 1, root / BUCKETS["built"]: 2}
    for bucket in sorted(current for current in root.iterdir()
                         if current.name in set(BUCKETS.values())):
        depth = whole.get(bucket)
        if depth is not None:
            level = [bucket]
            for _ in range(depth):
                level = [d for parent in level for d in _dirs(parent)]
            for entry in level:
                size, _files = _tree_size(entry)
                yield _last_use(entry), size, entry
            continue
        for dirpath, _, filenames in os.walk(bucket):
            for filename in filenames:
                path = Path(dirpath) / filename
                with contextlib.suppress(OSError):
                    st = os.lstat(path)
                    yield max(st.st_atime, st.st_mtime), st.st_size, path


def _last_use(entry: Path) -> float:
    """When a directory entry was last used: its marker's access or change time.

    Not the directory's own atime: listing a directory (as `cache size` does) updates it.
    Installs only stat the marker, so for archives this is in practice the time they
    were unpacked (or last read by a clean); files elsewhere count by their atime, which
    the filesystem updates when a run reads them (daily at most under `relatime`)."""
    times = []
    for path in (entry / _MARKER, entry / "entry.json", entry):
        with contextlib.suppress(OSError):
            st = os.stat(path)
            times += [st.st_atime, st.st_mtime] if path != entry else [st.st_mtime]
            break
    return max(times, default=0.0)


def enforce_max_size(cache: Cache, limit: int, printer: Printer) -> Removed:
    """Remove least recently used entries until the cache is at most `limit` bytes.

    Runs at the end of a command. It takes the lock exclusive only if no other process
    holds it; otherwise it leaves the work to a later run.
    """
    removed = Removed()
    if cache.is_temporary or not cache.root.exists():
        return removed
    start = time.perf_counter()
    total = _tree_size(cache.root)[0]
    if total <= limit:
        return removed
    if not cache.lock.exclusive(wait=False):
        log.debug("Cache over its size bound, but in use by another process; not pruning")
        return removed
    graveyard = _graveyard(cache)
    for _used, size, path in sorted(_units(cache)):
        if total <= limit:
            break
        removed.remove(path, graveyard)
        total -= size
    _remove_dangling_pointers(cache, removed)
    cache.lock.shared()
    log.debug("Pruned the cache to %s (bound %s) in %.0fms", human_size(total),
              human_size(limit), (time.perf_counter() - start) * 1000)
    return removed
