"""Printing: result lines to stdout, summaries and logs to stderr, at levels like uv's.

Levels: -q hides summaries, default shows summaries (`Resolved 3 packages in 12ms`),
-v adds debug lines, -vv adds trace lines. The printer is a tiny object passed down
from the CLI; modules below `commands/` log through `log` so they need no printer.

`log` is a deliberately small logger rather than the stdlib's `logging`: importing
`logging` alone costs about a tenth of the no-op install budget, and wherry needs only
levels and one destination. Records are written to `sys.stderr` as looked up at call
time, so tests capture them with `capsys`.
"""

from __future__ import annotations

import contextlib
import sys
import time

TYPE_CHECKING = False  # not `from typing import ...`: importing typing costs ~3 ms


if TYPE_CHECKING:
    from typing import TextIO

TRACE = 5
DEBUG = 10
WARNING = 30
ERROR = 40
_NAMES = {TRACE: "TRACE", DEBUG: "DEBUG"}


class Logger:
    """Level-filtered lines on stderr: `DEBUG    0.012s message`, or `warning: message`."""

    def __init__(self) -> None:
        self.level = WARNING
        self.start = time.time()

    def setLevel(self, level: int) -> None:
        self.level = level

    def isEnabledFor(self, level: int) -> bool:
        return level >= self.level

    def log(self, level: int, message: str, *args: object) -> None:
        if level < self.level:
            return
        text = message % args if args else message
        if level >= ERROR:
            line = f"error: {text}\n"
        elif level >= WARNING:
            line = f"warning: {text}\n"
        else:
            line = f"{_NAMES.get(level, 'DEBUG'):<5} {time.time() - self.start:8.3f}s {text}\n"
        with contextlib.suppress(OSError, ValueError):  # a closed stderr must not crash
            sys.stderr.write(line)

    def debug(self, message: str, *args: object) -> None:
        self.log(DEBUG, message, *args)

    def warning(self, message: str, *args: object) -> None:
        self.log(WARNING, message, *args)

    def error(self, message: str, *args: object) -> None:
        self.log(ERROR, message, *args)


log = Logger()


def trace(message: str, *args: object) -> None:
    """Log at the `-vv` level."""
    log.log(TRACE, message, *args)


def configure_logging(verbosity: int) -> None:
    """0 = warnings only, 1 = debug, 2+ = trace."""
    log.start = time.time()
    log.setLevel(TRACE if verbosity >= 2 else DEBUG if verbosity == 1 else WARNING)


def format_duration(seconds: float) -> str:
    """Render an elapsed time the way uv does: `12ms`, `1.23s`."""
    if seconds < 1.0:
        return f"{max(seconds * 1000, 0):.0f}ms"
    return f"{seconds:.2f}s"


def counted(count: int, noun: str = "package") -> str:
    """`1 package`, `3 packages`."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def timed(verb: str, count: int, start: float, noun: str = "package") -> str:
    """A summary line in uv's shape, `Resolved 3 packages in 12ms`, timed from `start`
    (a `time.perf_counter()` reading)."""
    return f"{verb} {counted(count, noun)} in {format_duration(time.perf_counter() - start)}"


class Printer:
    """Where a command's user-facing lines go; `quiet` hides summaries, not results."""

    def __init__(
        self, *, quiet: bool = False, out: TextIO | None = None, err: TextIO | None = None
    ) -> None:
        self.quiet = quiet
        self._out = out
        self._err = err

    @property
    def out(self) -> TextIO:
        return self._out or sys.stdout

    @property
    def err(self) -> TextIO:
        return self._err or sys.stderr

    def result(self, line: str) -> None:
        """A line that is the command's answer (list, freeze): stdout, always shown."""
        self.out.write(line + "\n")

    def summary(self, line: str) -> None:
        """A progress or summary line (`Resolved 3 packages in 12ms`): stderr, unless -q."""
        if not self.quiet:
            self.err.write(line + "\n")

    def warn(self, line: str) -> None:
        self.err.write(f"warning: {line}\n")
