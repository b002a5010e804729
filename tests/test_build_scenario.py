"""The no-manylinux scenario with source builds, end to end and offline.

A package `fastc` has a manylinux_2_17 wheel and an sdist with a real C extension
(setuptools backend). Once a `_manylinux.py` opting out of manylinux is installed by
wherry, the next install of `fastc` must build it from source (a `linux_x86_64` wheel),
with every cache warm and no `--refresh`. Once the opt-out is gone, the manylinux wheel
is chosen again, not the cached local build. A PEP 600 hook refusing only glibc >= 2.17
leaves a manylinux_2_5 wheel usable, and nothing is built.
"""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import MakeIndex, RunWherry
from tests.support.environments import make_venv, site_packages
from tests.support.packages import Wheelhouse

PY = "cp{}{}".format(*sys.version_info[:2])
pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.machine() != "x86_64",
    reason="the test wheels are manylinux x86_64")


def flavour(venv: Path) -> str:
    out = subprocess.run([str(venv / "bin" / "python"), "-c",
                          "import fastc; print(fastc.FLAVOUR)"],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def wheel_tag(venv: Path) -> str:
    text = (site_packages(venv) / "fastc-1.0.dist-info" / "WHEEL").read_text()
    return next(line.split(":", 1)[1].strip() for line in text.splitlines()
                if line.startswith("Tag:"))


def fastc_files(wheelhouse: Wheelhouse, *wheel_tags: str) -> list[Path]:
    files = [wheelhouse.wheel("fastc", "1.0", tag=f"{PY}-{PY}-{tag}",
                              files={"fastc/__init__.py": f"FLAVOUR = {tag!r}\n"})
             for tag in wheel_tags]
    files.append(wheelhouse.sdist("fastc", "1.0", c_extension=True, files={
        "fastc/__init__.py": "FLAVOUR = 'source'\n"}))
    return files


def test_opt_out_builds_from_source_and_back(
    run_wherry: RunWherry, make_index: MakeIndex, wheelhouse: Wheelhouse,
    backends: list[Path], tmp_path: Path,
) -> None:
    index = make_index([
        *backends, *fastc_files(wheelhouse, "manylinux_2_17_x86_64"),
        wheelhouse.wheel("no-manylinux", "1.0", files={
            "_manylinux.py": "def manylinux_compatible(*args):\n    return False\n"}),
    ])

    def pip(venv: Path, *args: str) -> str:
        extra = ["--index-url", index.url] if args[0] == "install" else []
        result = run_wherry("pip", *args, "--python", venv, *extra, "-v")
        assert result.ok, result
        assert "--refresh" not in result.args
        return result.stderr

    venv = make_venv(run_wherry, tmp_path / "venv")
    # (a) warm every cache with the manylinux wheel, then opt out: a build from source.
    pip(venv, "install", "fastc")
    assert flavour(venv) == "manylinux_2_17_x86_64"
    pip(venv, "install", "no-manylinux")
    pip(venv, "uninstall", "fastc")
    log = pip(venv, "install", "fastc")
    assert "Calling build_wheel" in log
    assert flavour(venv) == "source"
    assert wheel_tag(venv) == f"{PY}-{PY}-linux_x86_64"
    compiled = subprocess.run([str(venv / "bin" / "python"), "-c",
                               "import fastc._speedups as s; print(s.answer())"],
                              capture_output=True, text=True, check=True)
    assert compiled.stdout.strip() == "42"
    # (b) the same in a new environment that never had fastc: the cached build is used.
    other = make_venv(run_wherry, tmp_path / "other")
    pip(other, "install", "no-manylinux")
    log = pip(other, "install", "fastc")
    assert "Calling " not in log and "Using the cached build of fastc==1.0" in log
    assert flavour(other) == "source"
    assert wheel_tag(other) == f"{PY}-{PY}-linux_x86_64"
    # (c) the opt-out is uninstalled: a reinstall picks the manylinux wheel again.
    pip(venv, "uninstall", "no-manylinux")
    pip(venv, "install", "--reinstall-package", "fastc", "fastc")
    assert flavour(venv) == "manylinux_2_17_x86_64"
    assert wheel_tag(venv) == f"{PY}-{PY}-manylinux_2_17_x86_64"
    pip(other, "uninstall", "no-manylinux", "fastc")
    log = pip(other, "install", "fastc")
    assert "cached build" not in log
    assert flavour(other) == "manylinux_2_17_x86_64"


def test_pep600_hook_refusing_new_glibc_keeps_old_manylinux_wheels(
    run_wherry: RunWherry, make_index: MakeIndex, wheelhouse: Wheelhouse,
    backends: list[Path], tmp_path: Path,
) -> None:
    hook = ("def manylinux_compatible(major, minor, arch):\n"
            "    return (major, minor) < (2, 17)\n")
    index = make_index([
        *backends,
        *fastc_files(wheelhouse, "manylinux_2_17_x86_64", "manylinux_2_5_x86_64"),
        wheelhouse.wheel("old-glibc-only", "1.0", files={"_manylinux.py": hook}),
    ])
    venv = make_venv(run_wherry, tmp_path / "venv")
    assert run_wherry("pip", "install", "old-glibc-only", "--python", venv,
                      "--index-url", index.url).ok
    result = run_wherry("pip", "install", "fastc", "--python", venv, "--index-url", index.url,
                        "-v")
    assert result.ok, result
    assert "Calling " not in result.stderr and "Building" not in result.stderr
    assert flavour(venv) == "manylinux_2_5_x86_64"
