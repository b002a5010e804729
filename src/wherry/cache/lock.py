"""The cache root's lock: shared while a command uses the cache, exclusive to clean it.

Every wherry process that opens a cache root holds a *shared* `flock` on `<root>/.lock`
for as long as it runs (uv does the same), so `wherry cache clean` and `prune`, which take
it *exclusive*, never delete an entry another process is reading or hard-linking from.
flock locks belong to the open file, are released by the kernel when the process dies
(no stale lock files), and cost one system call. Where `fcntl` is missing (Windows) the
lock is a no-op, as uv's is without shared-lock support.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

TYPE_CHECKING = False  # not `from typing import ...`: importing typing costs ~3 ms

if TYPE_CHECKING:
    from collections.abc import Callable

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

#: Seconds to wait for an exclusive lock before giving up (`WHERRY_LOCK_TIMEOUT`).
DEFAULT_TIMEOUT = 300.0


class RootLock:
    """The lock file of one cache root, held by this process in one mode at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.mode: str | None = None
        self._fd: int | None = None

    def _open(self) -> int | None:
        if self._fd is None and fcntl is not None:
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            except OSError:
                return None  # a read-only cache: nothing to protect from us
        return self._fd

    def shared(self, on_wait: Callable[[], None] | None = None) -> None:
        """Hold the lock shared, waiting (after calling `on_wait`) while a clean runs."""
        fd = self._open()
        if fd is None or self.mode == "shared":
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                on_wait()
            fcntl.flock(fd, fcntl.LOCK_SH)
        self.mode = "shared"

    def exclusive(self, *, wait: bool = True, on_wait: Callable[[], None] | None = None,
                  timeout: float | None = None) -> bool:
        """Hold the lock exclusive; False if `wait` is off (or `timeout` passed) and
        another process holds it. Any shared hold of ours is dropped first: flock would
        otherwise convert it non-atomically, and two converting processes could both
        lose their locks."""
        fd = self._open()
        if fd is None:
            return True
        if self.mode == "exclusive":
            return True
        fcntl.flock(fd, fcntl.LOCK_UN)
        self.mode = None
        if timeout is None:
            timeout = lock_timeout()
        deadline = time.monotonic() + timeout
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self.mode = "exclusive"
                return True
            except BlockingIOError:
                if not wait or time.monotonic() >= deadline:
                    return False
                if not told and on_wait is not None:
                    on_wait()
                    told = True
                time.sleep(0.05)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the file releases its lock
            self._fd = None
            self.mode = None


class HeldLock:
    """An exclusive `flock` on an open file for a `with` block, then the file closed.

    The one way wherry waits for another process on a lock file (an environment's, a
    build source's): try without blocking, and only if that fails call `on_wait` once
    (to say so) and block. The descriptor is owned: it is closed on exit, which is also
    what releases the lock if unlocking fails.
    """

    def __init__(self, fd: int, on_wait: Callable[[], None] | None = None) -> None:
        self.fd = fd
        self.on_wait = on_wait

    def __enter__(self) -> None:
        if fcntl is None:  # pragma: no cover - Windows
            return
        try:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if self.on_wait is not None:
                    self.on_wait()
                fcntl.flock(self.fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(self.fd)
            raise

    def __exit__(self, *exc_info: object) -> None:
        try:
            if fcntl is not None:
                fcntl.flock(self.fd, fcntl.LOCK_UN)
        finally:
            os.close(self.fd)


def lock_timeout() -> float:
    """`WHERRY_LOCK_TIMEOUT` seconds (default 300)."""
    raw = os.environ.get("WHERRY_LOCK_TIMEOUT", "").strip()
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        return max(float(raw), 0.0)
    except ValueError:
        from wherry.errors import UsageError

        raise UsageError(f"WHERRY_LOCK_TIMEOUT={raw!r} is not a number of seconds") from None
