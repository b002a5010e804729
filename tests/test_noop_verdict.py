"""The no-op verdict never changes the answer: every change to its inputs is noticed."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.support import MakeIndex, Result, RunWherry
from tests.support.index_server import IndexServer
from tests.support.packages import Wheelhouse


@pytest.fixture
def index(make_index: MakeIndex, wheelhouse: Wheelhouse) -> IndexServer:
    return make_index([
        wheelhouse.wheel("alpha", "1.0", requires=["beta"]),
        wheelhouse.wheel("alpha", "2.0", requires=["beta"]),
        wheelhouse.wheel("beta", "1.0"),
    ])


@pytest.fixture
def venv(tmp_path: Path, run_wherry: RunWherry) -> Path:
    path = tmp_path / "venv"
    assert run_wherry("venv", path, "--python", sys.executable).ok
    return path


def test_verdict_follows_the_environment_and_the_request(
    run_wherry: RunWherry, venv: Path, index: IndexServer, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def install(*args: str) -> Result:
        result = run_wherry("pip", "install", *args, "--python", venv, "--index-url", index.url)
        assert result.ok, result
        return result

    assert "Installed 2 packages" in install("alpha==1.0").stderr
    index.reset_log()
    assert "Audited 2 packages" in install("alpha==1.0").stderr
    assert index.requests == []
    # A dependency removed behind the verdict's back.
    assert run_wherry("pip", "uninstall", "beta", "--python", venv).ok
    again = install("alpha==1.0")
    assert " + beta==1.0" in again.stderr
    # A requirements file edited in place, and a variable it expands.
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("alpha==${ALPHA_VERSION}\n")
    monkeypatch.setenv("ALPHA_VERSION", "1.0")
    assert "Audited 2 packages" in install("-r", str(requirements)).stderr
    assert "Audited 2 packages" in install("-r", str(requirements)).stderr
    monkeypatch.setenv("ALPHA_VERSION", "2.0")
    assert " + alpha==2.0" in install("-r", str(requirements)).stderr
    requirements.write_text("alpha==1.0\n")
    assert " + alpha==1.0" in install("-r", str(requirements)).stderr
    # Metadata edited in place (same directory entries).
    assert "Audited" in install("alpha==1.0").stderr
    metadata = next(venv.glob("lib/python3.*/site-packages/alpha-1.0.dist-info/METADATA"))
    metadata.write_text(metadata.read_text().replace("Requires-Dist: beta", "Requires-Dist: gamma"))
    broken = run_wherry("pip", "install", "alpha==1.0", "--python", venv, "--index-url", index.url)
    assert "Audited" not in broken.stderr


def test_extra_index_is_searched_first(
    run_wherry: RunWherry, venv: Path, make_index: MakeIndex, wheelhouse: Wheelhouse,
) -> None:
    main = make_index([wheelhouse.wheel("shared", "2.0"), wheelhouse.wheel("only-main", "1.0")])
    extra = make_index([wheelhouse.wheel("shared", "1.0")])
    result = run_wherry("pip", "install", "shared", "only-main", "--python", venv,
                        "--index-url", main.url, "--extra-index-url", extra.url)
    assert result.ok, result
    # first-index: `shared` comes from the extra index only, even though main has 2.0.
    assert " + shared==1.0" in result.stderr and " + only-main==1.0" in result.stderr
    best = run_wherry("pip", "install", "shared", "-U", "--python", venv, "--index-url", main.url,
                      "--extra-index-url", extra.url, "--index-strategy", "unsafe-best-match")
    assert best.ok, best
    assert " + shared==2.0" in best.stderr


def test_unsafe_first_match_prefers_the_first_index(
    run_wherry: RunWherry, venv: Path, make_index: MakeIndex, wheelhouse: Wheelhouse,
) -> None:
    main = make_index([wheelhouse.wheel("shared", "2.0")])
    extra = make_index([wheelhouse.wheel("shared", "1.0")])
    common = ["--python", str(venv), "--index-url", main.url, "--extra-index-url", extra.url,
              "--index-strategy", "unsafe-first-match", "--dry-run"]
    first = run_wherry("pip", "install", "shared", *common)
    assert first.ok and " + shared==1.0" in first.stderr, first
    # Only when the first index has nothing acceptable does the next one count.
    fallback = run_wherry("pip", "install", "shared>=2", *common)
    assert fallback.ok and " + shared==2.0" in fallback.stderr, fallback
