"""Printing: result lines to stdout, summaries and logs to stderr, at levels like uv's.

Levels: -q hides summaries, default shows summaries (`Resolved 3 packages in 12ms`),
-v adds debug lines, -vv adds trace lines. The printer is a tiny object passed down
from the CLI; modules below `commands/` use `logging` through `log()` so they need no
printer, and the CLI routes those records to stderr at the chosen level.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import TextIO

TRACE = 5
logging.addLevelName(TRACE, "TRACE")

log = logging.getLogger("wherry")


def trace(message: str, *args: object) -> None:
    """Log at the `-vv` level."""
    if log.isEnabledFor(TRACE):
        log.log(TRACE, message, *args)


class _StderrHandler(logging.Handler):
    def __init__(self, start: float) -> None:
        super().__init__()
        self.start = start

    def emit(self, record: logging.LogRecord) -> None:
        try:
            elapsed = record.created - self.start
            level = "DEBUG" if record.levelno >= logging.DEBUG else "TRACE"
            if record.levelno >= logging.WARNING:
                sys.stderr.write(f"warning: {record.getMessage()}\n")
            else:
                sys.stderr.write(f"{level} {elapsed:8.3f}s {record.getMessage()}\n")
        except Exception:  # pragma: no cover - logging must never raise
            self.handleError(record)


def configure_logging(verbosity: int) -> None:
    """Route wherry's log records to stderr: 0 = warnings, 1 = debug, 2+ = trace."""
    log.handlers.clear()
    log.addHandler(_StderrHandler(time.time()))
    log.propagate = False
    if verbosity >= 2:
        log.setLevel(TRACE)
    elif verbosity == 1:
        log.setLevel(logging.DEBUG)
    else:
        log.setLevel(logging.WARNING)


def format_duration(seconds: float) -> str:
    """Render an elapsed time the way uv does: `12ms`, `1.23s`."""
    if seconds < 1.0:
        return f"{max(seconds * 1000, 0):.0f}ms"
    return f"{seconds:.2f}s"


class Printer:
    """Where a command's user-facing lines go; `quiet` hides summaries, not results."""

    def __init__(
        self, *, quiet: bool = False, out: TextIO | None = None, err: TextIO | None = None
    ) -> None:
        self.quiet = quiet
        self.out = out or sys.stdout
        self.err = err or sys.stderr

    def result(self, line: str) -> None:
        """A line that is the command's answer (list, freeze): stdout, always shown."""
        self.out.write(line + "\n")

    def summary(self, line: str) -> None:
        """A progress or summary line (`Resolved 3 packages in 12ms`): stderr, unless -q."""
        if not self.quiet:
            self.err.write(line + "\n")

    def warn(self, line: str) -> None:
        self.err.write(f"warning: {line}\n")
