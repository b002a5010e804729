"""The resolver options of `wherry pip install` end to end: overrides, excludes, groups,
pre-release and resolution modes, and the -v report of versions tried."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import MakeIndex, RunWherry
from tests.support.environments import make_venv
from tests.support.index_server import IndexServer
from tests.support.packages import Wheelhouse


@pytest.fixture
def index(make_index: MakeIndex, wheelhouse: Wheelhouse) -> IndexServer:
    return make_index([
        wheelhouse.wheel("app", "1.0", requires=["lib<2", "telemetry"]),
        wheelhouse.wheel("lib", "1.0"),
        wheelhouse.wheel("lib", "2.0"),
        wheelhouse.wheel("lib", "3.0b1"),
        wheelhouse.wheel("telemetry", "1.0"),
    ])


def freeze(run_wherry: RunWherry, venv: Path) -> list[str]:
    result = run_wherry("pip", "freeze", "--python", venv)
    assert result.ok, result
    return result.stdout.splitlines()


def test_overrides_excludes_modes_and_groups(
    run_wherry: RunWherry, tmp_path: Path, index: IndexServer
) -> None:
    venv = make_venv(run_wherry, tmp_path / "venv")
    (tmp_path / "overrides.txt").write_text("lib>=2\n")
    (tmp_path / "excludes.txt").write_text("telemetry\n")
    result = run_wherry("pip", "install", "app", "--override", "overrides.txt",
                        "--excludes", "excludes.txt", "--python", venv,
                        "--index-url", index.url, "-v", cwd=tmp_path)
    assert result.ok, result
    assert "Tried 2 versions: app 1, lib 1" in result.stderr
    assert freeze(run_wherry, venv) == ["app==1.0", "lib==2.0"]

    result = run_wherry("pip", "install", "lib", "-U", "--prerelease", "allow",
                        "--python", venv, "--index-url", index.url)
    assert result.ok, result
    assert "lib==3.0b1" in freeze(run_wherry, venv)

    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "demo"\nversion = "0"\n'
        '[dependency-groups]\ndev = ["telemetry"]\n')
    result = run_wherry("pip", "install", "--group", "dev", "--python", venv,
                        "--index-url", index.url, cwd=tmp_path)
    assert result.ok, result
    assert "telemetry==1.0" in freeze(run_wherry, venv)


def test_resolution_lowest_and_clear_errors(
    run_wherry: RunWherry, tmp_path: Path, index: IndexServer
) -> None:
    venv = make_venv(run_wherry, tmp_path / "venv")
    result = run_wherry("pip", "install", "lib", "--resolution", "lowest", "--dry-run",
                        "--python", venv, "--index-url", index.url)
    assert result.ok, result
    assert " + lib==1.0" in result.stderr
    result = run_wherry("pip", "install", "app", "lib>=2", "--python", venv,
                        "--index-url", index.url)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert (
        "  Because only app==1.0 is available and app==1.0 depends on lib<2, we can "
        "conclude that all versions of app depend on lib<2.\n"
        "  And because you require app and lib>=2, we can conclude that your requirements "
        "are unsatisfiable.\n"
    ) in result.stderr
    result = run_wherry("pip", "install", "app", "--prerelease", "sometimes",
                        "--python", venv, "--index-url", index.url)
    assert result.returncode == 2 and "invalid choice" in result.stderr
    assert freeze(run_wherry, venv) == []


def test_a_version_with_invalid_metadata_is_not_used(
        run_wherry: RunWherry, make_index: MakeIndex, wheelhouse: Wheelhouse,
        tmp_path: Path) -> None:
    """As pip ("Ignoring version 2.0 of a since it has invalid metadata") and uv: a
    Requires-Dist that is not a requirement rules its version out; it is not dropped."""
    from wherry.resolve import explain, provider

    assert explain.INVALID == provider.INVALID
    index = make_index([wheelhouse.wheel("a", "1.0"),
                        wheelhouse.wheel("a", "2.0", requires=["b<=-1"]),
                        wheelhouse.wheel("b", "1.0")])
    venv = make_venv(run_wherry, tmp_path / "venv")
    older = run_wherry("pip", "install", "a", "--python", venv, "--index-url", index.url)
    assert older.ok and "+ a==1.0" in older.stderr and "b==" not in older.stderr
    pinned = run_wherry("pip", "install", "a==2.0", "--python", venv, "--index-url", index.url,
                        "--dry-run")
    assert pinned.returncode == 1 and "Traceback" not in pinned.stderr
    assert "a==2.0 has invalid metadata (Requires-Dist 'b<=-1'" in pinned.stderr
    assert "cannot be used" in pinned.stderr
    assert "hint: a distribution's metadata named above is invalid" in pinned.stderr
