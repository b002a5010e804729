"""The per-invocation context handed to every command: printer, verbosity, cache."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

from wherry.cache.layout import Cache
from wherry.output import Printer, configure_logging


@dataclass
class Context:
    verbosity: int
    quiet: bool
    printer: Printer
    cache_dir: Path | None
    no_cache: bool
    _cache: Cache | None = field(default=None, repr=False)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Context:
        verbosity = int(getattr(args, "verbose", 0) or 0)
        quiet = bool(getattr(args, "quiet", False))
        configure_logging(verbosity)
        cache_dir = getattr(args, "cache_dir", None)
        return cls(
            verbosity=verbosity,
            quiet=quiet,
            printer=Printer(quiet=quiet),
            cache_dir=Path(cache_dir) if cache_dir else None,
            no_cache=bool(getattr(args, "no_cache", False)),
        )

    @property
    def cache(self) -> Cache:
        """The cache for this run, created on first use (temporary under `--no-cache`)."""
        if self._cache is None:
            self._cache = Cache.temporary() if self.no_cache else Cache.at(self.cache_dir)
        return self._cache

    def close(self) -> None:
        if self._cache is not None and self._cache.is_temporary:
            import shutil

            shutil.rmtree(self._cache.root, ignore_errors=True)
