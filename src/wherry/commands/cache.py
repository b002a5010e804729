"""Cache maintenance use cases (issue 8 deepens these: per-package clean, prune, locks)."""

from __future__ import annotations

import contextlib
import os
import shutil

from wherry.cache.layout import Cache


def cache_size(cache: Cache) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(cache.root):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, name)).st_size
    return total


def cache_clean(cache: Cache) -> int:
    """Remove every entry; returns the number of files removed."""
    if not cache.root.exists():
        return 0
    count = sum(len(files) for _d, _s, files in os.walk(cache.root))
    for child in cache.root.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)
    return count
