"""`wherry pip download`: resolved files saved for offline and cross-platform installs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.support import MakeIndex, RunWherry
from tests.support.backends import backend_wheels
from tests.support.packages import Wheelhouse, sha256_of


def test_download_then_install_offline(run_wherry: RunWherry, make_index: MakeIndex,
                                       wheelhouse: Wheelhouse, tmp_path: Path) -> None:
    wheels = [wheelhouse.wheel("alpha", "1.0", requires=["beta>=1"]),
              wheelhouse.wheel("alpha", "2.0", requires=["beta>=2"]),
              wheelhouse.wheel("beta", "1.0"), wheelhouse.wheel("beta", "2.0"),
              wheelhouse.wheel("unrelated", "1.0")]
    index = make_index(wheels)
    dest = tmp_path / "wheels"
    result = run_wherry("pip", "download", "alpha", "-d", dest, "--index-url", index.url)
    assert result.ok, result
    assert "Resolved 2 packages" in result.stderr and "Downloaded 2 packages" in result.stderr
    saved = sorted(p.name for p in dest.iterdir())
    assert saved == ["alpha-2.0-py3-none-any.whl", "beta-2.0-py3-none-any.whl"]
    by_name = {w.name: w for w in wheels}
    for name in saved:  # byte for byte what the index serves
        assert sha256_of(dest / name) == sha256_of(by_name[name])
    # A second run keeps what is there.
    again = run_wherry("pip", "download", "alpha", "-d", dest, "--index-url", index.url)
    assert again.ok and "Downloaded 0 packages" in again.stderr and " Kept " in again.stderr
    index.stop()
    venv = tmp_path / "venv"
    assert run_wherry("venv", venv, "--python", sys.executable).ok
    install = run_wherry("pip", "install", "alpha", "--python", venv, "--no-index",
                         "--find-links", dest, "--no-cache")
    assert install.ok, install
    assert " + alpha==2.0" in install.stderr and " + beta==2.0" in install.stderr
    listed = run_wherry("pip", "freeze", "--python", venv)
    assert listed.stdout.split() == ["alpha==2.0", "beta==2.0"]


def test_download_for_another_platform(run_wherry: RunWherry, make_index: MakeIndex,
                                       wheelhouse: Wheelhouse, tmp_path: Path) -> None:
    index = make_index([
        wheelhouse.wheel("native", "1.0", tag="cp312-cp312-win_amd64"),
        wheelhouse.wheel("native", "1.0", tag="cp312-cp312-manylinux_2_17_x86_64"),
        wheelhouse.wheel("native", "1.0", tag="cp311-cp311-win_amd64"),
        wheelhouse.wheel("winonly", "1.0"),
        wheelhouse.wheel("app", "1.0",
                         requires=["native", "winonly; sys_platform == 'win32'"]),
    ])
    dest = tmp_path / "win"
    result = run_wherry("pip", "download", "app", "-d", dest, "--index-url", index.url,
                        "--python-platform", "windows", "--python-version", "3.12",
                        "--only-binary", ":all:")
    assert result.ok, result
    assert sorted(p.name for p in dest.iterdir()) == [
        "app-1.0-py3-none-any.whl", "native-1.0-cp312-cp312-win_amd64.whl",
        "winonly-1.0-py3-none-any.whl"]
    linux = tmp_path / "linux"
    result = run_wherry("pip", "download", "app", "-d", linux, "--index-url", index.url,
                        "--python-platform", "x86_64-manylinux_2_28", "--python-version",
                        "3.12")
    assert result.ok, result
    assert sorted(p.name for p in linux.iterdir()) == [
        "app-1.0-py3-none-any.whl", "native-1.0-cp312-cp312-manylinux_2_17_x86_64.whl"]


def test_download_errors(run_wherry: RunWherry, make_index: MakeIndex,
                         wheelhouse: Wheelhouse, tmp_path: Path) -> None:
    index = make_index([wheelhouse.wheel("alpha", "1.0")])
    none = run_wherry("pip", "download", "-d", tmp_path, "--index-url", index.url)
    assert none.returncode == 2 and "no requirements given" in none.stderr
    missing = run_wherry("pip", "download", "nosuch", "-d", tmp_path, "--index-url",
                         index.url)
    assert missing.returncode == 1 and "nosuch" in missing.stderr
    assert "Traceback" not in missing.stderr
    blocked = tmp_path / "file"
    blocked.write_text("")
    bad_dest = run_wherry("pip", "download", "alpha", "-d", blocked / "sub", "--index-url",
                          index.url)
    assert bad_dest.returncode == 2 and "cannot create the download directory" in \
        bad_dest.stderr


def test_download_saves_sdists_unless_only_binary(
    run_wherry: RunWherry, make_index: MakeIndex, wheelhouse: Wheelhouse, tmp_path: Path,
) -> None:
    backends = backend_wheels()
    if isinstance(backends, str):
        pytest.skip(backends)
    sdist = wheelhouse.sdist("srconly", "1.0", backend="flit")
    index = make_index([sdist, wheelhouse.wheel("app", "1.0", requires=["srconly"]),
                        *backends])
    dest = tmp_path / "d"
    result = run_wherry("pip", "download", "app", "-d", dest, "--index-url", index.url)
    assert result.ok, result
    assert sorted(p.name for p in dest.iterdir()) == ["app-1.0-py3-none-any.whl", sdist.name]
    assert sha256_of(dest / sdist.name) == sha256_of(sdist)
    binary = run_wherry("pip", "download", "app", "-d", tmp_path / "b", "--index-url",
                        index.url, "--only-binary", ":all:")
    assert binary.returncode == 1 and "srconly" in binary.stderr
