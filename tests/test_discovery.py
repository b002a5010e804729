"""Finding the interpreter or environment a command acts on, and when it may be changed."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.support import RunWherry
from wherry.cache.layout import Cache
from wherry.commands.environment import check_modifiable
from wherry.errors import EnvironmentError_, InterpreterNotFound
from wherry.python.discovery import find_environment, find_interpreter
from wherry.python.info import InterpreterInfo, query_interpreter

PYENV = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"


def pyenv_python(minor: str) -> Path:
    found = sorted(PYENV.glob(f"{minor}.*/bin/python{minor}")) if PYENV.is_dir() else []
    if not found:
        pytest.skip(f"Python {minor} is not installed under pyenv")
    return found[-1]


@pytest.fixture
def cache(tmp_path: Path) -> Cache:
    return Cache.at(tmp_path / "cache")


@pytest.mark.parametrize(
    ("request_text", "expected"),
    [("3.12", (3, 12)), ("python3.12", (3, 12)), ("cpython3.12", (3, 12)),
     ("cp312", None), ("3.13", (3, 13)), (">=3.12,<3.13", (3, 12))],
)
def test_version_requests(request_text: str, expected: tuple[int, int] | None,
                          cache: Cache) -> None:
    pyenv_python("3.12")
    pyenv_python("3.13")
    if expected is None:
        with pytest.raises(InterpreterNotFound):
            find_interpreter(request_text, cache)
        return
    assert find_interpreter(request_text, cache).version[:2] == expected


def test_exact_patch_version(cache: Cache) -> None:
    executable = pyenv_python("3.12")
    full = query_interpreter(executable, cache).full_version
    assert find_interpreter(full, cache).full_version == full


def test_paths_and_venv_dirs(cache: Cache, tmp_path: Path, run_wherry: RunWherry) -> None:
    venv = tmp_path / "v"
    assert run_wherry("venv", venv, "--python", sys.executable).ok
    by_dir = find_interpreter(str(venv), cache)
    by_exe = find_interpreter(str(venv / "bin" / "python"), cache)
    assert by_dir.prefix == by_exe.prefix == str(venv)
    with pytest.raises(InterpreterNotFound, match="does not exist"):
        find_interpreter(str(tmp_path / "missing" / "python"), cache)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InterpreterNotFound, match="has no Python interpreter"):
        find_interpreter(str(empty), cache)


def test_missing_version_says_what_was_tried(cache: Cache) -> None:
    with pytest.raises(InterpreterNotFound) as info:
        find_interpreter("3.99", cache)
    assert "tried" in info.value.message and "(3." in info.value.message
    with pytest.raises(InterpreterNotFound, match="not a Python path, version"):
        find_interpreter("banana", cache)


def test_environment_order(cache: Cache, tmp_path: Path, run_wherry: RunWherry,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    active = tmp_path / "active"
    conda = tmp_path / "conda"
    project = tmp_path / "project"
    for path in (active, conda, project / ".venv"):
        assert run_wherry("venv", path, "--python", sys.executable).ok
    (project / "deep").mkdir()
    monkeypatch.chdir(project / "deep")
    assert find_environment(None, cache).prefix == str(project / ".venv")
    monkeypatch.setenv("CONDA_PREFIX", str(conda))
    assert find_environment(None, cache).prefix == str(conda)
    monkeypatch.setenv("VIRTUAL_ENV", str(active))
    assert find_environment(None, cache).prefix == str(active)
    # A version request prefers the active environment when it matches.
    version = "{}.{}".format(*sys.version_info[:2])
    assert find_environment(version, cache).prefix == str(active)
    # --system skips environments.
    assert not find_environment(None, cache, system=True).is_venv


def test_no_environment_error(cache: Cache, tmp_path: Path,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InterpreterNotFound) as info:
        find_environment(None, cache)
    assert "no virtual environment found" in info.value.message
    assert info.value.hint is not None and "wherry venv" in info.value.hint


def _fake_base(tmp_path: Path, *, managed: bool) -> InterpreterInfo:
    stdlib = tmp_path / "stdlib"
    stdlib.mkdir(exist_ok=True)
    if managed:
        (stdlib / "EXTERNALLY-MANAGED").write_text("[externally-managed]\nError=no\n")
    return InterpreterInfo({"prefix": "/usr", "base_prefix": "/usr", "stdlib": str(stdlib),
                            "executable": "/usr/bin/python3"})


def test_modifying_a_base_environment_needs_consent(tmp_path: Path) -> None:
    plain = _fake_base(tmp_path, managed=False)
    with pytest.raises(EnvironmentError_, match="not a virtual environment"):
        check_modifiable(plain, system=False, break_system_packages=False)
    check_modifiable(plain, system=True, break_system_packages=False)
    managed = _fake_base(tmp_path, managed=True)
    with pytest.raises(EnvironmentError_, match="externally managed"):
        check_modifiable(managed, system=True, break_system_packages=False)
    check_modifiable(managed, system=False, break_system_packages=True)


def test_cli_refuses_base_interpreter(run_wherry: RunWherry) -> None:
    result = run_wherry("pip", "install", "anything", "--python", sys.base_prefix + "/bin/python3")
    assert result.returncode == 1
    assert "not a virtual environment" in result.stderr and "--system" in result.stderr
