"""`InterpreterInfo`: what wherry knows about a target interpreter, and its cache.

The probe (probe.py) is a pure function of files and variables that can be observed
without running Python, so its answer is cached and *validated by stat*, not by age
(DESIGN.md section 4). The cache key holds what identifies the question (the executable's
absolute and canonical path, `os.uname()`, the environment variables the probe reads).
The entry holds validators:

* hard: the executable (where it points if it is a symlink, else its lstat; and the stat
  of what it leads to), `pyvenv.cfg` (its content, or its absence), every `sys.path`
  directory outside the site directories, and every file whose content the answer
  depends on (`.pth` files, `_manylinux`, `sitecustomize`). Any change re-probes.
* soft: the site directories. An install changes their mtime every time, so a mismatch
  re-scans the directory and re-probes only when the set of `.pth` files or the presence
  of `_manylinux*`/`sitecustomize*`/`usercustomize*` changed.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import os
import time
from pathlib import Path

from wherry.cache.entry import write_atomic
from wherry.cache.layout import Cache
from wherry.errors import InterpreterProbeError
from wherry.output import log, trace
from wherry.python.validators import still_valid, validators_of

TYPE_CHECKING = False  # not `from typing import ...`: importing typing costs ~3 ms

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any

PROBE_VERSION = 2
# Environment variables that change the probe's answer.
_KEY_VARIABLES = ("PYTHONEXECUTABLE", "__PYVENV_LAUNCHER__", "PYTHONPATH", "PYTHONHOME",
                  "PYTHONNOUSERSITE", "PYTHONUSERBASE", "LD_LIBRARY_PATH", "LD_PRELOAD")


class InterpreterInfo:
    """The probed facts about one interpreter. See probe.py for the meaning of each.

    A plain class over the probe's JSON (not a dataclass: `dataclasses` costs several
    milliseconds to import, and this is on the no-op path).
    """

    __slots__ = ("raw",)

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw

    def __eq__(self, other: object) -> bool:
        return isinstance(other, InterpreterInfo) and other.raw == self.raw

    __hash__ = None  # type: ignore[assignment]

    @property
    def executable(self) -> str:
        return str(self.raw["executable"])

    @property
    def prefix(self) -> str:
        return str(self.raw["prefix"])

    @property
    def base_prefix(self) -> str:
        return str(self.raw["base_prefix"])

    @property
    def is_venv(self) -> bool:
        return self.prefix != self.base_prefix

    @property
    def version(self) -> tuple[int, int, int]:
        major, minor, micro = self.raw["version"]
        return (int(major), int(minor), int(micro))

    @property
    def python_version(self) -> str:
        """`3.12`."""
        return "{}.{}".format(*self.version[:2])

    @property
    def full_version(self) -> str:
        """`3.12.1`."""
        return str(self.raw["markers"]["python_full_version"])

    @property
    def implementation(self) -> str:
        return str(self.raw["implementation"])

    @property
    def markers(self) -> dict[str, str]:
        return dict(self.raw["markers"])

    @property
    def sys_path(self) -> list[str]:
        return list(self.raw["sys_path"])

    @property
    def scheme(self) -> dict[str, str]:
        """Absolute install paths (purelib, platlib, scripts, data, include) for `prefix`."""
        return dict(self.raw["scheme"])

    @property
    def venv_scheme(self) -> dict[str, str]:
        """Install paths relative to a prefix, used to lay out a new venv."""
        return dict(self.raw["venv_scheme"])

    @property
    def site_packages(self) -> Path:
        return Path(self.raw["scheme"]["purelib"])

    @property
    def scripts_dir(self) -> Path:
        return Path(self.raw["scheme"]["scripts"])

    @property
    def glibc(self) -> tuple[int, int] | None:
        value = self.raw.get("glibc")
        return (int(value[0]), int(value[1])) if value else None

    @property
    def musl(self) -> tuple[int, int] | None:
        value = self.raw.get("musl")
        return (int(value[0]), int(value[1])) if value else None

    @property
    def arch(self) -> str:
        return str(self.raw["arch"])

    @property
    def os(self) -> str:
        """`sys.platform` of the target (`linux`, `darwin`, `win32`)."""
        return str(self.raw["os"])

    @property
    def abis(self) -> list[str]:
        return list(self.raw["abis"])

    @property
    def manylinux(self) -> dict[str, Any]:
        """The PEP 600 answers: `found`, `per_minor` {"17": bool|None}, `legacy` {attr: bool}."""
        return dict(self.raw["manylinux"])


#: Work to do in the probing thread while a probe runs (see `while_probing`).
_meanwhile: contextvars.ContextVar[list[Callable[[], None]] | None] = contextvars.ContextVar(
    "wherry_probe_meanwhile", default=None)


@contextlib.contextmanager
def while_probing(work: Callable[[], None]) -> Iterator[None]:
    """Within the block, the first interpreter probe runs `work` while it waits.

    Why: a probe is a subprocess of 20-40 ms during which the caller only waits, and a
    command about to resolve has tens of milliseconds of imports ahead of it that
    cannot start earlier without slowing the no-op path (which never probes when the
    cache holds). Scoped to the block (a context variable, not a setting), run at most
    once, and never when every answer comes from the cache. Errors in `work` are
    ignored: whatever it prepared is prepared again, and fails loudly, where it is used.
    """
    token = _meanwhile.set([work])
    try:
        yield
    finally:
        _meanwhile.reset(token)


def _run_meanwhile() -> None:
    pending = _meanwhile.get()
    while pending:
        work = pending.pop()
        with contextlib.suppress(Exception):
            work()


def _run_probe(executable: str) -> dict[str, Any]:
    import subprocess

    source = (Path(__file__).with_name("probe.py")).read_text()
    code = "import sys\nif sys.path and sys.path[0] in ('', '.'): del sys.path[0]\n" + source
    try:
        process = subprocess.Popen(
            [executable, "-B", "-c", code],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={k: v for k, v in os.environ.items() if k != "PYTHONSTARTUP"},
        )
    except OSError as exc:
        raise InterpreterProbeError(
            f"could not run the Python interpreter at {executable}: {exc.strerror or exc}",
            hint="check that the file exists and is an executable Python 3.8 or newer",
        ) from None
    with process:
        try:
            _run_meanwhile()
            stdout, stderr = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise InterpreterProbeError(
                f"the Python interpreter at {executable} did not answer within 60 seconds"
            ) from None
        except BaseException:
            process.kill()
            raise
    if process.returncode != 0:
        detail = stderr.strip().splitlines()[-1:] or ["no output"]
        raise InterpreterProbeError(
            f"querying the Python interpreter at {executable} failed: {detail[0]}",
            hint="wherry supports CPython 3.8 and newer",
        )
    try:
        data = json.loads(stdout)
    except ValueError:
        raise InterpreterProbeError(
            f"the Python interpreter at {executable} printed something wherry cannot read"
        ) from None
    if not isinstance(data, dict) or data.get("probe_version") != PROBE_VERSION:
        raise InterpreterProbeError(f"unexpected probe answer from {executable}")
    return data


def _cache_key(executable: str) -> tuple[str, str]:
    """(file name, key material). The name is a cheap checksum (zlib, not hashlib: this
    runs on the no-op path); the material is stored and compared on every read, so two
    interpreters whose keys collide can never be given each other's answer."""
    import zlib

    parts = [os.path.abspath(executable), os.path.realpath(executable), *os.uname()]
    parts += [f"{name}={os.environ.get(name, '')}" for name in _KEY_VARIABLES]
    material = "\0".join(parts)
    encoded = material.encode("utf-8", "surrogateescape")
    return f"{zlib.crc32(encoded):08x}{zlib.adler32(encoded):08x}", material


def query_interpreter(
    executable: str | os.PathLike[str], cache: Cache, *, refresh: bool = False
) -> InterpreterInfo:
    """Probe `executable`, or answer from a cache entry whose validators still hold."""
    exe = os.path.abspath(os.fspath(executable))
    name, material = _cache_key(exe)
    path = cache.bucket("interpreters") / f"{name}.json"
    if not refresh:
        try:
            entry = json.loads(path.read_bytes())
        except (OSError, ValueError):
            entry = None
        if (
            isinstance(entry, dict)
            and entry.get("probe_version") == PROBE_VERSION
            and entry.get("key") == material
        ):
            try:
                valid, soft_changed = still_valid(entry["validators"])
            except (KeyError, TypeError, ValueError):
                valid, soft_changed = False, False
            if valid:
                info = InterpreterInfo(entry["info"])
                trace(
                    "Cached interpreter info for Python %s, skipping probing: %s",
                    info.full_version,
                    exe,
                )
                if soft_changed:
                    write_atomic(path, json.dumps(entry).encode())
                return info
    start = time.perf_counter()
    data = _run_probe(exe)
    log.debug(
        "Queried interpreter info for Python %s in %.0fms: %s",
        data["markers"]["python_full_version"],
        (time.perf_counter() - start) * 1000,
        exe,
    )
    entry = {
        "probe_version": PROBE_VERSION,
        "key": material,
        "info": data,
        "validators": validators_of(exe, data),
    }
    # Never cache a shim (pyenv and the like): its answer depends on more than its files.
    if os.path.realpath(data["executable"]) == os.path.realpath(exe):
        write_atomic(path, json.dumps(entry).encode())
    return InterpreterInfo(data)
