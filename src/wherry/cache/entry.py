"""Atomic cache entries: readers never see a half-written file or directory."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` via a same-directory temporary file and a rename."""
    directory = path.parent
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = _temporary_file(os.fspath(directory))
    try:
        write_and_close(fd, data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_and_close(fd: int, data: bytes) -> None:
    """Write all of `data` to the open file `fd` and close it (`os.write` directly: no
    buffered file object for a write made once)."""
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def temporary_dir(directory: str, prefix: str) -> str:
    """A new directory `<prefix><random>` in `directory`, mode 0700: what
    `tempfile.mkdtemp` makes, without importing `tempfile` (with `shutil`, `random` and,
    through `shutil`, `bz2` and `lzma`: ~9 ms) on the path of an install."""
    for _ in range(100):
        name = os.path.join(directory, f"{prefix}{os.urandom(6).hex()}")
        try:
            os.mkdir(name, 0o700)
        except FileExistsError:
            continue
        return name
    raise FileExistsError(f"no free temporary name in {directory}")


def remove_tree(path: str) -> None:
    """Delete the directory `path` and everything in it, ignoring errors (`shutil` is
    imported only when it is not empty)."""
    try:
        os.rmdir(path)
    except FileNotFoundError:
        return
    except OSError:
        import shutil

        shutil.rmtree(path, ignore_errors=True)


def _temporary_file(directory: str) -> tuple[int, str]:
    """A new file `.tmp-<random>` in `directory`, open for writing, mode 0600: what
    `tempfile.mkstemp` makes, without importing `tempfile` (and `random`, `shutil`...)
    on the path of a run's first cache write."""
    for _ in range(100):
        name = os.path.join(directory, f".tmp-{os.urandom(6).hex()}")
        try:
            return os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                           0o600), name
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name in {directory}")


def persist_dir(source: Path, target: Path) -> Path:
    """Move a finished directory into place; if another process won the race, keep theirs.

    Entries are immutable and keyed by content, so the loser's copy is identical and is
    simply discarded.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.rename(source, target)
    except OSError:
        if target.is_dir():
            import shutil

            shutil.rmtree(source, ignore_errors=True)
        else:
            raise
    return target


def remove_entry(path: Path, graveyard: Path) -> bool:
    """Delete a file or directory entry so no reader ever sees part of it: rename it
    into `graveyard` (a directory on the same filesystem) first, then delete it there.

    Returns False when the entry was already gone.
    """
    import shutil
    import uuid

    graveyard.mkdir(parents=True, exist_ok=True)
    doomed = graveyard / f"removing-{uuid.uuid4().hex}"
    try:
        os.rename(path, doomed)
    except FileNotFoundError:
        return False
    if doomed.is_dir() and not doomed.is_symlink():
        shutil.rmtree(doomed, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            doomed.unlink()
    return True


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """The hex digest of a file, read in 1 MiB chunks (wheels, sdists, built wheels).

    An `OSError` propagates: each caller turns it into its own one-paragraph error."""
    import hashlib

    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    """`file_digest(path)`: sha256 names archive entries and built wheels."""
    return file_digest(path)
