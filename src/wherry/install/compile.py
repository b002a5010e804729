"""Bytecode compilation of installed files (`--compile-bytecode`), as uv and pip do it.

The `.pyc` files must be written by the *target* interpreter (its magic number, its
`cache_tag`, its optimisation defaults), never by the Python running wherry. So, like uv,
this starts a small pool of the target's own `python -I` processes that read source paths
on stdin, compile each with `py_compile` and answer one line per file; the parent hands
out paths one at a time, so the pool balances itself and a file that hangs the compiler is
caught by a per-file timeout (`WHERRY_COMPILE_BYTECODE_TIMEOUT`, default 60 s, 0 = none).

- `PYC_INVALIDATION_MODE` (`timestamp`, `checked-hash`, `unchecked-hash`) is honoured, as
  uv does; otherwise `py_compile`'s default applies (timestamp, or checked-hash when
  `SOURCE_DATE_EPOCH` is set).
- Compile errors (a Python 2 file in a wheel, a deliberately broken test fixture) are
  muted, as pip and uv do: the import system reports them if the module is ever imported.
- The `.pyc` files are not listed in RECORD; PEP 491 lets uninstallers remove them, and
  wherry's uninstall removes each `.py`'s `__pycache__` entries.

Only the `.py` files of the distributions just installed are compiled (pip's behaviour;
uv recompiles the whole site-packages).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterable, Iterator, Sequence

from wherry.errors import InstallError, UsageError
from wherry.output import log, trace

TYPE_CHECKING = False  # not `from typing import ...`: importing typing costs ~3 ms

if TYPE_CHECKING:
    import subprocess

_MODES = {"timestamp": "TIMESTAMP", "checked-hash": "CHECKED_HASH",
          "unchecked-hash": "UNCHECKED_HASH"}
_TRUE = frozenset({"1", "true", "yes", "on", "y", "t"})
_FALSE = frozenset({"0", "false", "no", "off", "n", "f", ""})
_FILES_PER_WORKER = 100

# Runs inside the target interpreter (Python 3.8+, stdlib only).
WORKER = r"""
import os, sys, warnings, py_compile
mode = os.environ.get("PYC_INVALIDATION_MODE", "").strip()
kwargs = {}
if mode:
    kwargs["invalidation_mode"] = py_compile.PycInvalidationMode[
        mode.upper().replace("-", "_")]
warnings.simplefilter("ignore")
out = sys.stdout.buffer
out.write(b"ready\n")
out.flush()
while True:
    raw = sys.stdin.buffer.readline()
    if not raw:
        break
    path = os.fsdecode(raw[:-1])
    try:
        py_compile.compile(path, doraise=True, **kwargs)
        answer = b"ok\n"
    except Exception:
        answer = b"error\n"
    out.write(answer)
    out.flush()
"""


def bytecode_requested(flag: bool | None) -> bool:
    """`--compile-bytecode`/`--no-compile-bytecode` if given, else WHERRY_COMPILE_BYTECODE."""
    if flag is not None:
        return flag
    value = os.environ.get("WHERRY_COMPILE_BYTECODE", "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise UsageError(
        f"invalid WHERRY_COMPILE_BYTECODE value {value!r}", hint="use 1/true or 0/false"
    )


def check_invalidation_mode() -> None:
    """Refuse a bad PYC_INVALIDATION_MODE before anything is installed."""
    value = os.environ.get("PYC_INVALIDATION_MODE", "").strip()
    if value and value.lower().replace("_", "-") not in _MODES:
        raise UsageError(
            f"invalid PYC_INVALIDATION_MODE value {value!r}",
            hint="use one of: " + ", ".join(_MODES),
        )


def python_files(paths: Iterable[os.PathLike[str] | str], lib_dirs: Iterable[str]) -> list[str]:
    """The `.py` files among `paths` that lie inside one of `lib_dirs`, sorted."""
    roots = tuple(os.path.join(os.path.abspath(d), "") for d in lib_dirs)
    found = {
        os.fspath(p) for p in paths
        if os.fspath(p).endswith(".py") and os.fspath(p).startswith(roots)
    }
    return sorted(f for f in found if "\n" not in f and os.path.isfile(f))


def _timeout() -> float | None:
    raw = os.environ.get("WHERRY_COMPILE_BYTECODE_TIMEOUT", "").strip()
    if not raw:
        return 60.0
    try:
        value = float(raw)
    except ValueError:
        raise UsageError(f"invalid WHERRY_COMPILE_BYTECODE_TIMEOUT value {raw!r}",
                         hint="a number of seconds, 0 for no limit") from None
    return value if value > 0 else None


def _read_line(fd: int, timeout: float | None, what: str) -> bytes:
    import select

    data = b""
    while not data.endswith(b"\n"):
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            raise InstallError(
                f"timed out after {timeout:g} s compiling {what}",
                hint="raise WHERRY_COMPILE_BYTECODE_TIMEOUT (0 disables the limit)",
            )
        chunk = os.read(fd, 256)
        if not chunk:
            raise InstallError(f"the bytecode compiler process exited while compiling {what}")
        data += chunk
    return data


class _Pool:
    """Hands out paths to worker processes, one at a time each."""

    def __init__(self, files: Sequence[str], timeout: float | None) -> None:
        self._files: Iterator[str] = iter(files)
        self._lock = threading.Lock()
        self._timeout = timeout
        self.errors: list[BaseException] = []
        self.failed = 0

    def _next(self) -> str | None:
        with self._lock:
            if self.errors:
                return None
            return next(self._files, None)

    def drive(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdin is not None and process.stdout is not None
        out = process.stdout.fileno()
        try:
            _read_line(out, self._timeout, "(starting the worker)")
            while (path := self._next()) is not None:
                process.stdin.write(os.fsencode(path) + b"\n")
                process.stdin.flush()
                if _read_line(out, self._timeout, path) != b"ok\n":
                    trace("Could not compile %s (muted)", path)
                    with self._lock:
                        self.failed += 1
        except (InstallError, OSError) as error:
            with self._lock:
                self.errors.append(error)
            process.kill()


def compile_bytecode(
    executable: str, files: Sequence[str], *, workers: int | None = None
) -> int:
    """Compile `files` with the interpreter `executable`; returns how many compiled.

    Raises `InstallError` if a worker cannot start, dies, or times out on a file.
    """
    if not files:
        return 0
    check_invalidation_mode()
    timeout = _timeout()
    if workers is None:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
            os.cpu_count() or 1)
        workers = max(1, min(cpus, -(-len(files) // _FILES_PER_WORKER)))
    log.debug("Compiling %d files with %d worker(s) of %s", len(files), workers, executable)
    import subprocess  # here: `apply` imports this module on every install (~9 ms)

    pool = _Pool(files, timeout)
    processes: list[subprocess.Popen[bytes]] = []
    threads: list[threading.Thread] = []
    try:
        for _ in range(workers):
            try:
                process = subprocess.Popen(
                    [executable, "-I", "-c", WORKER],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                    bufsize=0,
                )
            except OSError as error:
                raise InstallError(
                    f"cannot start {executable} to compile bytecode: {error.strerror}"
                ) from None
            processes.append(process)
            thread = threading.Thread(target=pool.drive, args=(process,), daemon=True)
            thread.start()
            threads.append(thread)
        for thread in threads:
            thread.join()
    finally:
        for process in processes:
            if process.stdin is not None:
                with contextlib.suppress(OSError):
                    process.stdin.close()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()
    if pool.errors:
        first = pool.errors[0]
        if isinstance(first, InstallError):
            raise InstallError(f"Failed to bytecode-compile: {first.message}",
                               hint=first.hint)
        raise InstallError(f"Failed to bytecode-compile with {executable}: {first}")
    return len(files) - pool.failed
