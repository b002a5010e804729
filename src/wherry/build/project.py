"""What a source tree says about how to build it: `[build-system]`, static metadata, state.

Pure readers of files: the build backend and its requirements (PEP 517/518, with
setuptools' legacy backend when there is no `[build-system]`), whether an sdist's
PKG-INFO can be trusted as the metadata of the wheel it builds (PEP 643), and a digest
of a local tree's state so a changed project is rebuilt.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path
from typing import Any

import msgspec

from wherry.errors import BuildError

#: PEP 517's fallback when a project has no `[build-system]` (pip and uv do the same).
LEGACY_BACKEND = "setuptools.build_meta:__legacy__"
LEGACY_REQUIRES = ("setuptools>=40.8.0",)
# Fields the resolver reads from metadata: PKG-INFO is usable only when none is dynamic.
_RESOLUTION_FIELDS = frozenset({"requires-dist", "requires-python", "provides-extra"})
# Directories whose content never changes what a local project builds into.
_IGNORED_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", ".tox", ".nox", ".venv",
                           "build", "dist", ".mypy_cache", ".pytest_cache", ".ruff_cache"})


class BuildSystem(msgspec.Struct, frozen=True):
    """The PEP 517/518 build system of a source tree."""

    requires: tuple[str, ...]
    backend: str
    backend_path: tuple[str, ...] = ()

    @property
    def is_legacy(self) -> bool:
        return self.backend == LEGACY_BACKEND


def _load_toml(path: Path) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - the host is 3.10 only in old environments
        import tomli as tomllib
    try:
        with open(path, "rb") as handle:
            data: dict[str, Any] = tomllib.load(handle)
            return data
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise BuildError(f"cannot read {path}: {exc}",
                         hint="fix the TOML syntax of the project's pyproject.toml") from None


def read_pyproject(source: Path) -> dict[str, Any]:
    """The parsed `pyproject.toml` of `source` ({} when there is none)."""
    return _load_toml(source / "pyproject.toml")


def build_system(source: Path) -> BuildSystem:
    """The build system of the tree at `source`, PEP 517/518 defaults applied."""
    pyproject = read_pyproject(source)
    table = pyproject.get("build-system")
    if table is None:
        if not (source / "setup.py").is_file() and not (source / "setup.cfg").is_file() \
                and not (source / "pyproject.toml").is_file():
            raise BuildError(
                f"{source} does not look like a Python project: it has no pyproject.toml, "
                "setup.py or setup.cfg",
                hint="point at the directory that holds the project's pyproject.toml")
        return BuildSystem(LEGACY_REQUIRES, LEGACY_BACKEND)
    where = source / "pyproject.toml"
    if not isinstance(table, dict):
        raise BuildError(f"{where}: [build-system] is not a table")
    requires = table.get("requires")
    if not isinstance(requires, list) or not all(isinstance(r, str) for r in requires):
        raise BuildError(
            f"{where}: [build-system] has no `requires` list of strings",
            hint="PEP 518 requires it, e.g. `requires = [\"setuptools>=61\"]`")
    backend = table.get("build-backend")
    if backend is None:
        # PEP 517: without a backend, the legacy setuptools path with these requirements.
        return BuildSystem(tuple(requires), LEGACY_BACKEND)
    if not isinstance(backend, str) or not backend.strip():
        raise BuildError(f"{where}: `build-backend` must be a non-empty string")
    paths = table.get("backend-path", [])
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise BuildError(f"{where}: `backend-path` must be a list of strings")
    return BuildSystem(tuple(requires), backend.strip(), tuple(paths))


_STATIC_NEEDED = ("dependencies", "optional-dependencies", "requires-python", "version")


def pyproject_metadata(source: Path) -> bytes | None:
    """Core metadata from a static PEP 621 `[project]` table, or None.

    What the resolver needs (name, version, Requires-Python, Requires-Dist, extras) is
    fully declared when none of it is `dynamic` (PEP 621 then forbids the backend to
    change it), so a local project need not run its backend before resolution (uv does
    the same). The installed METADATA still comes from the real build."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    project = read_pyproject(source).get("project")
    if not isinstance(project, dict):
        return None
    dynamic = project.get("dynamic", [])
    if not isinstance(dynamic, list) or any(f in dynamic for f in _STATIC_NEEDED):
        return None
    name, version = project.get("name"), project.get("version")
    if not isinstance(name, str) or not isinstance(version, str):
        return None
    lines = ["Metadata-Version: 2.2", f"Name: {name}", f"Version: {version}"]
    requires_python = project.get("requires-python")
    if isinstance(requires_python, str):
        lines.append(f"Requires-Python: {requires_python}")
    try:
        for text in project.get("dependencies", []):
            lines.append(f"Requires-Dist: {Requirement(text)}")
        extras = project.get("optional-dependencies", {})
        for extra, items in (extras.items() if isinstance(extras, dict) else ()):
            normalized = canonicalize_name(extra)
            lines.append(f"Provides-Extra: {normalized}")
            for text in items:
                requirement = Requirement(text)
                condition = f'extra == "{normalized}"'
                if requirement.marker is not None:
                    condition = f"({requirement.marker}) and {condition}"
                requirement.marker = None
                lines.append(f"Requires-Dist: {requirement} ; {condition}")
    except (InvalidRequirement, TypeError, AttributeError):
        return None  # let the backend report it
    return ("\n".join(lines) + "\n\n").encode("utf-8")


def project_name(source: Path) -> str | None:
    """The project name a tree declares statically (`[project]`, setup.cfg), or None."""
    project = read_pyproject(source).get("project")
    if isinstance(project, dict) and isinstance(project.get("name"), str):
        return str(project["name"])
    cfg = source / "setup.cfg"
    if cfg.is_file():
        import configparser

        parser = configparser.RawConfigParser()
        try:
            parser.read(cfg, encoding="utf-8")
            name = parser.get("metadata", "name", fallback=None)
        except (configparser.Error, UnicodeDecodeError):
            name = None
        if name and "%" not in name and "attr:" not in name:
            return name.strip()
    return None


def _headers(data: bytes) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for line in data.decode("utf-8", errors="replace").splitlines():
        if not line:
            break
        if line[0] in " \t":
            continue
        key, sep, value = line.partition(":")
        if sep:
            found.append((key.strip().lower(), value.strip()))
    return found


def static_metadata(pkg_info: bytes) -> bool:
    """Whether an sdist's PKG-INFO can stand for its wheel's METADATA (PEP 643).

    Only from Metadata-Version 2.2 on are PKG-INFO fields promised to match the built
    wheel unless listed as `Dynamic`; the fields resolution reads must not be listed."""
    headers = _headers(pkg_info)
    version = next((v for k, v in headers if k == "metadata-version"), "")
    try:
        major, minor = (int(p) for p in version.split(".")[:2])
    except ValueError:
        return False
    if (major, minor) < (2, 2):
        return False
    dynamic = {v.lower() for k, v in headers if k == "dynamic"}
    return not (dynamic & _RESOLUTION_FIELDS)


def tree_state(source: Path) -> str:
    """A digest of every file's path, size and mtime under a local project.

    Any edit, added or removed file changes it, so a rebuilt project never reuses an
    older build. Build outputs, VCS data and caches are skipped."""
    digest = hashlib.sha256()
    for current, dirs, files in os.walk(source):
        dirs[:] = sorted(d for d in dirs
                         if d not in _IGNORED_DIRS and not d.endswith(".egg-info"))
        for name in sorted(files):
            path = os.path.join(current, name)
            try:
                st = os.stat(path)
            except OSError:
                continue
            relative = os.path.relpath(path, source)
            digest.update(f"{relative}\0{st.st_size}\0{st.st_mtime_ns}\n".encode(
                "utf-8", "surrogateescape"))
    return digest.hexdigest()
