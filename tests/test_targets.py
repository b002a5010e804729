"""`--python-platform` and `--python-version`: tags and markers for another target."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.support import MakeIndex, RunWherry
from tests.support.packages import Wheelhouse
from wherry.cache.layout import Cache
from wherry.errors import UsageError
from wherry.platform.targets import parse_platform, target_for
from wherry.python.info import query_interpreter


@pytest.mark.parametrize(
    ("name", "first", "machine", "system"),
    [
        ("linux", "manylinux_2_17_x86_64", "x86_64", "Linux"),
        ("x86_64-manylinux_2_28", "manylinux_2_28_x86_64", "x86_64", "Linux"),
        ("aarch64-manylinux_2_17", "manylinux_2_17_aarch64", "aarch64", "Linux"),
        ("x86_64-unknown-linux-musl", "musllinux_1_2_x86_64", "x86_64", "Linux"),
        ("macos", "macosx_13_0_arm64", "arm64", "Darwin"),
        ("aarch64-apple-darwin", "macosx_13_0_arm64", "arm64", "Darwin"),
        ("windows", "win_amd64", "AMD64", "Windows"),
        ("x86_64-pc-windows-msvc", "win_amd64", "AMD64", "Windows"),
    ],
)
def test_platforms(name: str, first: str, machine: str, system: str) -> None:
    platform = parse_platform(name)
    portable = [p for p in platform.platforms if not p.startswith("linux_")]
    assert portable[0] == first
    assert platform.markers()["platform_machine"] == machine
    assert platform.markers()["platform_system"] == system


def test_manylinux_target_lists_every_older_glibc() -> None:
    platforms = parse_platform("x86_64-manylinux_2_28").platforms
    assert "manylinux_2_5_x86_64" in platforms and "manylinux1_x86_64" in platforms
    assert "manylinux_2_29_x86_64" not in platforms
    aarch64 = parse_platform("aarch64-manylinux_2_17").platforms
    assert aarch64 == ("linux_aarch64", "manylinux_2_17_aarch64", "manylinux2014_aarch64")


def test_macos_deployment_target(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MACOSX_DEPLOYMENT_TARGET", "14.2")
    assert parse_platform("x86_64-apple-darwin").platforms[0] == "macosx_14_0_x86_64"


def test_unknown_platform() -> None:
    with pytest.raises(UsageError, match="unknown --python-platform `sparc`"):
        parse_platform("sparc")


def test_target_for_overrides_markers_and_tags(tmp_path: Path) -> None:
    info = query_interpreter(sys.executable, Cache.at(tmp_path))
    target = target_for(info, python_platform="windows", python_version="3.9")
    assert target.markers["sys_platform"] == "win32"
    assert target.markers["python_version"] == "3.9"
    assert target.python_full_version == "3.9.0"
    assert str(target.tags.tags[0]) == "cp39-cp39-win_amd64"
    assert any(str(t) == "py3-none-any" for t in target.tags.tags)
    plain = target_for(info)
    assert plain.markers == info.markers


def test_install_for_another_platform(run_wherry: RunWherry, make_index: MakeIndex,
                                      wheelhouse: Wheelhouse, tmp_path: Path) -> None:
    index = make_index([
        wheelhouse.wheel("winonly", "1.0", tag="cp39-cp39-win_amd64"),
        wheelhouse.wheel("app", "1.0", requires=["winonly; sys_platform == 'win32'"]),
    ])
    venv = tmp_path / "venv"
    assert run_wherry("venv", venv, "--python", sys.executable).ok
    here = run_wherry("pip", "install", "app", "--python", venv, "--index-url", index.url,
                      "--dry-run")
    assert here.ok and " + winonly" not in here.stderr, here
    there = run_wherry("pip", "install", "app", "--python", venv, "--index-url", index.url,
                       "--dry-run", "--python-platform", "windows", "--python-version", "3.9")
    assert there.ok, there
    assert " + winonly==1.0" in there.stderr
