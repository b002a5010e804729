"""Unit tests of the build layer's pure parts: the built-wheel cache key, PEP 643 static
metadata, `[build-system]` defaults, static `[project]` metadata and tree state."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from wherry.build.builder import Builder, Source
from wherry.build.cache import source_for_sdist
from wherry.build.env import BuildEnvironments
from wherry.build.options import BuildOptions
from wherry.build.project import (
    LEGACY_BACKEND,
    build_system,
    pyproject_metadata,
    static_metadata,
    tree_state,
)
from wherry.cache.layout import Cache
from wherry.errors import BuildError
from wherry.python.info import InterpreterInfo


def interpreter(**changes: Any) -> InterpreterInfo:
    raw: dict[str, Any] = {
        "implementation": "cpython", "markers": {"python_full_version": "3.13.0"},
        "abis": ["cp313"], "os": "linux", "arch": "x86_64", "gil_disabled": False,
        "prefix": "/env", "scheme": {"purelib": "/env/lib", "platlib": "/env/lib"},
    }
    raw.update(changes)
    return InterpreterInfo(raw)


def key(tmp_path: Path, *, tags: tuple[str, ...] = ("cp313-cp313-linux_x86_64",),
        editable: bool = False, info: InterpreterInfo | None = None, **options: Any) -> str:
    target = info or interpreter()
    environments = BuildEnvironments(target, installer=None,  # type: ignore[arg-type]
                                     make_dir=lambda: tmp_path)
    builder = Builder(target, list(tags), Cache.at(tmp_path), BuildOptions(**options),
                      environments)
    source = Source(source_for_sdist("ab" * 32, "x==1"), "x", "x==1", lambda p: p)
    return builder.key(source, editable=editable)


def test_build_key_holds_everything_that_changes_a_build(tmp_path: Path) -> None:
    base = key(tmp_path)
    assert base == key(tmp_path)
    variants = {
        "tags": key(tmp_path, tags=("cp313-cp313-manylinux_2_17_x86_64",)),
        "free-threaded": key(tmp_path, info=interpreter(gil_disabled=True, abis=["cp313t"])),
        "version": key(tmp_path, info=interpreter(markers={"python_full_version": "3.13.1"})),
        "isolation": key(tmp_path, isolation=False),
        "config": key(tmp_path, config_settings={"a": "b"}),
        "constraints": key(tmp_path, build_constraints=("setuptools<70",)),
        "editable": key(tmp_path, editable=True),
    }
    assert base not in variants.values()
    assert len(set(variants.values())) == len(variants)


@pytest.mark.parametrize(("pkg_info", "usable"), [
    ("Metadata-Version: 2.2\nName: a\nVersion: 1\n\n", True),
    ("Metadata-Version: 2.1\nName: a\nVersion: 1\n\n", False),
    ("Metadata-Version: 2.4\nName: a\nVersion: 1\nDynamic: Requires-Dist\n\n", False),
    ("Metadata-Version: 2.4\nName: a\nVersion: 1\nDynamic: License\n\n", True),
])
def test_static_pkg_info(pkg_info: str, usable: bool) -> None:
    assert static_metadata(pkg_info.encode()) is usable


def test_build_system_defaults(tmp_path: Path) -> None:
    with pytest.raises(BuildError, match="does not look like a Python project"):
        build_system(tmp_path)
    (tmp_path / "setup.py").write_text("")
    assert build_system(tmp_path).backend == LEGACY_BACKEND
    (tmp_path / "pyproject.toml").write_text('[build-system]\nrequires = ["x"]\n')
    legacy = build_system(tmp_path)
    assert legacy.backend == LEGACY_BACKEND and legacy.requires == ("x",)
    (tmp_path / "pyproject.toml").write_text("[build-system]\nbuild-backend = 'b'\n")
    with pytest.raises(BuildError, match="requires"):
        build_system(tmp_path)


def test_pyproject_metadata_only_when_static(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "p"\nversion = "1.0"\nrequires-python = ">=3.9"\n'
        'dependencies = ["a>=1"]\n[project.optional-dependencies]\n'
        'Fast = ["b; os_name == \'posix\'"]\n')
    data = pyproject_metadata(tmp_path)
    assert data is not None
    text = data.decode()
    assert "Requires-Dist: a>=1\n" in text and "Provides-Extra: fast\n" in text
    assert 'Requires-Dist: b ; (os_name == "posix") and extra == "fast"' in text
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "p"\ndynamic = ["version"]\n')
    assert pyproject_metadata(tmp_path) is None


def test_tree_state_follows_edits_but_not_build_output(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "m.py").write_text("x = 1\n")
    before = tree_state(tmp_path)
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "junk").write_text("")
    (tmp_path / "p.egg-info").mkdir()
    assert tree_state(tmp_path) == before
    (tmp_path / "pkg" / "m.py").write_text("x = 22\n")
    os.utime(tmp_path / "pkg" / "m.py", ns=(1, 1))
    assert tree_state(tmp_path) != before


def test_build_requirements_for_other_extras_and_platforms_are_dropped() -> None:
    """flit-core lists the project's own extras in `get_requires_for_build_wheel`."""
    from wherry.build.builder import applicable_requirements

    markers = {"python_version": "3.12", "sys_platform": "linux", "platform_system": "Linux"}
    assert applicable_requirements(
        ['ruff >= 0.16.0 ; extra == "all"', "wheel", "pywin32; sys_platform == 'win32'",
         "tomli; python_version < '3.11'", "not a requirement !!"],
        markers,
    ) == ["wheel", "not a requirement !!"]


def test_kept_backends_are_bounded_and_closed_with_the_environments(tmp_path: Path) -> None:
    """Sources whose metadata was prepared keep their backend process for the build;
    a long resolution must not pile them up, and `close()` ends those left."""
    from wherry.build.env import KEEP_AT_MOST

    closed: list[int] = []

    class Kept:
        def __init__(self, number: int) -> None:
            self.number = number

        def close(self) -> None:
            closed.append(self.number)

    environments = BuildEnvironments(interpreter(), installer=None,  # type: ignore[arg-type]
                                     make_dir=lambda: tmp_path)
    for number in range(KEEP_AT_MOST + 2):
        environments.keep(number, Kept(number))
    assert closed == [0, 1]  # the oldest went first
    taken = environments.take(5)
    assert isinstance(taken, Kept) and taken.number == 5
    assert environments.take(5) is None
    environments.keep(2, Kept(20))  # the same key again: the old one is closed
    assert closed == [0, 1, 2]
    environments.close()
    assert sorted(closed) == sorted([0, 1, 2, *(n for n in range(3, KEEP_AT_MOST + 2)
                                                if n != 5), 20])
