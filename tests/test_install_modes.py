"""How installed files get written: link modes, bytecode, --target/--prefix, kills and locks.

End to end through `wherry pip install` with a real venv and a real index server, plus a
few in-process checks of `install/link.py` where a failure has to be forced.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import MakeIndex, Result, RunWherry
from tests.support.environments import site_packages, tree_state
from tests.support.index_server import IndexServer
from tests.support.packages import Wheelhouse
from wherry.install import link as link_module
from wherry.install.link import link_tree
from wherry.install.transaction import Transaction, recover_interrupted

PYENV = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
BIG_FILES = 2000






def assert_consistent(site: Path) -> None:
    """One dist-info per project, and every RECORD entry present."""
    names = [p.name.split("-")[0].lower() for p in site.glob("*.dist-info")]
    assert len(names) == len(set(names)), names
    for dist_info in site.glob("*.dist-info"):
        for line in (dist_info / "RECORD").read_text().splitlines():
            path = line.rsplit(",", 2)[0]
            assert (site / path).exists(), (dist_info.name, path)


@pytest.fixture
def venv(tmp_path: Path, run_wherry: RunWherry) -> Path:
    path = tmp_path / "envs" / "main"
    result = run_wherry("venv", path, "--python", sys.executable)
    assert result.ok, result
    return path


@pytest.fixture
def index(make_index: MakeIndex, wheelhouse: Wheelhouse) -> IndexServer:
    return make_index([
        wheelhouse.wheel("alpha", "1.0", requires=["beta"],
                         entry_points={"console_scripts": {"alpha-cli": "alpha:main"}},
                         files={"alpha/__init__.py": "def main():\n    print('alpha says hi')\n",
                                "alpha/sub/mod.py": "X = 1\n"}),
        wheelhouse.wheel("beta", "1.0"),
        wheelhouse.wheel("gamma", "1.0", requires=["beta"]),
        wheelhouse.wheel("bcmod", "1.0", files={
            "bcmod/__init__.py": "VALUE = 'original'\n",
            "bcmod/helper.py": "def f():\n    return 2\n",
            "bcmod/bad.py": "def broken(:\n",  # a syntax error: muted, as pip does
        }),
        wheelhouse.wheel("big", "1.0", files={"big/__init__.py": "V = 1\n",
                                               "big/old.py": "OLD = 1\n"}),
        wheelhouse.wheel("big", "2.0", files={
            "big/__init__.py": "V = 2\n",
            **{f"big/data/f{i:04d}.bin": bytes([i % 251]) * 32768 for i in range(BIG_FILES)},
        }),
    ])


def install(run_wherry: RunWherry, venv: Path, index: IndexServer, *args: str,
            env: dict[str, str | None] | None = None) -> Result:
    return run_wherry("pip", "install", *args, "--python", venv, "--index-url", index.url,
                      env=env)


def cache_dir() -> Path:
    return Path(os.environ["WHERRY_CACHE_DIR"])


# -- link modes ------------------------------------------------------------------------------


def test_default_mode_hardlinks_silently_here(
    run_wherry: RunWherry, venv: Path, index: IndexServer
) -> None:
    if os.stat(venv).st_dev != os.stat(cache_dir()).st_dev:
        pytest.skip("the cache and the venv are on different filesystems here")
    assert link_module.DEFAULT_LINK_MODE == "clone"
    result = install(run_wherry, venv, index, "alpha", "-vv")
    assert result.ok, result
    assert "warning" not in result.stderr.lower(), result
    module = site_packages(venv) / "alpha" / "sub" / "mod.py"
    # ext4/tmpfs cannot clone: the clone attempt fails once and hard links are used.
    assert module.stat().st_nlink >= 2
    assert not module.is_symlink()
    record = site_packages(venv) / "alpha-1.0.dist-info" / "RECORD"
    assert record.stat().st_nlink == 1


def test_copy_mode_makes_independent_files(
    run_wherry: RunWherry, venv: Path, index: IndexServer
) -> None:
    result = install(run_wherry, venv, index, "alpha", "--link-mode", "copy")
    assert result.ok, result
    assert "warning" not in result.stderr.lower(), result
    module = site_packages(venv) / "alpha" / "sub" / "mod.py"
    assert module.stat().st_nlink == 1 and not module.is_symlink()
    assert module.read_text() == "X = 1\n"
    script = venv / "bin" / "alpha-cli"
    out = subprocess.run([str(script)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "alpha says hi"


def test_symlink_mode_points_into_the_cache(
    run_wherry: RunWherry, venv: Path, index: IndexServer
) -> None:
    result = install(run_wherry, venv, index, "alpha", "--link-mode", "symlink")
    assert result.ok, result
    site = site_packages(venv)
    module = site / "alpha" / "sub" / "mod.py"
    assert module.is_symlink()
    assert Path(os.readlink(module)).is_relative_to(cache_dir().resolve()) or Path(
        os.readlink(module)).is_relative_to(cache_dir())
    # RECORD is always a real file: it is rewritten, and must survive a cache clean.
    assert not (site / "alpha-1.0.dist-info" / "RECORD").is_symlink()
    out = subprocess.run([str(venv / "bin" / "python"), "-c", "import alpha.sub.mod as m; "
                          "print(m.X)"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "1"


def test_link_mode_from_the_environment_and_the_flag_wins(
    run_wherry: RunWherry, venv: Path, index: IndexServer
) -> None:
    result = install(run_wherry, venv, index, "beta", env={"WHERRY_LINK_MODE": "copy"})
    assert result.ok, result
    beta = site_packages(venv) / "beta" / "__init__.py"
    assert beta.stat().st_nlink == 1 and not beta.is_symlink()
    result = install(run_wherry, venv, index, "gamma", "--link-mode", "symlink",
                     env={"WHERRY_LINK_MODE": "copy"})
    assert result.ok, result
    assert (site_packages(venv) / "gamma" / "__init__.py").is_symlink()
    bad = install(run_wherry, venv, index, "alpha", env={"WHERRY_LINK_MODE": "teleport"})
    assert bad.returncode == 2, bad
    assert "WHERRY_LINK_MODE" in bad.stderr and "Traceback" not in bad.stderr
    assert not (site_packages(venv) / "alpha").exists()


def test_cache_on_another_filesystem_copies_with_one_warning(
    tmp_path: Path, run_wherry: RunWherry, venv: Path, index: IndexServer
) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or not os.access(shm, os.W_OK) or (
        os.stat(shm).st_dev == os.stat(venv).st_dev
    ):
        pytest.skip("no writable /dev/shm on another filesystem")
    import tempfile

    cache = Path(tempfile.mkdtemp(prefix="wherry-test-cache-", dir=shm))
    try:
        result = install(run_wherry, venv, index, "alpha", "gamma",
                         env={"WHERRY_CACHE_DIR": str(cache)})
        assert result.ok, result
        assert result.stderr.count("Failed to hardlink files; falling back to full copy") == 1
        assert "--link-mode copy" in result.stderr
        assert "different filesystems" in result.stderr
        module = site_packages(venv) / "alpha" / "sub" / "mod.py"
        assert module.stat().st_nlink == 1 and module.read_text() == "X = 1\n"
        # Asked for copies: silent.
        again = run_wherry("pip", "install", "bcmod", "--link-mode", "copy", "--python", venv,
                           "--index-url", index.url, env={"WHERRY_CACHE_DIR": str(cache)})
        assert again.ok, again
        assert "warning" not in again.stderr.lower(), again
    finally:
        import shutil

        shutil.rmtree(cache, ignore_errors=True)


def test_forced_hardlink_failure_warns_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def cross_device(src: object, dst: object) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", cross_device)
    monkeypatch.setattr(link_module, "_warned_copy", False)
    source = tmp_path / "src"
    source.mkdir()
    for i in range(4):
        (source / f"f{i}").write_text(f"content {i}")
    first = link_tree([(source / f"f{i}", tmp_path / "a" / f"f{i}") for i in range(2)], "clone")
    second = link_tree([(source / f"f{i}", tmp_path / "b" / f"f{i}") for i in range(2, 4)],
                       "hardlink")
    err = capsys.readouterr().err
    assert first == second == "copy"
    assert err.count("Failed to hardlink files; falling back to full copy") == 1
    assert "--link-mode copy" in err
    assert (tmp_path / "b" / "f3").read_text() == "content 3"
    assert os.stat(tmp_path / "a" / "f0").st_nlink == 1


def test_support_is_detected_once_per_filesystem_pair(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[object] = []

    def no_reflink(source: object, destination: object) -> None:
        calls.append(destination)
        raise OSError(errno.EOPNOTSUPP, "Operation not supported")

    monkeypatch.setattr(link_module, "_clone", no_reflink)
    support: link_module.LinkSupport = {}
    monkeypatch.setattr(sys, "platform", "linux")
    source = tmp_path / "src"
    source.mkdir()
    for i in range(6):
        (source / f"f{i}").write_text(str(i))
    for batch in range(3):
        used = link_tree(
            [(source / f"f{i}", tmp_path / f"out{batch}" / f"f{i}") for i in range(6)], "clone",
            support=support,
        )
        assert used == "hardlink"
    assert len(calls) == 1
    assert os.stat(tmp_path / "out2" / "f5").st_ino == os.stat(source / "f5").st_ino


# -- bytecode --------------------------------------------------------------------------------


def _other_python() -> Path:
    """An interpreter of another minor version than the one running wherry, if any."""
    for minor in ("3.12", "3.10", "3.13", "3.9"):
        if minor == f"{sys.version_info[0]}.{sys.version_info[1]}":
            continue
        found = sorted(PYENV.glob(f"{minor}.*/bin/python{minor}"))
        if found:
            return found[-1]
    pytest.skip("no other Python version installed under pyenv")


def _magic(python: Path) -> tuple[bytes, str]:
    out = subprocess.run(
        [str(python), "-c", "import importlib.util, sys; "
         "print(importlib.util.MAGIC_NUMBER.hex(), sys.implementation.cache_tag)"],
        capture_output=True, text=True, check=True,
    )
    magic, tag = out.stdout.split()
    return bytes.fromhex(magic), tag


def test_compile_bytecode_uses_the_target_interpreter(
    tmp_path: Path, run_wherry: RunWherry, index: IndexServer
) -> None:
    python = _other_python()
    venv = tmp_path / "other"
    assert run_wherry("venv", venv, "--python", python).ok
    result = install(run_wherry, venv, index, "bcmod", "--compile-bytecode")
    assert result.ok, result
    assert "Bytecode compiled 2 files" in result.stderr, result  # bad.py is muted
    assert "error" not in result.stderr.lower(), result
    magic, tag = _magic(venv / "bin" / "python")
    site = site_packages(venv)
    pyc = site / "bcmod" / "__pycache__" / f"__init__.{tag}.pyc"
    assert pyc.is_file(), sorted(p.name for p in (site / "bcmod").rglob("*"))
    assert tag != sys.implementation.cache_tag
    data = pyc.read_bytes()
    source = (site / "bcmod" / "__init__.py").stat()
    assert data[:4] == magic
    assert int.from_bytes(data[4:8], "little") == 0  # timestamp-based (the default)
    assert int.from_bytes(data[8:12], "little") == int(source.st_mtime) & 0xFFFFFFFF
    assert int.from_bytes(data[12:16], "little") == source.st_size
    assert (site / "bcmod" / "__pycache__" / f"helper.{tag}.pyc").is_file()
    assert not list((site / "bcmod" / "__pycache__").glob("bad.*"))
    record = (site / "bcmod-1.0.dist-info" / "RECORD").read_text()
    assert ".pyc" not in record
    # Uninstalling removes the .pyc files too (PEP 491), and with them the package dir.
    removed = run_wherry("pip", "uninstall", "bcmod", "--python", venv)
    assert removed.ok, removed
    assert not (site / "bcmod").exists()


def test_compile_bytecode_from_env_honours_invalidation_mode(
    run_wherry: RunWherry, venv: Path, index: IndexServer
) -> None:
    result = install(run_wherry, venv, index, "bcmod", env={
        "WHERRY_COMPILE_BYTECODE": "1", "PYC_INVALIDATION_MODE": "UNCHECKED_HASH"})
    assert result.ok, result
    site = site_packages(venv)
    pyc = site / "bcmod" / "__pycache__" / f"__init__.{sys.implementation.cache_tag}.pyc"
    assert int.from_bytes(pyc.read_bytes()[4:8], "little") == 0b01  # hash-based, unchecked
    # The import reads the .pyc without looking at the source: replace the source (a new
    # file; the old one is a hard link into the cache) and the compiled value still wins.
    source = site / "bcmod" / "__init__.py"
    source.unlink()
    source.write_text("VALUE = 'changed'\n")
    out = subprocess.run([str(venv / "bin" / "python"), "-c",
                          "import bcmod; print(bcmod.VALUE)"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "original"


def test_no_compile_bytecode_flag_and_bad_invalidation_mode(
    run_wherry: RunWherry, venv: Path, index: IndexServer
) -> None:
    result = install(run_wherry, venv, index, "beta", "--no-compile-bytecode",
                     env={"WHERRY_COMPILE_BYTECODE": "1"})
    assert result.ok, result
    assert not (site_packages(venv) / "beta" / "__pycache__").exists()
    before = tree_state(venv, directories=True)
    bad = install(run_wherry, venv, index, "bcmod", "--compile-bytecode",
                  env={"PYC_INVALIDATION_MODE": "sometimes"})
    assert bad.returncode == 2, bad
    assert "PYC_INVALIDATION_MODE" in bad.stderr
    assert tree_state(venv, directories=True) == before


# -- --target and --prefix -------------------------------------------------------------------


def _base_python() -> str:
    base = getattr(sys, "_base_executable", None) or sys.executable
    return os.path.realpath(base)


def test_target_directory(
    tmp_path: Path, run_wherry: RunWherry, venv: Path, index: IndexServer
) -> None:
    # beta in the venv does not count as installed for a --target install.
    assert install(run_wherry, venv, index, "beta").ok
    target = tmp_path / "target"
    result = run_wherry("pip", "install", "alpha", "--target", target, "--python", venv,
                        "--index-url", index.url)
    assert result.ok, result
    assert " + alpha==1.0" in result.stderr and " + beta==1.0" in result.stderr
    assert (target / "alpha" / "__init__.py").is_file()
    assert (target / "beta-1.0.dist-info" / "RECORD").is_file()
    assert (target / "bin" / "alpha-cli").is_file()
    assert (target / ".lock").exists()  # the lock is taken on the directory itself
    assert not list(target.glob(".wherry-stash-*"))
    out = subprocess.run([_base_python(), "-c", "import alpha, beta; alpha.main()"],
                         env={**os.environ, "PYTHONPATH": str(target)},
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "alpha says hi"
    # Installed packages are looked up in the directory only.
    again = run_wherry("pip", "install", "alpha", "--target", target, "--python", venv,
                       "--index-url", index.url)
    assert again.ok and "Audited 2 packages" in again.stderr, again
    other = tmp_path / "target2"
    fresh = run_wherry("pip", "install", "alpha", "--target", other, "--python", venv,
                       "--index-url", index.url)
    assert fresh.ok and "Installed 2 packages" in fresh.stderr, fresh


def test_target_with_a_base_interpreter_needs_no_venv_or_system(
    tmp_path: Path, run_wherry: RunWherry, index: IndexServer
) -> None:
    target = tmp_path / "t"
    refused = run_wherry("pip", "install", "beta", "--python", _base_python(),
                         "--index-url", index.url)
    assert not refused.ok  # without --target, a base interpreter needs --system
    result = run_wherry("pip", "install", "beta", "--target", target, "--python",
                        _base_python(), "--index-url", index.url)
    assert result.ok, result
    assert (target / "beta" / "__init__.py").is_file()


def test_prefix_directory(
    tmp_path: Path, run_wherry: RunWherry, venv: Path, index: IndexServer
) -> None:
    prefix = tmp_path / "prefix"
    result = run_wherry("pip", "install", "alpha", "--prefix", prefix, "--python", venv,
                        "--index-url", index.url)
    assert result.ok, result
    site = site_packages(prefix)
    assert site.relative_to(prefix).parts[0] == "lib"
    assert (site / "alpha" / "sub" / "mod.py").is_file()
    assert (prefix / "bin" / "alpha-cli").is_file()
    assert not (site_packages(venv) / "alpha").exists()
    out = subprocess.run([_base_python(), "-c", "import alpha.sub.mod as m; print(m.X)"],
                         env={**os.environ, "PYTHONPATH": str(site)},
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "1"
    both = run_wherry("pip", "install", "alpha", "--prefix", prefix, "--target", prefix,
                      "--python", venv, "--index-url", index.url)
    assert both.returncode == 2


# -- interruption and concurrency ------------------------------------------------------------


def test_sigkill_mid_install_is_undone_by_the_next_command(
    run_wherry: RunWherry, venv: Path, index: IndexServer
) -> None:
    assert install(run_wherry, venv, index, "big==1.0").ok
    site = site_packages(venv)
    before = tree_state(venv, directories=True)
    # Warm the cache with big 2.0 elsewhere, so the killed run reaches the install quickly.
    warm = run_wherry("pip", "install", "big==2.0", "--target", venv.parent / "warm",
                      "--python", venv, "--index-url", index.url)
    assert warm.ok, warm
    process = subprocess.Popen(
        [sys.executable, "-m", "wherry", "pip", "install", "big==2.0", "--link-mode", "copy",
         "--python", str(venv), "--index-url", index.url],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    killed_mid_way = False
    try:
        while time.monotonic() < deadline and process.poll() is None:
            # The sign: the lock is held, old files are stashed, new ones are arriving.
            if list(venv.glob(".wherry-stash-*/1")) and (site / "big" / "data").is_dir():
                process.send_signal(signal.SIGKILL)
                killed_mid_way = True
                break
            time.sleep(0.001)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
    if not killed_mid_way:
        pytest.skip("the install finished before it could be killed")
    assert process.returncode == -signal.SIGKILL
    assert tree_state(venv, directories=True) != before  # really half-done
    assert list(venv.glob(".wherry-stash-*"))
    # The next command (here a satisfied install, which never reaches the install step)
    # takes the lock and undoes the leftovers first.
    again = install(run_wherry, venv, index, "big==1.0")
    assert again.ok, again
    assert "Audited 1 package" in again.stderr, again
    assert tree_state(venv, directories=True) == before


def test_journal_recovery_in_process(tmp_path: Path) -> None:
    root = tmp_path / "env"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "old.py").write_text("old")
    (root / "keep.txt").write_text("keep")
    before = tree_state(root, directories=True)
    stash = Path(os.path.join(root, ".wherry-stash-test"))
    transaction = Transaction(stash)
    transaction.remove([root / "pkg" / "old.py"])
    new_dir, new_file = root / "pkg2", root / "pkg2" / "new.py"
    transaction.intend([new_dir, new_file, root / "never-made.py"])
    new_dir.mkdir()
    new_file.write_text("new")
    # ... and the process dies here: no commit, no rollback.
    assert tree_state(root, directories=True) != before
    assert recover_interrupted(root) == 1
    assert tree_state(root, directories=True) == before
    # A stash without a journal (a commit cut short) is only deleted.
    leftover = root / ".wherry-stash-done"
    leftover.mkdir()
    (leftover / "3").write_text("stale")
    assert recover_interrupted(root) == 1
    assert tree_state(root, directories=True) == before


def test_a_wheel_journals_only_the_roots_of_what_it_creates(tmp_path: Path) -> None:
    # place_wheel journals the top-most new directories and the new files outside them:
    # recovery deletes a journaled directory whole, so that undoes every path.
    from wherry.install.wheel import _missing_dirs, _new_roots

    site = tmp_path / "site"
    (site / "shared").mkdir(parents=True)
    (site / "shared" / "old.py").write_text("")
    s = os.sep
    directories = {f"{site}{s}pkg{s}sub{s}deep", f"{site}{s}pkg", f"{site}{s}shared",
                   f"{site}{s}shared{s}new", f"{tmp_path}{s}bin{s}x"}
    missing = _missing_dirs(directories)
    assert missing == sorted([f"{site}{s}pkg", f"{site}{s}pkg{s}sub", f"{site}{s}pkg{s}sub{s}deep",
                              f"{site}{s}shared{s}new", f"{tmp_path}{s}bin",
                              f"{tmp_path}{s}bin{s}x"])
    files = [f"{site}{s}pkg{s}sub{s}deep{s}a.py", f"{site}{s}shared{s}old.py",
             f"{site}{s}shared{s}b.py", f"{site}{s}shared{s}new{s}c.py", f"{site}{s}top.py"]
    assert sorted(_new_roots(missing, files)) == sorted([
        f"{site}{s}pkg", f"{site}{s}shared{s}new", f"{tmp_path}{s}bin",
        f"{site}{s}shared{s}b.py", f"{site}{s}top.py"])


def test_concurrent_installs_into_one_environment_serialize(
    venv: Path, index: IndexServer
) -> None:
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "wherry", "pip", "install", name, "--python", str(venv),
             "--index-url", index.url],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for name in ("alpha", "gamma")
    ]
    outputs = [p.communicate(timeout=120) for p in processes]
    for process, (_out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err
    site = site_packages(venv)
    assert {p.name for p in site.glob("*.dist-info")} == {
        "alpha-1.0.dist-info", "beta-1.0.dist-info", "gamma-1.0.dist-info"}
    assert_consistent(site)
    assert not list(venv.glob(".wherry-stash-*"))


def test_concurrent_installs_into_two_environments_share_the_cache(
    tmp_path: Path, run_wherry: RunWherry, index: IndexServer
) -> None:
    venvs = [tmp_path / "a", tmp_path / "b"]
    for path in venvs:
        assert run_wherry("venv", path, "--python", sys.executable).ok
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "wherry", "pip", "install", "alpha", "gamma", "bcmod",
             "--python", str(path), "--index-url", index.url],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for path in venvs
    ]
    outputs = [p.communicate(timeout=120) for p in processes]
    for process, (_out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err
    for path in venvs:
        site = site_packages(path)
        assert {p.name for p in site.glob("*.dist-info")} == {
            "alpha-1.0.dist-info", "beta-1.0.dist-info", "gamma-1.0.dist-info",
            "bcmod-1.0.dist-info"}
        assert_consistent(site)
