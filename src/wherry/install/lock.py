"""One wherry process changes an environment at a time.

Two concurrent installs into one environment would interleave removals and links and
corrupt both. Each change therefore holds an exclusive advisory `flock` on
`<prefix>/.lock` (the file uv uses too). When the prefix is not writable (a system
interpreter run without root), the lock lives in the temporary directory under a name
derived from the prefix, so read-only users still exclude each other.

`flock` locks belong to an open file description, so taking the lock twice in one process
blocks: take it once, at the command level.
"""

from __future__ import annotations

import errno
import hashlib
import os
from collections.abc import Callable
from pathlib import Path

from wherry.cache.lock import HeldLock
from wherry.output import log


def lock_path(prefix: Path) -> Path:
    """Where the lock of an environment lives when its prefix is writable."""
    return Path(prefix) / ".lock"


def _fallback_path(prefix: Path) -> Path:
    import tempfile

    digest = hashlib.sha256(os.fsencode(os.path.abspath(prefix))).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"wherry-{digest}.lock"


def _open_lock(prefix: Path) -> int:
    path = lock_path(prefix)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as error:
        if error.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise
        fallback = _fallback_path(prefix)
        log.debug("Cannot create %s (%s); locking %s instead", path, error.strerror, fallback)
        return os.open(fallback, os.O_RDWR | os.O_CREAT, 0o666)


def environment_lock(
    prefix: Path, *, on_wait: Callable[[], None] | None = None
) -> HeldLock:
    """Hold an exclusive lock on the environment at `prefix` for the `with` block.

    If another process holds it, `on_wait` is called once, then this blocks until it is
    released (the CLI prints "Waiting for another wherry process…" from `on_wait`).
    """
    return HeldLock(_open_lock(Path(prefix)), on_wait)
