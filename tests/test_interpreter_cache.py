"""The interpreter-info cache is validated by stat, and re-probes exactly when it must.

Each case makes a real venv, warms the cache, changes one thing, and checks whether
the next query ran the probe (counted by wrapping the probe runner).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import RunWherry
from wherry.cache.layout import Cache
from wherry.python import info as info_module
from wherry.python.info import query_interpreter


class ProbeCounter:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        original = info_module._run_probe

        def counting(executable: str) -> dict[str, Any]:
            self.calls += 1
            return original(executable)

        monkeypatch.setattr(info_module, "_run_probe", counting)

    def probes(self, executable: Path, cache: Cache) -> int:
        before = self.calls
        query_interpreter(executable, cache)
        return self.calls - before


@pytest.fixture
def counter(monkeypatch: pytest.MonkeyPatch) -> ProbeCounter:
    return ProbeCounter(monkeypatch)


@pytest.fixture
def venv(tmp_path: Path, run_wherry: RunWherry) -> Iterator[Path]:
    path = tmp_path / "venv"
    result = run_wherry("venv", path, "--python", sys.executable)
    assert result.ok, result
    yield path


def python_of(venv: Path) -> Path:
    return venv / "bin" / "python"


def site_of(venv: Path) -> Path:
    return next(venv.glob("lib/python3.*/site-packages"))


@pytest.fixture
def cache(tmp_path: Path) -> Cache:
    return Cache.at(tmp_path / "cache")


def test_hit_runs_no_probe(venv: Path, cache: Cache, counter: ProbeCounter) -> None:
    assert counter.probes(python_of(venv), cache) == 1
    assert counter.probes(python_of(venv), cache) == 0


def test_hit_is_logged_at_trace(venv: Path, run_wherry: RunWherry) -> None:
    run_wherry("pip", "list", "--python", venv)
    result = run_wherry("pip", "list", "--python", venv, "-vv")
    assert "Cached interpreter info for Python" in result.stderr
    assert f"skipping probing: {python_of(venv)}" in result.stderr


@pytest.mark.parametrize(
    "change",
    ["manylinux-added", "manylinux-edited", "manylinux-removed", "pth-added",
     "pth-edited", "sitecustomize-added", "pyvenv-edited"],
)
def test_changes_that_reprobe(venv: Path, cache: Cache, counter: ProbeCounter,
                              change: str) -> None:
    site = site_of(venv)
    if change in ("manylinux-edited", "manylinux-removed"):
        (site / "_manylinux.py").write_text("manylinux_compatible = lambda *a: True\n")
    if change == "pth-edited":
        (site / "extra.pth").write_text("/nonexistent-a\n")
    assert counter.probes(python_of(venv), cache) == 1
    if change == "manylinux-added":
        (site / "_manylinux.py").write_text("def manylinux_compatible(*a):\n    return False\n")
    elif change == "manylinux-edited":
        # Same size, same directory entry: only the file's own stat changes.
        os.utime(site / "_manylinux.py", ns=(1, 1))
        (site / "_manylinux.py").write_text("manylinux_compatible = lambda *a: None\n")
    elif change == "manylinux-removed":
        (site / "_manylinux.py").unlink()
    elif change == "pth-added":
        (site / "extra.pth").write_text("/nonexistent\n")
    elif change == "pth-edited":
        (site / "extra.pth").write_text("/nonexistent-bb\n")
    elif change == "sitecustomize-added":
        (site / "sitecustomize.py").write_text("")
    elif change == "pyvenv-edited":
        cfg = venv / "pyvenv.cfg"
        cfg.write_text(cfg.read_text().replace("include-system-site-packages = false",
                                               "include-system-site-packages = true"))
    assert counter.probes(python_of(venv), cache) == 1


def test_manylinux_answer_follows_the_file(venv: Path, cache: Cache) -> None:
    site = site_of(venv)
    assert not query_interpreter(python_of(venv), cache).manylinux["found"]
    (site / "_manylinux.py").write_text(
        "def manylinux_compatible(major, minor, arch):\n    return minor < 17\n")
    hook = query_interpreter(python_of(venv), cache).manylinux
    assert hook["found"] and hook["per_minor"]["17"] is False and hook["per_minor"]["16"]


def test_manylinux_via_pythonpath_and_pth_dir(venv: Path, cache: Cache, tmp_path: Path,
                                              counter: ProbeCounter,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (site_of(venv) / "hooks.pth").write_text(str(hooks) + "\n")
    assert counter.probes(python_of(venv), cache) == 1
    (hooks / "_manylinux.py").write_text("manylinux1_compatible = False\n")
    assert counter.probes(python_of(venv), cache) == 1
    assert query_interpreter(python_of(venv), cache).manylinux["legacy"] == {
        "manylinux1_compatible": False}
    other = tmp_path / "other"
    other.mkdir()
    (other / "_manylinux.py").write_text("manylinux2014_compatible = False\n")
    (hooks / "_manylinux.py").unlink()
    monkeypatch.setenv("PYTHONPATH", str(other))
    assert counter.probes(python_of(venv), cache) == 1
    assert query_interpreter(python_of(venv), cache).manylinux["legacy"] == {
        "manylinux2014_compatible": False}


def test_ordinary_install_does_not_reprobe(venv: Path, cache: Cache,
                                           counter: ProbeCounter) -> None:
    assert counter.probes(python_of(venv), cache) == 1
    site = site_of(venv)
    (site / "pkg").mkdir()
    (site / "pkg" / "__init__.py").write_text("")
    (site / "pkg-1.0.dist-info").mkdir()
    assert counter.probes(python_of(venv), cache) == 0


def test_recreated_venv_with_another_base(tmp_path: Path, cache: Cache, counter: ProbeCounter,
                                          run_wherry: RunWherry) -> None:
    pyenv = Path(os.environ["PYENV_ROOT"]) / "versions"
    others = sorted(p for p in pyenv.glob("3.1[0-3].*/bin/python3") if p.exists())
    if len(others) < 2:
        pytest.skip("needs two CPython versions")
    path = tmp_path / "venv"
    assert run_wherry("venv", path, "--python", others[0]).ok
    first = query_interpreter(python_of(path), cache)
    shutil.rmtree(path)
    assert run_wherry("venv", path, "--python", others[1]).ok
    second = query_interpreter(python_of(path), cache)
    assert first.version != second.version
    real = subprocess.run([str(python_of(path)), "-c", "import platform; "
                           "print(platform.python_version())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    assert second.full_version == real


def test_system_site_packages_toggle(tmp_path: Path, cache: Cache, counter: ProbeCounter,
                                     run_wherry: RunWherry) -> None:
    path = tmp_path / "venv"
    assert run_wherry("venv", path, "--python", sys.executable).ok
    plain = query_interpreter(python_of(path), cache).sys_path
    shutil.rmtree(path)
    assert run_wherry("venv", path, "--python", sys.executable, "--system-site-packages").ok
    assert counter.probes(python_of(path), cache) == 1
    with_system = query_interpreter(python_of(path), cache).sys_path
    assert len(with_system) > len(plain)


@pytest.mark.parametrize("maker", ["wherry", "stdlib"])
def test_venv_made_again_at_the_same_path_keeps_its_answer(
        tmp_path: Path, cache: Cache, counter: ProbeCounter, run_wherry: RunWherry,
        maker: str) -> None:
    # Deleted and made again from the same base with the same settings, a venv is the
    # same interpreter: its symlink points to the same place and its pyvenv.cfg reads the
    # same, so the cached answer holds (the benchmarks and CI jobs do exactly this).
    path = tmp_path / "venv"

    def make() -> None:
        if maker == "wherry":
            assert run_wherry("venv", path, "--python", sys.executable).ok
        else:
            subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)],
                           check=True)

    make()
    assert counter.probes(python_of(path), cache) == 1
    shutil.rmtree(path)
    make()
    assert counter.probes(python_of(path), cache) == 0
    cached = query_interpreter(python_of(path), cache)
    assert cached == query_interpreter(python_of(path), cache, refresh=True)
    # What the new venv holds is still looked at: a hook in its site-packages re-probes.
    shutil.rmtree(path)
    make()
    (site_of(path) / "_manylinux.py").write_text("manylinux1_compatible = False\n")
    assert counter.probes(python_of(path), cache) == 1
    assert query_interpreter(python_of(path), cache).manylinux["found"]


def test_venv_made_again_pointing_elsewhere_reprobes(
        tmp_path: Path, cache: Cache, counter: ProbeCounter) -> None:
    # Same path, same pyvenv.cfg, but the interpreter link now leads to another file.
    path = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    assert counter.probes(python_of(path), cache) == 1
    copy = tmp_path / "copy" / os.path.basename(os.path.realpath(sys.executable))
    copy.parent.mkdir()
    shutil.copy2(os.path.realpath(sys.executable), copy)
    link = python_of(path)
    link.unlink()
    link.symlink_to(copy)
    assert counter.probes(python_of(path), cache) == 1


def test_uname_is_part_of_the_key(venv: Path, cache: Cache, counter: ProbeCounter,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    assert counter.probes(python_of(venv), cache) == 1
    real = os.uname()
    fake = os.uname_result((real.sysname, real.nodename, real.release + "-upgraded",
                            real.version, real.machine))
    monkeypatch.setattr(os, "uname", lambda: fake)
    assert counter.probes(python_of(venv), cache) == 1
    assert counter.probes(python_of(venv), cache) == 0


def test_corrupt_entry_is_replaced(venv: Path, cache: Cache, counter: ProbeCounter) -> None:
    assert counter.probes(python_of(venv), cache) == 1
    for entry in cache.bucket("interpreters").iterdir():
        entry.write_text("{not json")
    assert counter.probes(python_of(venv), cache) == 1
    assert counter.probes(python_of(venv), cache) == 0


def test_base_interpreter_replaced(tmp_path: Path, cache: Cache, counter: ProbeCounter,
                                   run_wherry: RunWherry) -> None:
    pyenv = Path(os.environ["PYENV_ROOT"]) / "versions"
    old = sorted(pyenv.glob("3.11.*/bin/python3.11"))
    new = sorted(pyenv.glob("3.12.*/bin/python3.12"))
    if not old or not new:
        pytest.skip("needs CPython 3.11 and 3.12")
    base = tmp_path / "base" / "bin"
    base.mkdir(parents=True)
    shutil.copy2(old[-1], base / "python3")
    venv = tmp_path / "venv"
    assert run_wherry("venv", venv, "--python", base / "python3").ok
    assert query_interpreter(python_of(venv), cache).version[:2] == (3, 11)
    # An upgrade replaces the file by rename, as package managers do.
    shutil.copy2(new[-1], base / "python3.new")
    os.replace(base / "python3.new", base / "python3")
    assert counter.probes(python_of(venv), cache) == 1
    assert query_interpreter(python_of(venv), cache).version[:2] == (3, 12)


def test_user_site_created_later(tmp_path: Path, cache: Cache, counter: ProbeCounter,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    pyenv = Path(os.environ["PYENV_ROOT"]) / "versions"
    found = sorted(pyenv.glob("3.12.*/bin/python3.12"))
    if not found:
        pytest.skip("needs CPython 3.12")
    monkeypatch.setenv("PYTHONUSERBASE", str(tmp_path / "userbase"))
    assert counter.probes(found[-1], cache) == 1
    assert not query_interpreter(found[-1], cache).manylinux["found"]
    user_site = tmp_path / "userbase" / "lib" / "python3.12" / "site-packages"
    user_site.mkdir(parents=True)
    (user_site / "_manylinux.py").write_text("manylinux1_compatible = False\n")
    assert counter.probes(found[-1], cache) == 1
    hook = query_interpreter(found[-1], cache).manylinux
    assert hook["found"] and hook["origin"] == str(user_site / "_manylinux.py")


def test_libc_is_validated(venv: Path, cache: Cache) -> None:
    info = query_interpreter(python_of(venv), cache)
    if not sys.platform.startswith("linux"):
        pytest.skip("Linux only")
    libraries = info.raw["libraries"]
    assert any(os.path.basename(p).startswith("libc") for p in libraries)
    entry = json.loads(next(cache.bucket("interpreters").iterdir()).read_text())
    validated = {item[0] for item in entry["validators"]["hard"]}
    assert set(libraries) <= validated


def test_colliding_key_never_answers_for_another_interpreter(
    tmp_path: Path, cache: Cache, counter: ProbeCounter, run_wherry: RunWherry
) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    for path in (first, second):
        assert run_wherry("venv", path, "--python", sys.executable).ok
    assert counter.probes(python_of(first), cache) == 1
    [entry] = list(cache.bucket("interpreters").iterdir())
    # Pretend the second interpreter's key hashed to the same file name.
    name, _material = info_module._cache_key(str(python_of(second)))
    shutil.copy(entry, cache.bucket("interpreters") / f"{name}.json")
    assert counter.probes(python_of(second), cache) == 1
    assert query_interpreter(python_of(second), cache).prefix == str(second)


def test_work_given_to_while_probing_runs_once_and_only_while_probing(
        tmp_path: Path, venv: Path) -> None:
    from wherry.python.info import while_probing

    seen: list[str] = []

    def work() -> None:
        seen.append("ran")
        raise RuntimeError("a failing piece of work never fails the probe")

    cache = Cache.at(tmp_path / "cache")
    with while_probing(work):
        info = query_interpreter(python_of(venv), cache)
        query_interpreter(python_of(venv), Cache.at(tmp_path / "other"))  # probes again
    assert seen == ["ran"] and info.full_version
    with while_probing(lambda: seen.append("cached")):
        assert query_interpreter(python_of(venv), cache) == info  # answered by the cache
    assert seen == ["ran"]
    query_interpreter(python_of(venv), Cache.at(tmp_path / "third"))  # outside the block
    assert seen == ["ran"]
