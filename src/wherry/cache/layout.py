"""The cache root and its versioned buckets.

Root: `--cache-dir` > `WHERRY_CACHE_DIR` > the `cache-dir` setting (wherry.config) >
`$XDG_CACHE_HOME/wherry` > `~/.cache/wherry`. The root holds `CACHEDIR.TAG`, `.gitignore`
and `.lock` (shared by every process using the cache, exclusive for clean/prune).
`--no-cache` uses a temporary root deleted at exit, so every code path still goes through
the cache and only its lifetime changes. Buckets carry a version so old and new wherry
releases can share one root: a format change bumps the bucket name, never reuses it.
"""

from __future__ import annotations

import os
from pathlib import Path

TYPE_CHECKING = False  # not `from typing import ...`: importing typing costs ~3 ms

if TYPE_CHECKING:
    from wherry.cache.lock import RootLock

BUCKETS = {
    "interpreters": "interpreters-v1",
    "simple": "simple-v3",
    "wheels": "wheels-v1",
    "archives": "archives-v1",
    "metadata": "metadata-v1",
    "built": "built-v1",
    "noop": "noop-v1",
    "resolutions": "resolutions-v1",  # commands/stored_resolution.py
    "replay": "replay-v1",  # also named in cli/replay.py, which must not import this
}


def default_cache_dir() -> Path:
    env = os.environ.get("WHERRY_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return Path(xdg) / "wherry"
    return Path.home() / ".cache" / "wherry"


class Cache:
    """A cache root. Create with `Cache.at(path)` or `Cache.temporary()`."""

    def __init__(self, root: Path, *, temporary: bool = False) -> None:
        self.root = root
        self.is_temporary = temporary
        self._initialised = False
        self._lock: RootLock | None = None
        self._buckets: dict[str, Path] = {}

    @property
    def lock(self) -> RootLock:
        """The root's lock (see cache/lock.py); held shared from the first use on."""
        if self._lock is None:
            from wherry.cache.lock import RootLock

            self._lock = RootLock(self.root / ".lock")
        return self._lock

    @classmethod
    def at(cls, root: Path | None) -> Cache:
        # Absolute: build hooks run in other directories, and entries become file URLs.
        return cls(Path(os.path.abspath(root if root is not None else default_cache_dir())))

    @classmethod
    def temporary(cls) -> Cache:
        import atexit
        import shutil
        import tempfile

        root = Path(tempfile.mkdtemp(prefix="wherry-cache-"))
        atexit.register(shutil.rmtree, root, True)
        return cls(root, temporary=True)

    def _init(self) -> None:
        if self._initialised:
            return
        self.root.mkdir(parents=True, exist_ok=True)
        tag = self.root / "CACHEDIR.TAG"
        if not tag.exists():
            tag.write_text(
                "Signature: 8a477f597d28d172789f06886806bc55\n"
                "# This file is a cache directory tag created by wherry.\n"
            )
        ignore = self.root / ".gitignore"
        if not ignore.exists():
            ignore.write_text("*\n")
        if not self.is_temporary:
            self.lock.shared(on_wait=self._waiting)
        self._initialised = True

    def release(self) -> None:
        """Let go of the root's shared lock (taken again on the next use): for a handle
        dropped before the run ends, whose lock would otherwise make this very process
        wait on itself when it cleans or prunes through another handle."""
        if self._lock is not None:
            self._lock.release()
        self._initialised = False
        self._buckets.clear()

    def _waiting(self) -> None:
        import sys

        sys.stderr.write(f"Waiting for another wherry process to finish cleaning the cache "
                         f"at {self.root}...\n")

    def bucket(self, name: str) -> Path:
        """The directory of a bucket (`"archives"` → `<root>/archives-v1`), created on
        first use in this process. Made once, not checked on every call (a warm install
        asks for buckets a hundred times): the shared lock held from `_init` on keeps
        `wherry cache clean` from removing it meanwhile."""
        path = self._buckets.get(name)
        if path is None:
            self._init()
            path = self.root / BUCKETS[name]
            path.mkdir(parents=True, exist_ok=True)
            self._buckets[name] = path
        return path

    def forget_buckets(self) -> None:
        """After removing buckets (`cache clean`/`prune`): make them again on next use."""
        self._buckets.clear()

    def tempdir(self, prefix: str = "tmp-") -> Path:
        """A fresh directory on the cache's filesystem, so a rename into a bucket is atomic."""
        import tempfile

        self._init()
        base = self.root / ".tmp"
        base.mkdir(exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=prefix, dir=base))
