"""The recorded install (commands/recorded_install.py): a repeated `pip install` whose
stored resolution holds is installed before argparse, with the same result as the
normal path, and any change to what it depends on sends the command down the normal
path again.

To see which path a run took, the tests tamper with the recorded install: its pins'
versions appear only in the summary lines, so a recorded install prints the tampered
versions while a normal run prints the truth (and records again).
"""

from __future__ import annotations

import marshal
import os
import shutil
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support import MakeIndex, Result, RunWherry
from tests.support.environments import site_packages, tree_state
from tests.support.index_server import IndexServer
from tests.support.packages import Wheelhouse


def _entries() -> list[Path]:
    bucket = Path(os.environ["WHERRY_CACHE_DIR"]) / "replay-v1"
    return sorted(bucket.glob("*.install.marshal")) if bucket.is_dir() else []


def _tamper() -> None:
    """Make every recorded install print version `0.0.0+tampered` for its pins."""
    entries = _entries()
    assert entries, "no install was recorded"
    for path in entries:
        entry = marshal.loads(zlib.decompress(path.read_bytes()))
        for pin in entry["install"]["pins"]:
            pin[1] = "0.0.0+tampered"
        path.write_bytes(zlib.compress(marshal.dumps(entry)))


def _recorded(result: Result) -> bool:
    lines = result.changes
    assert lines, result
    return all(line.endswith("==0.0.0+tampered") for line in lines)


@pytest.fixture
def index(make_index: MakeIndex, wheelhouse: Wheelhouse) -> IndexServer:
    return make_index([
        wheelhouse.wheel("alpha", "1.0", requires=["beta"]),
        wheelhouse.wheel("beta", "1.0", requires=["gamma>=1"]),
        # A script, and a `.pth` file: an interpreter hook the install adds, which a
        # fresh environment does not have.
        wheelhouse.wheel("gamma", "1.0",
                         entry_points={"console_scripts": {"gamma-tool": "gamma:main"}},
                         files={"gamma.py": "def main(): pass\n",
                                "gamma-extra.pth": "gamma-extra-dir\n"}),
        wheelhouse.wheel("delta", "1.0"),
    ], vary=False)  # no caching header at all: every page is read by a plain request


Install = Callable[..., Result]


@pytest.fixture
def install(run_wherry: RunWherry, tmp_path: Path, index: IndexServer) -> Install:
    """`install(*args, fresh=True)`: `pip install ARGS` into `tmp_path/venv`, made again
    first (at the same path, as CI jobs and the benchmark do) unless `fresh` is false."""
    venv = tmp_path / "venv"

    def run(*args: str | Path, fresh: bool = True, ok: bool = True) -> Result:
        if fresh:
            shutil.rmtree(venv, ignore_errors=True)
            assert run_wherry("venv", venv, "--python", sys.executable).ok
        result = run_wherry("pip", "install", *args, "--python", venv, "--index-url",
                            index.url)
        assert result.ok == ok, result
        return result

    return run


def test_a_repeated_install_is_installed_from_its_record(
    install: Install, tmp_path: Path, index: IndexServer,
) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("alpha\ndelta==1.0\n")
    first = install("-r", requirements)
    assert first.changes == [" + alpha==1.0", " + beta==1.0", " + delta==1.0",
                               " + gamma==1.0"]
    tree = tree_state(site_packages(tmp_path / "venv"))
    _tamper()
    index.reset_log()
    again = install("-r", requirements)
    assert _recorded(again), again
    assert [line.split(" in ")[0] for line in again.stderr.splitlines()[:3]] == [
        "Resolved 4 packages", "Prepared 4 packages", "Installed 4 packages"]
    # The same files (RECORD, INSTALLER, REQUESTED for alpha and delta, the script) as
    # the normal path installed.
    assert tree_state(site_packages(tmp_path / "venv")) == tree
    script = tmp_path / "venv" / "bin" / "gamma-tool"
    assert script.read_bytes().startswith(b"#!" + os.fsencode(tmp_path / "venv" / "bin"))
    # Every page was read again, nothing downloaded.
    assert sorted(index.paths()) == sorted(
        f"/simple/{name}/" for name in ("alpha", "beta", "delta", "gamma"))
    # It stored the no-op verdict the normal path stores.
    noop = install("-r", requirements, fresh=False)
    assert "Audited 4 packages" in noop.stderr and not noop.changes


def test_a_changed_page_is_resolved_again(
    install: Install, index: IndexServer, wheelhouse: Wheelhouse,
) -> None:
    install("alpha")
    _tamper()
    assert _recorded(install("alpha"))
    shutil.copy(wheelhouse.wheel("gamma", "2.0"), index.files_dir)
    changed = install("alpha")
    assert changed.changes == [" + alpha==1.0", " + beta==1.0", " + gamma==2.0"]
    # The new resolution is recorded in turn.
    _tamper()
    assert _recorded(install("alpha"))


def test_changed_inputs_take_the_normal_path(
    install: Install, run_wherry: RunWherry, tmp_path: Path, wheelhouse: Wheelhouse,
) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("alpha\n")
    truth = [" + alpha==1.0", " + beta==1.0", " + gamma==1.0"]

    def check(*args: str | Path, expected: list[str] = truth, again: bool = True) -> None:
        _tamper()
        result = install(*args)
        assert result.changes == expected, result
        if again:
            _tamper()  # what that normal run recorded is used next time
            assert _recorded(install(*args))

    install("-r", requirements)
    # The requirements file edited (same size, same names).
    requirements.write_text("alpha\n")
    check("-r", requirements)
    # Something already installed in the new environment.
    venv = tmp_path / "venv"
    install("delta")
    _tamper()
    present = install("-r", requirements, fresh=False)
    assert present.changes == truth
    # A find-links folder whose listing changes.
    links = tmp_path / "links"
    links.mkdir()
    install("-r", requirements, "--find-links", links)
    shutil.copy(wheelhouse.wheel("gamma", "3.0"), links)
    # (a pin from find-links is never stored, so not recorded either)
    check("-r", requirements, "--find-links", links,
          expected=[" + alpha==1.0", " + beta==1.0", " + gamma==3.0"], again=False)
    # An archive no longer in the cache.
    assert run_wherry("cache", "clean", "beta").ok
    check("-r", requirements)
    assert (venv / "bin" / "python").exists()


@pytest.mark.parametrize("switches", [{"cache_headers": True}, {}])
def test_only_plain_page_reads_are_recorded(
    run_wherry: RunWherry, make_index: MakeIndex, wheelhouse: Wheelhouse, tmp_path: Path,
    switches: dict[str, bool],
) -> None:
    """An index that sends caching headers (freshness and validators; or only `Vary`):
    the normal path may answer from its page cache without a request, or with another
    request, which the recorded install does not model, so it records nothing (the
    stored resolution still serves)."""
    index = make_index([wheelhouse.wheel("solo", "1.0")], **switches)
    venv = tmp_path / "venv"
    for _ in range(2):
        shutil.rmtree(venv, ignore_errors=True)
        assert run_wherry("venv", venv, "--python", sys.executable).ok
        result = run_wherry("pip", "install", "solo", "--python", venv, "--index-url",
                            index.url)
        assert result.ok and result.changes == [" + solo==1.0"], result
    assert not _entries()


def test_a_failed_page_read_takes_the_normal_path(
    install: Install, index: IndexServer, tmp_path: Path,
) -> None:
    """The normal path meets the failure again, and reports it; nothing is installed."""
    install("delta")
    _tamper()
    index.fail["/simple/delta/"] = 404
    failed = install("delta", ok=False)
    assert "delta" in failed.stderr and "Traceback" not in failed.stderr
    assert not failed.changes
    assert not list((tmp_path / "venv").glob("lib/python3*/site-packages/delta*"))


def test_a_fallback_leaves_the_cache_to_the_normal_path(
    install: Install, run_wherry: RunWherry,
) -> None:
    """A recorded install that steps aside lets go of the cache's lock, so the normal
    path that follows in the same process can take it exclusive (end-of-run pruning,
    `cache-max-size`)."""
    from wherry.cache.layout import Cache
    from wherry.commands import recorded_install

    install("delta")
    assert run_wherry("cache", "clean", "delta").ok  # the archive the record needs
    [path] = _entries()
    entry = marshal.loads(zlib.decompress(path.read_bytes()))
    root = os.environ["WHERRY_CACHE_DIR"]
    assert not recorded_install.install(entry["install"], root, quiet=True, color=False,
                                        started=0.0)
    other = Cache(Path(root))
    assert other.lock.exclusive(wait=False)
    other.release()


def test_an_index_url_with_credentials_is_not_recorded(
    run_wherry: RunWherry, make_index: MakeIndex, wheelhouse: Wheelhouse, tmp_path: Path,
) -> None:
    """The entry would hold the URL, password included."""
    server = make_index([wheelhouse.wheel("solo", "1.0")], auth=("alice", "s3cret"),
                        vary=False)
    index = server.url.replace("http://", "http://alice:s3cret@")
    venv = tmp_path / "venv"
    for _ in range(2):
        shutil.rmtree(venv, ignore_errors=True)
        assert run_wherry("venv", venv, "--python", sys.executable).ok
        result = run_wherry("pip", "install", "solo", "--python", venv, "--index-url", index)
        assert result.ok and result.changes == [" + solo==1.0"], result
    assert not _entries()


def test_a_discovered_venv_made_again_is_the_same_target(
    run_wherry: RunWherry, index: IndexServer, tmp_path: Path,
) -> None:
    """No `--python`: the `.venv` found from the working directory. Made again, it is the
    same target (its interpreter's validators hold); a `.venv` nearer the working
    directory is another target."""
    sub = tmp_path / "project" / "sub"
    sub.mkdir(parents=True)

    def make(venv: Path) -> None:
        shutil.rmtree(venv, ignore_errors=True)
        assert run_wherry("venv", venv, "--python", sys.executable).ok

    def install() -> Result:
        result = run_wherry("pip", "install", "alpha", "--index-url", index.url, cwd=sub,
                            env={"VIRTUAL_ENV": None, "CONDA_PREFIX": None})
        assert result.ok, result
        return result

    truth = [" + alpha==1.0", " + beta==1.0", " + gamma==1.0"]
    make(tmp_path / "project" / ".venv")
    assert install().changes == truth
    _tamper()
    make(tmp_path / "project" / ".venv")
    assert _recorded(install())
    make(sub / ".venv")
    _tamper()
    assert install().changes == truth
    assert list(sub.glob(".venv/lib/python3*/site-packages/alpha-1.0.dist-info"))
