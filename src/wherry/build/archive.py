"""Unpacking a source distribution (`.tar.gz`, `.zip`, ...) into a directory, safely.

Nothing outside the target directory may be written: members with absolute paths, `..`
components, or links pointing out are refused, as `tarfile`'s `data` filter does (used
when the running Python has it). The project root is the archive's single top-level
directory (PEP 625), or the target itself for flat archives.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from wherry.errors import BuildError

SDIST_SUFFIXES = (".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tar", ".zip")


def is_sdist_name(filename: str) -> bool:
    return filename.lower().endswith(SDIST_SUFFIXES)


def _inside(root: str, name: str) -> bool:
    target = os.path.realpath(os.path.join(root, name))
    return os.path.commonpath([target, root]) == root


def _extract_tar(path: Path, dest: Path) -> None:
    import tarfile

    root = os.path.realpath(dest)
    with tarfile.open(path) as archive:
        members = archive.getmembers()
        for member in members:
            if not _inside(root, member.name) or member.isdev():
                raise BuildError(f"{path.name} contains an unsafe member {member.name!r}",
                                 hint="the archive was not unpacked; report it to the project")
            if member.issym() or member.islnk():
                link = os.path.join(os.path.dirname(member.name), member.linkname) \
                    if member.issym() else member.linkname
                if not _inside(root, link):
                    raise BuildError(
                        f"{path.name} contains a link {member.name!r} pointing outside it")
        if hasattr(tarfile, "data_filter"):
            archive.extractall(dest, members=members, filter="data")
        else:  # pragma: no cover - Pythons without PEP 706
            archive.extractall(dest, members=members)


def _extract_zip(path: Path, dest: Path) -> None:
    root = os.path.realpath(dest)
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if not _inside(root, name):
                raise BuildError(f"{path.name} contains an unsafe member {name!r}")
        archive.extractall(dest)


def unpack_sdist(path: Path, dest: Path) -> Path:
    """Unpack the archive at `path` into `dest`; return the project root inside it.

    `tarfile` is imported here, not with the module: a warm install of cached builds
    imports this module and unpacks nothing (`tarfile`, `grp`, `pwd`: ~4 ms)."""
    import tarfile

    try:
        if path.name.lower().endswith(".zip"):
            _extract_zip(path, dest)
        else:
            _extract_tar(path, dest)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as exc:
        raise BuildError(f"cannot unpack {path.name}: {exc}",
                         hint="the file may be truncated or not an archive; delete it and "
                         "download it again") from None
    entries = [e for e in os.listdir(dest) if not e.startswith(".")] or os.listdir(dest)
    if len(entries) == 1 and (dest / entries[0]).is_dir():
        return dest / entries[0]
    return dest
