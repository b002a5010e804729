"""Real-world resolutions against the public index: wherry and pip agree on the pins.

Both run with the isolated configuration of every test (no pip config file), so both
use pip's built-in default index; pip's answer comes from `pip install --dry-run
--ignore-installed --report`, for the same interpreter (the one running the tests).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.version import Version

from tests.support import RunWherry

pytestmark = pytest.mark.network

# Popular requirement sets without conflicts, where "newest of everything" is the one
# answer both resolvers must reach. (Where the resolvers' strategies legitimately
# differ, e.g. a set that needs backtracking with several valid answers, pip's
# resolvelib and PubGrub may pick different but equally valid pins; none is listed.)
REQUIREMENT_SETS = [
    ["requests"],
    ["flask"],
    ["black"],
    ["httpx[http2]"],
    ["django<5", "djangorestframework"],
    ["pandas", "python-dateutil"],
    ["sphinx"],
    ["jupyter"],
    ["boto3", "urllib3<1.26"],  # backtracks botocore/boto3 down to an old urllib3 range
    ["scrapy"],
]


def pip_pins(requirements: list[str], tmp_path: Path) -> dict[str, str]:
    report = tmp_path / "report.json"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "-q",
         "--cache-dir", str(tmp_path / "pip-cache"), "--report", str(report), *requirements],
        check=True, capture_output=True, text=True, timeout=600,
    )
    data = json.loads(report.read_text())
    return {
        item["metadata"]["name"].lower().replace("_", "-").replace(".", "-"):
        item["metadata"]["version"]
        for item in data["install"]
    }


def wherry_pins(run_wherry: RunWherry, requirements: list[str], tmp_path: Path,
                *options: str) -> dict[str, str]:
    (tmp_path / "requirements.in").write_text("\n".join(requirements) + "\n")
    result = run_wherry("pip", "compile", "requirements.in", "--no-header", "--no-annotate",
                        "--python", sys.executable, *options, cwd=tmp_path, timeout=600)
    assert result.ok, result
    pins = {}
    for line in result.stdout.splitlines():
        name, _, version = line.partition("==")
        pins[name] = version
    return pins


@pytest.mark.parametrize("requirements", REQUIREMENT_SETS, ids=" ".join)
def test_wherry_and_pip_agree(run_wherry: RunWherry, tmp_path: Path,
                              requirements: list[str]) -> None:
    # The public index changes under the test (a release between the two runs, or an
    # edge of its CDN still serving an older page to one of them): a disagreement is
    # asked again once, of both resolvers afresh, before it counts.
    wherry, pip = wherry_pins(run_wherry, requirements, tmp_path), pip_pins(requirements, tmp_path)
    if wherry != pip:
        again = tmp_path / "again"
        again.mkdir()
        wherry = wherry_pins(run_wherry, requirements, again, "--refresh")
        pip = pip_pins(requirements, again)  # a cache directory of its own: fresh pages
    assert wherry == pip


# --- universal resolutions: wherry and uv agree --------------------------------------

UNIVERSAL_SETS = [
    (["black", "requests", "pandas"], "3.9"),
    (["flask"], "3.8"),
    (["jupyter"], "3.9"),
    (["scipy", "matplotlib"], "3.10"),
    (["boto3", "urllib3<1.26"], "3.8"),
    (["httpx[http2]"], "3.8"),
    # Not listed: apache-airflow at 3.9. uv checks only the lower bound of a package's
    # Requires-Python against the range, so it gives `cryptography` releases that say
    # `!=3.9.0,!=3.9.1` to Python 3.9.0; wherry checks the whole specifier and pins an
    # older release for 3.9, which installs everywhere the marker says.
]


def _uv() -> str | None:
    import shutil

    return shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")


def _pins_with_markers(text: str) -> dict[tuple[str, str], str | None]:
    pins: dict[tuple[str, str], str | None] = {}
    for line in text.splitlines():
        if not line or line.startswith((" ", "#")):
            continue
        requirement, _, marker = line.partition(" ; ")
        name, _, version = requirement.partition("==")
        pins[(name, version)] = marker or None
    return pins


def _grid() -> list[dict[str, str]]:
    import itertools

    environments = []
    for full, (platform, system, os_name), machine in itertools.product(
        ["3.8.0", "3.9.0", "3.9.7", "3.10.2", "3.11.4", "3.12.1", "3.13.0", "3.14.0"],
        [("linux", "Linux", "posix"), ("win32", "Windows", "nt"), ("darwin", "Darwin", "posix"),
         ("emscripten", "Emscripten", "posix"), ("cygwin", "CYGWIN_NT", "posix")],
        ["x86_64", "aarch64", "AMD64", "arm64"],
    ):
        for implementation in ("cpython", "pypy"):
            environments.append({
                "python_full_version": full, "python_version": full.rsplit(".", 1)[0],
                "sys_platform": platform, "platform_system": system, "os_name": os_name,
                "platform_machine": machine, "implementation_name": implementation,
                "platform_python_implementation": "CPython" if implementation == "cpython"
                else "PyPy", "platform_release": "", "platform_version": "",
                "implementation_version": full, "extra": "",
            })
    return environments


@pytest.mark.parametrize(("requirements", "python"), UNIVERSAL_SETS,
                         ids=[" ".join(r) + f" py{p}" for r, p in UNIVERSAL_SETS])
def test_universal_agrees_with_uv(run_wherry: RunWherry, tmp_path: Path,
                                  requirements: list[str], python: str) -> None:
    """The same pins, each with a marker that selects the same environments (uv's
    marker algebra sometimes prints an equivalent marker in another form)."""
    from packaging.markers import Marker

    uv = _uv()
    if uv is None:
        pytest.skip("uv is not installed beside the test interpreter")
    (tmp_path / "requirements.in").write_text("\n".join(requirements) + "\n")
    from pip._internal.models.index import PyPI

    ours = run_wherry("pip", "compile", "requirements.in", "--universal", "--python-version",
                      python, "--no-header", "--no-annotate", cwd=tmp_path, timeout=900)
    assert ours.ok, ours
    theirs = subprocess.run(
        [uv, "pip", "compile", "requirements.in", "--universal", "--python-version", python,
         "--no-header", "--no-annotate", "-q", "--index-url", PyPI.simple_url],
        cwd=tmp_path, capture_output=True, text=True, timeout=900, check=True,
        env={**os.environ, "UV_CACHE_DIR": str(tmp_path / "uv-cache")},
    )
    mine, expected = _pins_with_markers(ours.stdout), _pins_with_markers(theirs.stdout)
    assert sorted(mine) == sorted(expected)
    grid = [env for env in _grid()
            if Version(env["python_full_version"]) >= Version(python)]
    for key, marker in expected.items():
        if marker == mine[key]:
            continue
        ours_marker, uv_marker = Marker(mine[key] or "python_version >= '0'"), Marker(
            marker or "python_version >= '0'")
        for env in grid:
            assert ours_marker.evaluate(env) == uv_marker.evaluate(env), (key, env)
