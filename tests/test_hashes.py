"""`--hash` on named requirements: only a file the requirement names is installed."""

from __future__ import annotations

from pathlib import Path

from tests.support import MakeIndex, RunWherry
from tests.support.environments import make_venv, site_packages, tree_state
from tests.support.packages import Wheelhouse, sha256_of

WRONG = "sha256:" + "0" * 64


def test_any_listed_hash_admits_the_file(run_wherry: RunWherry, make_index: MakeIndex,
                                         wheelhouse: Wheelhouse, tmp_path: Path) -> None:
    wheel = wheelhouse.wheel("beta", "1.0")
    index = make_index([wheel])
    venv = make_venv(run_wherry, tmp_path / "venv")
    (tmp_path / "requirements.txt").write_text(
        f"beta==1.0 \\\n    --hash={WRONG} \\\n    --hash=sha256:{sha256_of(wheel)}\n")
    result = run_wherry("pip", "install", "-r", tmp_path / "requirements.txt",
                        "--python", venv, "--index-url", index.url)
    assert result.ok, result
    assert " + beta==1.0" in result.stderr


def test_a_hashed_constraint_is_enforced(run_wherry: RunWherry, make_index: MakeIndex,
                                         wheelhouse: Wheelhouse, tmp_path: Path) -> None:
    index = make_index([wheelhouse.wheel("alpha", "1.0", requires=["beta"]),
                        wheelhouse.wheel("beta", "1.0")])
    venv = make_venv(run_wherry, tmp_path / "venv")
    before = tree_state(site_packages(venv))
    (tmp_path / "constraints.txt").write_text(f"beta==1.0 --hash={WRONG}\n")
    result = run_wherry("pip", "install", "alpha", "-c", tmp_path / "constraints.txt",
                        "--python", venv, "--index-url", index.url)
    assert result.returncode == 1, result
    assert "hash mismatch for beta-1.0-py3-none-any.whl" in result.stderr
    assert tree_state(site_packages(venv)) == before  # alpha was not installed either


def test_find_links_files_are_hashed_where_they_lie(
        run_wherry: RunWherry, wheelhouse: Wheelhouse, tmp_path: Path) -> None:
    """A find-links directory lists no hashes: the local file is hashed before use."""
    links = tmp_path / "links"
    links.mkdir()
    wheel = wheelhouse.wheel("beta", "1.0")
    (links / wheel.name).write_bytes(wheel.read_bytes())
    venv = make_venv(run_wherry, tmp_path / "venv")
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"beta==1.0 --hash={WRONG}\n")
    args = ("pip", "install", "-r", requirements, "--python", venv, "--no-index",
            "--find-links", links)
    refused = run_wherry(*args)
    assert refused.returncode == 1 and "hash mismatch" in refused.stderr, refused
    requirements.write_text(f"beta==1.0 --hash=sha256:{sha256_of(wheel)}\n")
    accepted = run_wherry(*args)
    assert accepted.ok, accepted


def test_md5_alone_cannot_pin(run_wherry: RunWherry, make_index: MakeIndex,
                              wheelhouse: Wheelhouse, tmp_path: Path) -> None:
    index = make_index([wheelhouse.wheel("beta", "1.0")])
    venv = make_venv(run_wherry, tmp_path / "venv")
    (tmp_path / "requirements.txt").write_text("beta==1.0 --hash=md5:" + "0" * 32 + "\n")
    result = run_wherry("pip", "install", "-r", tmp_path / "requirements.txt",
                        "--python", venv, "--index-url", index.url)
    assert result.returncode == 1, result
    assert "cannot pin a file" in result.stderr


def test_direct_reference_accepts_any_listed_hash(run_wherry: RunWherry, make_index: MakeIndex,
                                                  wheelhouse: Wheelhouse,
                                                  tmp_path: Path) -> None:
    wheel = wheelhouse.wheel("beta", "1.0")
    index = make_index([wheel])
    venv = make_venv(run_wherry, tmp_path / "venv")
    (tmp_path / "requirements.txt").write_text(
        f"beta @ {index.file_url(wheel.name)} --hash={WRONG} --hash=sha256:{sha256_of(wheel)}\n")
    result = run_wherry("pip", "install", "-r", tmp_path / "requirements.txt",
                        "--python", venv, "--index-url", index.url)
    assert result.ok, result
