"""The per-invocation context handed to every command: printer, verbosity, cache."""

from __future__ import annotations

import argparse
from pathlib import Path

from wherry.cache.layout import Cache
from wherry.output import Printer, configure_logging, wants_color, wants_progress

TYPE_CHECKING = False  # not `from typing import ...`: importing typing costs ~3 ms

if TYPE_CHECKING:
    from wherry.cli.replay import Recorder


class Context:
    """What every command needs from the command line, and the cache it opens lazily.

    A plain class, not a dataclass: this module is imported on every run.
    """

    def __init__(
        self, *, verbosity: int, quiet: bool, cache_dir: Path | None, no_cache: bool,
        color: str = "auto",
    ) -> None:
        import sys

        self.verbosity = verbosity
        self.quiet = quiet
        stderr_color = wants_color(sys.stderr, color)
        self.printer = Printer(quiet=quiet, color=stderr_color,
                               progress=wants_progress(sys.stderr))
        self.cache_dir = cache_dir
        self.no_cache = no_cache
        self._cache: Cache | None = None
        # The command replay's recorder (cli/replay.py), when this run may be recorded.
        self.replay: Recorder | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Context:
        import os
        import sys

        verbosity = int(getattr(args, "verbose", 0) or 0)
        color = str(getattr(args, "color", None) or "auto")
        configure_logging(verbosity, os.environ.get("WHERRY_LOG"),
                          color=wants_color(sys.stderr, color))
        cache_dir = getattr(args, "cache_dir", None)
        return cls(
            verbosity=verbosity,
            quiet=bool(getattr(args, "quiet", False)),
            cache_dir=Path(cache_dir) if cache_dir else None,
            no_cache=bool(getattr(args, "no_cache", False)),
            color=color,
        )

    @property
    def cache_opened(self) -> bool:
        """Whether this run used the cache (so end-of-run upkeep has work to do)."""
        return self._cache is not None

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
