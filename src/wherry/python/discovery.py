"""Finding the interpreter or environment a command acts on.

For `pip` commands the target is an *environment*: `--python` (a path to an interpreter,
a venv directory, or a version request), else `VIRTUAL_ENV`, else `CONDA_PREFIX`, else a
`.venv` in the current directory or a parent. For `venv` the target is any interpreter
matching `--python` (default: the first Python on PATH). Errors say what was tried.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

from wherry.cache.layout import Cache
from wherry.errors import InterpreterNotFound, InterpreterProbeError
from wherry.python.info import InterpreterInfo, query_interpreter

TYPE_CHECKING = False  # not `from typing import ...`: importing typing costs ~3 ms

if TYPE_CHECKING:
    from packaging.specifiers import SpecifierSet

_VERSION_RE = re.compile(
    r"^(?:(?:cpython|python|cp|py)-?)?(?P<version>\d+(?:\.\d+){0,2})$", re.IGNORECASE
)


def _bin_dir(prefix: Path) -> Path:
    return prefix / ("Scripts" if os.name == "nt" else "bin")


def executable_in(prefix: Path) -> Path | None:
    """The interpreter of an environment directory, if it has one."""
    names = ("python.exe",) if os.name == "nt" else ("python", "python3")
    for name in names:
        candidate = _bin_dir(prefix) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def _parse_version_request(request: str) -> tuple[int, ...] | None:
    match = _VERSION_RE.match(request.strip())
    if not match:
        return None
    return tuple(int(part) for part in match.group("version").split("."))


def _looks_like_specifier(request: str) -> bool:
    return bool(re.match(r"^\s*(==|!=|<=|>=|<|>|~=)", request))


def _search_path_dirs() -> Iterator[Path]:
    seen: set[str] = set()
    dirs = [Path(p) for p in os.environ.get("PATH", "").split(os.pathsep) if p]
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    if pyenv_root.is_dir():
        versions = sorted(pyenv_root.iterdir(), key=lambda p: p.name, reverse=True)
        dirs += [version / "bin" for version in versions]
    for directory in dirs:
        key = str(directory)
        if key in seen or "shims" in directory.parts:
            continue
        seen.add(key)
        yield directory


def _candidate_executables(version: tuple[int, ...] | None) -> Iterator[Path]:
    names: list[str] = []
    if version and len(version) >= 2:
        names.append(f"python{version[0]}.{version[1]}")
    names += ["python3", "python"]
    for directory in _search_path_dirs():
        for name in names:
            candidate = directory / name
            if candidate.is_file() and os.access(candidate, os.X_OK):
                yield candidate


def _version_matches(info: InterpreterInfo, wanted: tuple[int, ...]) -> bool:
    return info.version[: len(wanted)] == wanted


def find_interpreter(request: str | None, cache: Cache) -> InterpreterInfo:
    """An interpreter for `request`: a path, an environment directory, or a version."""
    if request:
        path = Path(request).expanduser()
        if os.sep in request or path.exists():
            return _from_path(path, cache)
    tried: list[str] = []
    wanted: tuple[int, ...] | None = None
    specifier: SpecifierSet | None = None
    if request:
        parsed = parse_request(request)
        if parsed is None:
            raise InterpreterNotFound(
                f"`{request}` is not a Python path, version or version range",
                hint="use a path (`/usr/bin/python3`), a version (`3.12`, `python3.12`, "
                "`cpython3.12`) or a range (`>=3.10,<3.13`)",
            )
        wanted, specifier = parsed
    seen: set[str] = set()
    for candidate in _candidate_executables(wanted):
        real = os.path.realpath(candidate)
        if real in seen:
            continue
        seen.add(real)
        try:
            info = query_interpreter(candidate, cache)
        except InterpreterProbeError:
            tried.append(f"{candidate} (could not be queried)")
            continue
        if matches_request(info, wanted, specifier):
            return info
        tried.append(f"{candidate} ({info.full_version})")
    what = f"Python {request}" if request else "a Python interpreter"
    shown = "; ".join(tried[:6]) + ("; ..." if len(tried) > 6 else "")
    raise InterpreterNotFound(
        f"no interpreter found for {what} in PATH or pyenv versions"
        + (f"; tried {shown}" if tried else ""),
        hint="install that Python, or pass `--python` with the path to an interpreter",
    )


def matches_request(
    info: InterpreterInfo, wanted: tuple[int, ...] | None, specifier: SpecifierSet | None
) -> bool:
    if wanted is not None and not _version_matches(info, wanted):
        return False
    return specifier is None or specifier.contains(info.full_version, prereleases=True)


def parse_request(request: str) -> tuple[tuple[int, ...] | None, SpecifierSet | None] | None:
    """A version request as (version prefix, specifier); None when it is not one."""
    wanted = _parse_version_request(request)
    if wanted is not None:
        return wanted, None
    if _looks_like_specifier(request):
        from packaging.specifiers import InvalidSpecifier, SpecifierSet

        try:
            return None, SpecifierSet(request)
        except InvalidSpecifier:
            return None
    return None


def _from_path(path: Path, cache: Cache) -> InterpreterInfo:
    if path.is_dir():
        executable = executable_in(path)
        if executable is None:
            raise InterpreterNotFound(
                f"the directory {path} has no Python interpreter in {_bin_dir(path).name}/",
                hint="pass the path of a Python executable or of a virtual environment",
            )
        return query_interpreter(executable, cache)
    if not path.exists():
        raise InterpreterNotFound(
            f"no Python interpreter at {path}: the file does not exist",
            hint="check the path passed to `--python`",
        )
    return query_interpreter(path, cache)


def _environment_candidates() -> Iterator[tuple[str, Path | None]]:
    """Active or nearby environments, in uv's order, as (description, interpreter)."""
    for variable in ("VIRTUAL_ENV", "CONDA_PREFIX"):
        value = os.environ.get(variable)
        if value:
            yield f"{variable}={value}", executable_in(Path(value))
    cwd = Path.cwd()
    for directory in (cwd, *cwd.parents):
        venv = directory / ".venv"
        if venv.is_dir():
            yield str(venv), executable_in(venv)
            return


def find_environment(
    request: str | None, cache: Cache, *, system: bool = False
) -> InterpreterInfo:
    """The environment a `pip` command acts on (see the module docstring for the order).

    A version request (`--python 3.12`) prefers an active or nearby environment of that
    version, as uv does, and otherwise names a base interpreter.
    """
    version_request = parse_request(request) if request else None
    if request and version_request is None:
        return find_interpreter(request, cache)
    if version_request is not None and not system:
        for _where, executable in _environment_candidates():
            if executable is not None:
                info = query_interpreter(executable, cache)
                if matches_request(info, *version_request):
                    return info
    if request or system:
        return find_interpreter(request, cache)
    tried: list[str] = []
    for where, executable in _environment_candidates():
        if executable is not None:
            return query_interpreter(executable, cache)
        tried.append(f"{where} (no interpreter there)")
    tried.append(f"`.venv` in {Path.cwd()} and its parents")
    raise InterpreterNotFound(
        "no virtual environment found; tried " + ", ".join(tried),
        hint="run `wherry venv` to create one in `.venv`, activate an environment, or "
        "pass `--python` (or `--system` for the first Python on PATH)",
    )
