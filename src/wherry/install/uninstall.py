"""What to remove to uninstall a distribution (the plan only; a `Transaction` removes).

Separating the plan from the removal keeps this module data in, data out: it reads RECORD
(or a legacy egg-info's file lists) and answers with paths, and the transaction moves them
aside so an upgrade that fails later can put them back. RECORD is input from whoever
installed the package, so every path is checked to stay inside the environment.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from wherry.errors import UninstallError
from wherry.install.record import read_record
from wherry.install.site import InstalledDist
from wherry.output import log


def environment_prefix(scheme_dirs: Sequence[Path]) -> str:
    """The common root of the scheme directories: nothing outside it is ever removed."""
    if not scheme_dirs:
        raise ValueError("scheme_dirs must not be empty")
    return os.path.commonpath([os.path.abspath(d) for d in scheme_dirs])


def _inside(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix.rstrip(os.sep) + os.sep)


def _add_pycache(py_files: list[str], result: list[str]) -> None:
    """Each `x.py`'s `__pycache__/x.*.pyc`, listing every `__pycache__` only once."""
    by_dir: dict[str, set[str]] = {}
    for path in py_files:
        directory, name = os.path.split(path)
        by_dir.setdefault(directory, set()).add(name[:-3])
    for directory, stems in by_dir.items():
        cache = os.path.join(directory, "__pycache__")
        try:
            names = os.listdir(cache)
        except OSError:
            continue
        for name in names:
            stem = name.split(".", 1)[0]
            if stem in stems and name.endswith(".pyc"):
                result.append(os.path.join(cache, name))


def _from_list(
    dist: InstalledDist, relative: list[str], base: str, prefix: str, source: str
) -> list[str]:
    files: list[str] = []
    own = str(dist.path)
    for entry in relative:
        path = os.path.normpath(os.path.join(base, entry))
        if not _inside(path, prefix):
            log.warning(
                "Not removing %s listed in %s of %s: it is outside the environment",
                path, source, dist.name,
            )
            continue
        if _inside(path, own):
            continue  # the metadata directory goes as a whole
        if not os.path.lexists(path) or (os.path.isdir(path) and not os.path.islink(path)):
            continue
        files.append(path)
    return files


def _legacy_plan(dist: InstalledDist, prefix: str) -> list[str]:
    info = str(dist.path)
    if not os.path.isdir(info):
        raise UninstallError(
            f"cannot uninstall {dist.name} {dist.version}: it was installed by distutils, "
            "which records no list of its files",
            hint=f"remove {info} and the package's files by hand",
        )
    site = os.path.dirname(info)
    listing = os.path.join(info, "installed-files.txt")
    if os.path.isfile(listing):
        with open(listing, encoding="utf-8", errors="replace") as handle:
            entries = [line.strip() for line in handle if line.strip()]
        return _from_list(dist, entries, info, prefix, "installed-files.txt")
    top_level = os.path.join(info, "top_level.txt")
    if not os.path.isfile(top_level):
        raise UninstallError(
            f"cannot uninstall {dist.name} {dist.version}: {info} has neither "
            "installed-files.txt nor top_level.txt",
            hint=f"remove {info} and the package's files by hand",
        )
    files: list[str] = []
    with open(top_level, encoding="utf-8", errors="replace") as handle:
        names = [line.strip() for line in handle if line.strip()]
    try:
        siblings = os.listdir(site)
    except OSError:
        siblings = []
    for name in names:
        if "/" in name or "\\" in name or name in (".", ".."):
            log.warning("Ignoring odd top-level name %r of %s", name, dist.name)
            continue
        package = os.path.join(site, name)
        if os.path.isdir(package):
            files.append(package)  # the whole package directory
        for sibling in siblings:
            # `name.py`, `name.cpython-311-x86_64-linux-gnu.so`, `name.pyd`...
            if sibling.split(".", 1)[0] == name and "." in sibling:
                path = os.path.join(site, sibling)
                if os.path.isfile(path):
                    files.append(path)
    return files


def plan_uninstall(dist: InstalledDist, scheme_dirs: Sequence[Path]) -> list[Path]:
    """The paths to remove to uninstall `dist`: its files, their bytecode, its metadata dir.

    Paths in RECORD are relative to the dist-info's parent. Anything that resolves outside
    the environment (the common root of `scheme_dirs`) is skipped with a warning. Emptied
    directories are not listed; the transaction prunes them after the removal.
    """
    prefix = environment_prefix(scheme_dirs)
    info = str(dist.path)
    if dist.is_legacy:
        files = _legacy_plan(dist, prefix)
    else:
        record = os.path.join(info, "RECORD")
        try:
            rows = read_record(Path(record))
        except FileNotFoundError:
            raise UninstallError(
                f"cannot uninstall {dist.name} {dist.version}: {record} is missing",
                hint=f"reinstall it with `--reinstall`, or remove {info} by hand",
            ) from None
        files = _from_list(
            dist, [row.path for row in rows], os.path.dirname(info), prefix, "RECORD"
        )
    _add_pycache([f for f in files if f.endswith(".py")], files)
    if os.path.lexists(info):
        files.append(info)
    seen: set[str] = set()
    result: list[Path] = []
    for path in files:
        if path not in seen:
            seen.add(path)
            result.append(Path(path))
    return result
