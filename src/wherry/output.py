"""Printing: result lines to stdout, summaries and logs to stderr, at levels like uv's.

Levels: -q hides summaries, default shows summaries (`Resolved 3 packages in 12ms`),
-v adds debug lines, -vv adds trace lines. `WHERRY_LOG` sets the same levels without
flags and per module: `WHERRY_LOG=debug`, `WHERRY_LOG=wherry.http=trace`, or both
(`WHERRY_LOG=debug,wherry.index=trace,wherry.install=warn`). The printer is a tiny object
passed down from the CLI; modules below `commands/` log through `log` so they need no
printer.

Colour: `--color auto|always|never`; under `auto` a stream gets colour when it is a
terminal, unless `NO_COLOR` is set (and not empty); `FORCE_COLOR` forces it. Progress bars
(rich, imported only when a bar is shown) appear only when stderr is a terminal and
output is not quiet; otherwise the summary lines alone are printed.

`log` is a deliberately small logger rather than the stdlib's `logging`: importing
`logging` alone costs about a tenth of the no-op install budget, and wherry needs only
levels and one destination. Records are written to `sys.stderr` as looked up at call
time, so tests capture them with `capsys`.
"""

from __future__ import annotations

import sys
import time

TYPE_CHECKING = False  # not `from typing import ...`: importing typing costs ~3 ms


if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from typing import TextIO, TypeVar

    from wherry.cli.replay import Recorder

    T = TypeVar("T")

TRACE = 5
DEBUG = 10
WARNING = 30
ERROR = 40
OFF = 100
_NAMES = {TRACE: "TRACE", DEBUG: "DEBUG"}
LEVELS = {"trace": TRACE, "debug": DEBUG, "info": WARNING, "warn": WARNING,
          "warning": WARNING, "error": ERROR, "off": OFF}

# ANSI styles; `paint` applies one only when the stream wants colour.
BOLD, DIM, RED, GREEN, YELLOW, CYAN = "1", "2", "31", "32", "33", "36"


def paint(text: str, *styles: str, enabled: bool) -> str:
    return f"\x1b[{';'.join(styles)}m{text}\x1b[0m" if enabled and styles else text


class Logger:
    """Level-filtered lines on stderr: `DEBUG    0.012s message`, or `warning: message`.

    `level` is the lowest level any module may log at, so a disabled call costs one
    comparison; per-module `filters` (from WHERRY_LOG) are consulted only when set, and
    find the calling module from its frame rather than needing a logger per module.
    """

    def __init__(self) -> None:
        self.level = WARNING
        self.default = WARNING
        self.filters: list[tuple[str, int]] = []
        self.start = time.time()
        self.color = False

    def setLevel(self, level: int) -> None:
        self.level = self.default = level
        self.filters = []

    def isEnabledFor(self, level: int) -> bool:
        return level >= self.level

    def log(self, level: int, message: str, *args: object) -> None:
        self._emit(level, 2, message, args)

    def _emit(self, level: int, depth: int, message: str, args: tuple[object, ...]) -> None:
        if level < self.level:
            return
        if self.filters:
            module = sys._getframe(depth).f_globals.get("__name__", "")
            threshold = self.default
            for prefix, limit in self.filters:
                if module == prefix or module.startswith(prefix + "."):
                    threshold = limit
                    break
            if level < threshold:
                return
        text = message % args if args else message
        if level >= ERROR:
            line = f"{paint('error', BOLD, RED, enabled=self.color)}: {text}\n"
        elif level >= WARNING:
            line = f"{paint('warning', BOLD, YELLOW, enabled=self.color)}: {text}\n"
        else:
            name = paint(f"{_NAMES.get(level, 'DEBUG'):<5}", DIM, enabled=self.color)
            line = f"{name} {time.time() - self.start:8.3f}s {text}\n"
        try:  # noqa: SIM105 (not contextlib.suppress: importing contextlib costs 3 ms)
            sys.stderr.write(line)
        except (OSError, ValueError):
            pass  # a closed stderr must not crash

    def debug(self, message: str, *args: object) -> None:
        self._emit(DEBUG, 2, message, args)

    def warning(self, message: str, *args: object) -> None:
        self._emit(WARNING, 2, message, args)

    def error(self, message: str, *args: object) -> None:
        self._emit(ERROR, 2, message, args)


log = Logger()


def trace(message: str, *args: object) -> None:
    """Log at the `-vv` level."""
    log._emit(TRACE, 2, message, args)


def parse_log_spec(spec: str) -> tuple[int | None, list[tuple[str, int]]]:
    """`WHERRY_LOG`: `debug`, `wherry.http=trace`, `info,wherry.index=debug` -> (the
    default level or None, [(module prefix, level)] longest prefix first)."""
    from wherry.errors import UsageError

    default: int | None = None
    filters: list[tuple[str, int]] = []
    for item in spec.split(","):
        item = item.strip()
        if not item:
            continue
        module, _, name = item.rpartition("=")
        level = LEVELS.get(name.strip().lower())
        if level is None:
            raise UsageError(
                f"WHERRY_LOG={spec!r}: unknown level {name.strip()!r}",
                hint="use trace, debug, info, warn, error or off, optionally per module: "
                "WHERRY_LOG=wherry.http=trace",
            )
        if module.strip():
            filters.append((module.strip(), level))
        else:
            default = level
    filters.sort(key=lambda f: -len(f[0]))
    return default, filters


def configure_logging(verbosity: int, spec: str | None = None, *, color: bool = False) -> None:
    """0 = warnings only, 1 = debug, 2+ = trace; `spec` is WHERRY_LOG (see above). A
    flag and the variable together give the more verbose of the two."""
    log.start = time.time()
    log.color = color
    level = TRACE if verbosity >= 2 else DEBUG if verbosity == 1 else WARNING
    filters: list[tuple[str, int]] = []
    if spec:
        default, filters = parse_log_spec(spec)
        if default is not None:
            level = min(level, default) if verbosity else default
    log.setLevel(level)
    log.filters = filters
    log.level = min([level, *(limit for _prefix, limit in filters)])


def wants_color(stream: object, choice: str = "auto") -> bool:
    """Whether to colour `stream`: `--color`, then NO_COLOR / FORCE_COLOR, then isatty."""
    if choice == "always":
        return True
    if choice == "never":
        return False
    import os

    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    if os.environ.get("TERM") == "dumb":
        return False
    return is_terminal(stream)


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


def change_line(sign: str, name: str, version: str) -> str:
    """One line of an install's summary: ` + name==1.0` or ` - name==0.9`."""
    return f" {sign} {name}=={version}"


def wants_progress(stream: object) -> bool:
    """Progress bars only on a terminal (and never under TERM=dumb or CI logs)."""
    import os

    if os.environ.get("TERM") == "dumb" or os.environ.get("WHERRY_NO_PROGRESS"):
        return False
    return is_terminal(stream)


def is_terminal(stream: object) -> bool:
    """`stream.isatty()`, False for streams without one or that are closed."""
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (OSError, ValueError):
        return False


class Printer:
    """Where a command's user-facing lines go; `quiet` hides summaries, not results.

    `color` colours stderr lines (errors, warnings, the ` + `/` - ` change lines);
    `progress` allows progress bars (stderr is a terminal and output is not quiet).
    """

    def __init__(
        self, *, quiet: bool = False, out: TextIO | None = None, err: TextIO | None = None,
        color: bool = False, progress: bool = False,
    ) -> None:
        self.quiet = quiet
        self._out = out
        self._err = err
        self.color = color
        self.show_progress = progress and not quiet
        # The command replay's recorder (cli/replay.py), when this run may be recorded:
        # it keeps the results and drops the run if anything else is said.
        self.recorder: Recorder | None = None

    @property
    def out(self) -> TextIO:
        return self._out or sys.stdout

    @property
    def err(self) -> TextIO:
        return self._err or sys.stderr

    def result(self, line: str) -> None:
        """A line that is the command's answer (list, freeze): stdout, always shown."""
        self.out.write(line + "\n")
        if self.recorder is not None:
            self.recorder.result(line)

    def summary(self, line: str) -> None:
        """A progress or summary line (`Resolved 3 packages in 12ms`): stderr, unless -q."""
        if not self.quiet:
            if self.color:
                line = _colour_summary(line)
            self.err.write(line + "\n")

    def warn(self, line: str) -> None:
        if self.recorder is not None:
            self.recorder.taint()
        self.err.write(f"{paint('warning', BOLD, YELLOW, enabled=self.color)}: {line}\n")

    def progress(self, verb: str, total: int) -> Progress:
        """A bar counting `total` items (`Preparing 3/10 numpy`), shown only when stderr
        is a terminal; otherwise a no-op, so callers never check."""
        if self.show_progress and total > 0:
            return _RichProgress(verb, total, self.err, color=self.color)
        return Progress()

    def track(self, verb: str, items: Sequence[T], name: Callable[[T], str]) -> Iterator[T]:
        """`for x in printer.track("Installing", xs, name_of):` a bar that advances as the
        loop does and is removed when it ends (or fails)."""
        with self.progress(verb, len(items)) as bar:
            for item in items:
                yield item
                bar.advance(name(item))


def _colour_summary(line: str) -> str:
    """uv's colours: ` + name==1` green, ` - name==1` red, the name bold; timings dim."""
    if line.startswith((" + ", " - ")):
        sign = line[1]
        name, sep, version = line[3:].partition("==")
        colour = GREEN if sign == "+" else RED
        return (f" {paint(sign, colour, enabled=True)} {paint(name, BOLD, enabled=True)}"
                + (paint(sep + version, DIM, enabled=True) if sep else ""))
    head, sep, tail = line.rpartition(" in ")
    if sep and tail[:1].isdigit() and " " not in tail:
        return f"{head}{paint(sep + tail, DIM, enabled=True)}"
    return line


class Progress:
    """A progress display that shows nothing (not a terminal, or quiet)."""

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def advance(self, item: str = "") -> None:
        """One more item is done (`item` names it)."""

    def done(self, result: T, item: str = "") -> T:
        """`advance(item)` and return `result`: `map(lambda x: bar.done(f(x), x.name))`."""
        self.advance(item)
        return result

    def close(self) -> None:
        """Remove the bar."""


class _RichProgress(Progress):
    """A transient rich bar on stderr; rich is imported here only (about 60 ms)."""

    def __init__(self, verb: str, total: int, stream: TextIO, *, color: bool) -> None:
        import threading

        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self._lock = threading.Lock()
        console = Console(file=stream, stderr=True, no_color=not color,
                          color_system="auto" if color else None)
        self._bar = Progress(TextColumn("{task.description}"), BarColumn(),
                             MofNCompleteColumn(), TextColumn("{task.fields[item]}"),
                             console=console, transient=True)
        self._task = self._bar.add_task(verb, total=total, item="")
        self._bar.start()

    def advance(self, item: str = "") -> None:
        with self._lock:
            self._bar.update(self._task, advance=1, item=item)

    def close(self) -> None:
        with self._lock:
            self._bar.stop()
