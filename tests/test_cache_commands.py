"""`wherry cache dir|clean|prune|size`, the size bound, and the cache root's lock."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support import MakeIndex, RunWherry
from tests.support.packages import Wheelhouse
from wherry.cache.entry import remove_entry
from wherry.cache.layout import BUCKETS
from wherry.commands.cache import human_size

_HOLDER = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_SH if sys.argv[2] == "shared" else fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(float(sys.argv[3]))
"""


@contextmanager
def holding(cache: Path, mode: str, seconds: float) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the cache root's lock (as a running wherry would)."""
    cache.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(cache / ".lock"), mode,
                               str(seconds)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        yield holder
    finally:
        holder.kill()
        holder.wait()


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def populated(run_wherry: RunWherry, make_index: MakeIndex, wheelhouse: Wheelhouse,
              tmp_path: Path, cache: Path) -> Path:
    """A cache that has seen installs of alpha 1.0 and beta 1.0 (and their pages)."""
    index = make_index([wheelhouse.wheel("alpha", "1.0", requires=["beta"]),
                        wheelhouse.wheel("beta", "1.0")])
    venv = tmp_path / "venv"
    assert run_wherry("venv", venv, "--python", sys.executable, "--cache-dir", cache).ok
    result = run_wherry("pip", "install", "alpha", "--python", venv, "--index-url", index.url,
                        "--cache-dir", cache)
    assert result.ok, result
    return cache


def _archive_projects(cache: Path) -> list[str]:
    names = []
    for entry in (cache / "archives-v1").iterdir():
        marker = json.loads((entry / ".wherry-complete").read_text())
        names.append(marker["wheel"].split("-")[0])
    return sorted(names)


def _simple_pages(cache: Path) -> list[str]:
    return sorted(p.name for p in (cache / BUCKETS["simple"]).glob("*/*.msgpack"))


def test_clean_one_package(run_wherry: RunWherry, populated: Path) -> None:
    assert _archive_projects(populated) == ["alpha", "beta"]
    assert _simple_pages(populated) == ["alpha.msgpack", "beta.msgpack"]
    result = run_wherry("cache", "clean", "Alpha", "--cache-dir", populated)
    assert result.ok, result
    assert result.stderr.startswith("Removed ")
    assert _archive_projects(populated) == ["beta"]
    assert _simple_pages(populated) == ["beta.msgpack"]
    metadata = [p.read_bytes() for p in (populated / "metadata-v1").rglob("*.METADATA")]
    assert all(b"Name: alpha" not in m for m in metadata)
    # Nothing left behind in the scratch space, and the interpreter cache survives.
    assert not any((populated / ".tmp").iterdir())
    assert any((populated / "interpreters-v1").iterdir())
    nothing = run_wherry("cache", "clean", "alpha", "--cache-dir", populated)
    assert nothing.ok and "No cache entries found" in nothing.stderr


def test_clean_everything_waits_for_other_processes(run_wherry: RunWherry,
                                                     populated: Path) -> None:
    start = time.monotonic()
    with holding(populated, "shared", 1.5):
        result = run_wherry("cache", "clean", "--cache-dir", populated)
    assert result.ok, result
    assert time.monotonic() - start >= 1.4
    assert "Waiting for other wherry processes to finish using the cache" in result.stderr
    assert sorted(p.name for p in populated.iterdir()) == [".lock", ".tmp"]
    assert run_wherry("cache", "size", "--cache-dir", populated).stdout.strip() == "0"


def test_size_does_not_wait_for_readers(run_wherry: RunWherry, populated: Path) -> None:
    with holding(populated, "shared", 30):
        start = time.monotonic()
        size = run_wherry("cache", "size", "--cache-dir", populated)
        assert time.monotonic() - start < 10
    assert size.ok and int(size.stdout) > 0
    human = run_wherry("cache", "size", "--human", "--cache-dir", populated)
    assert human.stdout.strip() == human_size(int(size.stdout))
    assert human_size(512) == "512B" and human_size(1536) == "1.5KiB"
    assert human_size(3 * 1024 ** 3) == "3.0GiB"


def test_commands_wait_while_the_cache_is_cleaned(run_wherry: RunWherry, cache: Path,
                                                  tmp_path: Path) -> None:
    with holding(cache, "exclusive", 1.5):
        result = run_wherry("pip", "list", "--python", sys.executable, "--cache-dir", cache)
    assert result.ok, result
    assert "Waiting for another wherry process to finish cleaning the cache" in result.stderr


def test_force_does_not_wait(run_wherry: RunWherry, populated: Path) -> None:
    with holding(populated, "shared", 30):
        start = time.monotonic()
        result = run_wherry("cache", "clean", "--force", "--cache-dir", populated)
        assert time.monotonic() - start < 10
    assert result.ok, result
    assert "in use by another wherry process; removing entries anyway" in result.stderr
    assert not (populated / "archives-v1").exists()


def test_clean_gives_up_after_the_lock_timeout(run_wherry: RunWherry, cache: Path) -> None:
    with holding(cache, "shared", 30):
        result = run_wherry("cache", "clean", "--cache-dir", cache,
                            env={"WHERRY_LOCK_TIMEOUT": "0.5"})
    assert result.returncode == 1
    assert "still in use by another wherry process" in result.stderr
    assert "hint: wait for it to finish" in result.stderr


def test_prune(run_wherry: RunWherry, populated: Path, tmp_path: Path) -> None:
    # What prune must remove: an old bucket, scratch, an incomplete archive, a pointer to a
    # missing archive, a verdict whose files are gone.
    (populated / "wheels-v0" / "x").mkdir(parents=True)
    (populated / ".tmp" / "download-abc").mkdir(parents=True)
    (populated / "archives-v1" / ("0" * 64)).mkdir()
    (populated / "wheels-v1").mkdir(exist_ok=True)
    (populated / "wheels-v1" / "dangling.json").write_text(json.dumps({"sha256": "1" * 64}))
    (populated / "noop-v1").mkdir(exist_ok=True)
    (populated / "noop-v1" / "dead.json").write_text(json.dumps(
        {"key": "", "count": 0, "variables": {}, "stats": [[str(tmp_path / "gone"), [1]]]}))
    built = populated / "built-v1" / "sdist" / "abc" / "key" / "wheel"
    built.mkdir(parents=True)
    (built / "gamma-1.0-py3-none-any.whl").write_bytes(b"built")
    (populated / "built-v1" / "sdist-files" / "def").mkdir(parents=True)
    (populated / "built-v1" / "sdist-files" / "def" / "gamma-1.0.tar.gz").write_bytes(b"s")
    result = run_wherry("cache", "prune", "--cache-dir", populated)
    assert result.ok, result
    names = sorted(p.name for p in populated.iterdir())
    assert "wheels-v0" not in names and not any((populated / ".tmp").iterdir())
    assert not (populated / "archives-v1" / ("0" * 64)).exists()
    assert not (populated / "wheels-v1" / "dangling.json").exists()
    assert not (populated / "noop-v1" / "dead.json").exists()
    assert _archive_projects(populated) == ["alpha", "beta"]  # still usable: kept
    assert _simple_pages(populated) == ["alpha.msgpack", "beta.msgpack"]
    again = run_wherry("cache", "prune", "--cache-dir", populated)
    assert again.ok and "No unused entries found" in again.stderr
    # --ci: downloaded things go, wheels built from source stay.
    ci = run_wherry("cache", "prune", "--ci", "--cache-dir", populated)
    assert ci.ok, ci
    assert list((populated / "archives-v1").iterdir()) == []
    assert (built / "gamma-1.0-py3-none-any.whl").is_file()
    assert not (populated / "built-v1" / "sdist-files").exists()
    assert _simple_pages(populated) == ["alpha.msgpack", "beta.msgpack"]


def test_size_bound_prunes_least_recently_used(run_wherry: RunWherry, populated: Path,
                                               tmp_path: Path) -> None:
    # While another process uses the cache, the bound waits for a later run.
    before = int(run_wherry("cache", "size", "--cache-dir", populated).stdout)
    with holding(populated, "shared", 30):
        busy = run_wherry("pip", "list", "--python", sys.executable, "--cache-dir", populated,
                          env={"WHERRY_CACHE_MAX_SIZE": "1"})
        assert busy.ok, busy
    total = int(run_wherry("cache", "size", "--cache-dir", populated).stdout)
    assert total >= before
    # Age the archives: they go first, least recently used first.
    old = time.time() - 3600
    entries = sorted((populated / "archives-v1").iterdir())
    for entry in entries:
        os.utime(entry, (old, old))
        os.utime(entry / ".wherry-complete", (old, old))
    alpha_size = sum(p.stat().st_size for p in entries[0].rglob("*") if p.is_file())
    limit = total - 1
    # (-v: a listing is then not recorded for replay, whose entry would count too)
    result = run_wherry("pip", "list", "-v", "--python", sys.executable, "--cache-dir",
                        populated, env={"WHERRY_CACHE_MAX_SIZE": str(limit)})
    assert result.ok, result
    after = int(run_wherry("cache", "size", "--cache-dir", populated).stdout)
    assert after <= limit
    assert total - after < alpha_size * 3  # only what had to go
    assert len(list((populated / "archives-v1").iterdir())) == len(entries) - 1
    assert any((populated / BUCKETS["simple"]).rglob("*.msgpack"))  # recent entries stay
    (tmp_path / "wherry.toml").write_text('cache-max-size = "1K"\n')
    assert run_wherry("pip", "list", "--python", sys.executable, "--cache-dir", populated,
                      cwd=tmp_path).ok
    assert int(run_wherry("cache", "size", "--cache-dir", populated).stdout) <= 1024


def test_installing_from_an_archive_marks_it_used(run_wherry: RunWherry, populated: Path,
                                                  make_index: MakeIndex, wheelhouse: Wheelhouse,
                                                  tmp_path: Path) -> None:
    """An install linking from an archive entry refreshes its marker, so size-bound pruning
    (least recently used first) removes the entry nobody used, not the one just used."""
    old = time.time() - 3600
    entries = {json.loads((e / ".wherry-complete").read_text())["wheel"].split("-")[0]: e
               for e in (populated / "archives-v1").iterdir()}
    for entry in entries.values():
        os.utime(entry / ".wherry-complete", (old, old))
    index = make_index([wheelhouse.wheel("alpha", "1.0", requires=["beta"]),
                        wheelhouse.wheel("beta", "1.0")])
    venv = tmp_path / "fresh"
    assert run_wherry("venv", venv, "--python", sys.executable, "--cache-dir", populated).ok
    result = run_wherry("pip", "install", "beta", "--python", venv, "--index-url", index.url,
                        "--cache-dir", populated)
    assert result.ok, result
    used = (entries["beta"] / ".wherry-complete").stat()
    unused = (entries["alpha"] / ".wherry-complete").stat()
    assert used.st_mtime > old + 3000 and used.st_atime > old + 3000
    assert unused.st_mtime == pytest.approx(old, abs=1)
    total = int(run_wherry("cache", "size", "--cache-dir", populated).stdout)
    assert run_wherry("pip", "list", "-v", "--python", sys.executable, "--cache-dir",
                      populated, env={"WHERRY_CACHE_MAX_SIZE": str(total - 1)}).ok
    assert sorted(_archive_projects(populated)) == ["beta"]


def test_remove_entry_renames_first(tmp_path: Path) -> None:
    entry = tmp_path / "archives" / "abc"
    (entry / "pkg").mkdir(parents=True)
    (entry / "pkg" / "f.py").write_text("x")
    graveyard = tmp_path / ".tmp"
    assert remove_entry(entry, graveyard)
    assert not entry.exists() and list(graveyard.iterdir()) == []
    assert not remove_entry(entry, graveyard)


def test_clean_during_an_install_waits_for_it(run_wherry: RunWherry, make_index: MakeIndex,
                                              wheelhouse: Wheelhouse, tmp_path: Path,
                                              cache: Path) -> None:
    """A real install in progress (slowed by index latency) and a clean started meanwhile:
    the clean waits, the install completes from intact cache entries, and the clean then
    empties the cache."""
    wheels = [wheelhouse.wheel(f"pkg{i}", "1.0") for i in range(4)]
    index = make_index(wheels, latency=0.3)
    venv = tmp_path / "venv"
    assert run_wherry("venv", venv, "--python", sys.executable, "--cache-dir", cache).ok
    install = subprocess.Popen(
        [sys.executable, "-m", "wherry", "pip", "install", *(f"pkg{i}" for i in range(4)),
         "--python", str(venv), "--index-url", index.url, "--cache-dir", str(cache)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not index.requests and time.monotonic() < deadline:  # it is fetching now
            time.sleep(0.02)
        clean = run_wherry("cache", "clean", "--cache-dir", cache)
        _out, err = install.communicate(timeout=120)
    finally:
        install.kill()
    assert install.returncode == 0, err
    assert "Installed 4 packages" in err
    assert clean.ok, clean
    assert "Waiting for other wherry processes" in clean.stderr
    assert sorted(p.name for p in cache.iterdir()) == [".lock", ".tmp"]
    listed = run_wherry("pip", "freeze", "--python", venv)
    assert listed.stdout.split() == [f"pkg{i}==1.0" for i in range(4)]


def test_write_atomic_replaces_whole_files_and_leaves_no_temporary(tmp_path: Path) -> None:
    from wherry.cache.entry import write_atomic

    target = tmp_path / "bucket" / "entry.json"
    write_atomic(target, b"first")
    write_atomic(target, b"second, longer")
    assert target.read_bytes() == b"second, longer"
    assert oct(target.stat().st_mode & 0o777) == "0o600"
    blocked = tmp_path / "bucket" / "a-directory"
    (blocked / "inside").mkdir(parents=True)
    with pytest.raises(OSError):
        write_atomic(blocked, b"cannot replace a directory")
    assert sorted(p.name for p in target.parent.iterdir()) == ["a-directory", "entry.json"]
