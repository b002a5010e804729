"""A stored resolution never changes the answer: it is used only when every input of the
resolution is unchanged, and installs exactly what the resolution installed."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support import MakeIndex, Result, RunWherry
from tests.support.environments import site_packages, tree_state
from tests.support.index_server import IndexServer
from tests.support.packages import Wheelhouse

USED = "Using the stored resolution"


@pytest.fixture
def index(make_index: MakeIndex, wheelhouse: Wheelhouse) -> IndexServer:
    return make_index([
        wheelhouse.wheel("alpha", "1.0", requires=["beta"]),
        wheelhouse.wheel("beta", "1.0", requires=["gamma>=1"]),
        wheelhouse.wheel("gamma", "1.0"),
        wheelhouse.wheel("delta", "1.0"),
    ])


Install = Callable[..., Result]


@pytest.fixture
def install(run_wherry: RunWherry, tmp_path: Path, index: IndexServer) -> Install:
    """`install(*args, fresh=True)`: `pip install -v ARGS` into `tmp_path/venv`, made
    again first (same path, as CI jobs and the benchmark do) unless `fresh` is false."""
    venv = tmp_path / "venv"

    def run(*args: str | Path, fresh: bool = True, ok: bool = True) -> Result:
        if fresh:
            shutil.rmtree(venv, ignore_errors=True)
            assert run_wherry("venv", venv, "--python", sys.executable).ok
        result = run_wherry("pip", "install", "-v", *args, "--python", venv,
                            "--index-url", index.url)
        assert result.ok == ok, result
        return result

    return run


def test_replay_installs_what_the_resolution_installed(
    install: Install, tmp_path: Path, index: IndexServer,
) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("alpha\ndelta==1.0\n")
    first = install("-r", requirements)
    assert USED not in first.stderr
    tree = tree_state(site_packages(tmp_path / "venv"))
    index.reset_log()
    again = install("-r", requirements)
    assert USED in again.stderr, again
    assert again.changes == first.changes == [
        " + alpha==1.0", " + beta==1.0", " + delta==1.0", " + gamma==1.0"]
    assert "Resolved 4 packages" in again.stderr and "Installed 4 packages" in again.stderr
    # The same files, RECORD, INSTALLER and REQUESTED (alpha and delta only) as before.
    assert tree_state(site_packages(tmp_path / "venv")) == tree
    # Every page was read again; no file was downloaded.
    assert sorted(index.paths()) == sorted(
        f"/simple/{name}/" for name in ("alpha", "beta", "delta", "gamma"))
    # The no-op verdict was stored as after a resolution.
    assert "Audited 4 packages" in install("-r", requirements, fresh=False).stderr


def test_a_changed_page_is_resolved_again(
    install: Install, tmp_path: Path, index: IndexServer, wheelhouse: Wheelhouse,
) -> None:
    assert install("alpha").changes == [" + alpha==1.0", " + beta==1.0", " + gamma==1.0"]
    # A new release of a dependency: its page changes, the stored pins are not used.
    shutil.copy(wheelhouse.wheel("gamma", "2.0"), index.files_dir)
    changed = install("alpha")
    assert USED not in changed.stderr
    assert "resolving again" in changed.stderr
    assert changed.changes == [" + alpha==1.0", " + beta==1.0", " + gamma==2.0"]
    # ...and the new answer is stored and used in turn.
    assert USED in (replayed := install("alpha")).stderr
    assert replayed.changes == changed.changes


def test_changed_inputs_are_not_answered_from_the_record(
    install: Install, tmp_path: Path, index: IndexServer, wheelhouse: Wheelhouse,
) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("alpha\n")
    install("-r", requirements)
    assert USED in install("-r", requirements).stderr
    # Another option, another key.
    no_deps = install("-r", requirements, "--no-deps")
    assert USED not in no_deps.stderr and no_deps.changes == [" + alpha==1.0"]
    # The requirements file edited.
    requirements.write_text("alpha\ndelta\n")
    edited = install("-r", requirements)
    assert USED not in edited.stderr and " + delta==1.0" in edited.changes
    # Something already installed (installed versions are preferred by the resolver).
    venv = tmp_path / "venv"
    install("delta", fresh=True)
    present = install("-r", requirements, fresh=False)
    assert USED not in present.stderr
    assert present.changes == [" + alpha==1.0", " + beta==1.0", " + gamma==1.0"]
    assert (venv / "bin" / "python").exists()
    # A find-links folder whose listing changes.
    links = tmp_path / "links"
    links.mkdir()
    install("-r", requirements, "--find-links", links)
    assert USED in install("-r", requirements, "--find-links", links).stderr
    shutil.copy(wheelhouse.wheel("gamma", "3.0"), links)
    linked = install("-r", requirements, "--find-links", links)
    assert USED not in linked.stderr and " + gamma==3.0" in linked.changes


def test_requests_of_other_kinds_are_never_stored(
    install: Install, tmp_path: Path, run_wherry: RunWherry, index: IndexServer,
) -> None:
    for args in (["alpha", "--dry-run"], ["alpha", "--reinstall"], ["alpha; python_version>'3'"]):
        install(*args)
        assert USED not in install(*args).stderr, args
    cache = Path(run_wherry("cache", "dir").stdout.strip())
    assert not list(cache.glob("resolutions-v1/*"))


def test_a_pruned_archive_is_prepared_again(
    install: Install, run_wherry: RunWherry, tmp_path: Path,
) -> None:
    install("alpha")
    assert run_wherry("cache", "clean", "beta").ok
    again = install("alpha")
    assert USED not in again.stderr
    assert again.changes == [" + alpha==1.0", " + beta==1.0", " + gamma==1.0"]
    assert (tmp_path / "venv").is_dir()
    assert USED in install("alpha").stderr


def test_a_built_sdist_is_replayed_from_its_built_wheel(
    run_wherry: RunWherry, make_index: MakeIndex, wheelhouse: Wheelhouse,
    backends: list[Path], tmp_path: Path,
) -> None:
    index = make_index([*backends, wheelhouse.sdist("pure", "1.0", backend="flit"),
                        wheelhouse.wheel("alpha", "1.0", requires=["pure"])])
    venv = tmp_path / "venv"

    def install(*args: str) -> Result:
        shutil.rmtree(venv, ignore_errors=True)
        assert run_wherry("venv", venv, "--python", sys.executable).ok
        result = run_wherry("pip", "install", "-v", "alpha", *args, "--python", venv,
                            "--index-url", index.url)
        assert result.ok, result
        return result

    first = install()
    assert USED not in first.stderr
    tree = tree_state(site_packages(venv))
    again = install()
    assert USED in again.stderr, again
    assert again.changes == first.changes == [" + alpha==1.0", " + pure==1.0"]
    assert tree_state(site_packages(venv)) == tree
    # Build options are part of the request: another config setting, another answer.
    other = install("-C", "some-key=value")
    assert USED not in other.stderr
