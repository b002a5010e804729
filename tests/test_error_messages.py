"""Snapshots of the error messages users meet most often (issue 8).

Every user-facing failure must read as one short paragraph: what failed, the object
(package, file, URL with its password hidden), why, and a hint; exit code 1 for a
failure, 2 for bad usage; never a traceback. Each case runs the real CLI against real
parts (the loopback index, a real venv, real files) and compares its normalised stderr
with `tests/snapshots/errors/<case>.txt`, so a reworded or regressed message shows up
as a readable diff in review. `WHERRY_UPDATE_SNAPSHOTS=1` rewrites the files.

Only what legitimately varies between runs is normalised: temporary paths, the index
server's port, durations, the interpreter's path and version.
"""

from __future__ import annotations

import difflib
import os
import platform
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import Result, run_wherry
from tests.support.backends import backend_wheels
from tests.support.environments import site_packages, tree_state
from tests.support.index_server import IndexServer
from tests.support.packages import Wheelhouse, sha256_of

SNAPSHOTS = Path(__file__).parent / "snapshots" / "errors"
UPDATE = os.environ.get("WHERRY_UPDATE_SNAPSHOTS") == "1"
_WRONG_HASH = "sha256:" + "0" * 64


@dataclass
class World:
    """What the cases share: one index, one venv, and servers that fail in set ways."""

    root: Path
    index: IndexServer
    failing: IndexServer  # answers 500 to every page
    guarded: IndexServer  # basic auth: only user:right gets in
    dead_url: str  # a server that was started, then stopped: connection refused
    venv: Path
    beta: Path  # the beta 1.0 wheel the index serves
    managed: Path | None  # a non-venv Python whose stdlib is EXTERNALLY-MANAGED
    env: dict[str, str]  # isolation variables for the module's own runs


@dataclass(frozen=True)
class Case:
    """One failure: how to provoke it (given the world and a scratch folder) and the exit
    code users must get."""

    name: str
    exit_code: int
    run: Callable[[World, Path], Result]
    xfail: str | None = None  # a known bug: the case must fail until it is fixed


def _copy_python_as_base(dest: Path) -> Path | None:
    """A private, non-venv copy of the running interpreter with an EXTERNALLY-MANAGED
    marker: the binary copied (not linked, so its prefix is `dest`) and the stdlib linked
    entry by entry. None when the interpreter cannot be relocated this way."""
    import shutil
    import subprocess
    import sysconfig

    base = Path(sys.base_prefix)
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    real_binary = Path(os.path.realpath(getattr(sys, "_base_executable", sys.executable)))
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    if not stdlib.is_dir() or not real_binary.is_file():
        return None
    (dest / "bin").mkdir(parents=True)
    binary = dest / "bin" / f"python{version}"
    shutil.copy2(real_binary, binary)
    lib = dest / "lib"
    lib.mkdir()
    for entry in (base / "lib").iterdir():  # shared libpython, if any
        if entry.name != f"python{version}":
            (lib / entry.name).symlink_to(entry)
    mine = lib / f"python{version}"
    mine.mkdir()
    for entry in stdlib.iterdir():
        if entry.name != "site-packages":
            (mine / entry.name).symlink_to(entry)
    (mine / "site-packages").mkdir()
    (mine / "EXTERNALLY-MANAGED").write_text(
        "[externally-managed]\nError=this Python is managed by the test's package manager\n")
    probe = subprocess.run([str(binary), "-c", "import sys; print(sys.prefix)"],
                           capture_output=True, text=True, env={"PATH": os.defpath})
    if probe.returncode != 0 or probe.stdout.strip() != str(dest):
        return None
    return binary


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("errors-world")
    house = Wheelhouse(root / "house")
    found = backend_wheels()
    backends = found if isinstance(found, list) else []
    files = [
        house.wheel("alpha", "1.0", requires=["beta<2"]),
        house.wheel("beta", "1.0"),
        house.wheel("beta", "2.0"),
        house.wheel("gamma", "1.0", requires=["beta>=2"]),
        house.wheel("winonly", "1.0", tag="cp39-cp39-win_amd64"),
        house.wheel("ancient", "1.0", requires_python="<3"),
        house.wheel("ancient", "1.1", requires_python="<3"),
        house.sdist("broken", "1.0", files={
            "setup.py": "raise SystemExit('broken: this package cannot be built here')\n"}),
        *backends,
    ]
    folder = root / "index"
    folder.mkdir()
    for item in files:
        os.link(item, folder / item.name)
    env = {"PIP_CONFIG_FILE": os.devnull, "WHERRY_CACHE_DIR": str(root / "cache"),
           "XDG_CONFIG_HOME": str(root / "config"), "HOME": str(root / "home")}
    index = IndexServer(folder).start()
    failing = IndexServer(folder, fail={"/simple/": 500}).start()
    guarded = IndexServer(folder, auth=("user", "right")).start()
    dead = IndexServer(folder).start()
    dead_url = dead.url
    dead.stop()
    made = run_wherry("venv", root / "venv", "--python", sys.executable, env=env)
    assert made.ok, made
    managed = _copy_python_as_base(root / "base-python")
    try:
        yield World(root, index, failing, guarded, dead_url, root / "venv", files[1],
                    managed, env)
    finally:
        for server in (index, failing, guarded):
            server.stop()


def _install(world: World, cwd: Path, *args: str, index: str | None = None,
             env: dict[str, str | None] | None = None) -> Result:
    return run_wherry("pip", "install", *args, "--python", world.venv,
                      "--index-url", index or world.index.url, cwd=cwd, env=env)


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _no_venv(world: World, cwd: Path) -> Result:
    return run_wherry("pip", "install", "alpha", "--index-url", world.index.url, cwd=cwd,
                      env={"VIRTUAL_ENV": None, "CONDA_PREFIX": None})


def _python_not_found(world: World, cwd: Path) -> Result:
    # Only one interpreter to find, so the list of those tried is the same on every machine.
    (cwd / "bin").mkdir()
    (cwd / "bin" / "python3").symlink_to(sys.executable)
    return run_wherry("pip", "install", "alpha", "--python", "3.99", cwd=cwd,
                      env={"PATH": str(cwd / "bin"), "PYENV_ROOT": str(cwd / "no-pyenv")})


def _named_hash_mismatch(world: World, cwd: Path) -> Result:
    # A venv of its own, so a regression (the wrong file installed) cannot spoil the
    # shared one.
    made = run_wherry("venv", cwd / "venv", "--python", sys.executable)
    assert made.ok, made
    _write(cwd / "requirements.txt", f"beta==1.0 --hash={_WRONG_HASH}\n")
    return run_wherry("pip", "install", "-r", "requirements.txt", "--python", cwd / "venv",
                      "--index-url", world.index.url, cwd=cwd)


def _externally_managed(world: World, cwd: Path) -> Result:
    if world.managed is None:
        pytest.skip("the running interpreter cannot be copied into a private base prefix")
    return run_wherry("pip", "install", "alpha", "--python", world.managed, "--system",
                      "--index-url", world.index.url, cwd=cwd)


def _bad_config(world: World, cwd: Path) -> Result:
    _write(cwd / "wherry.toml", '# project settings\nhttp-timeout = "soon"\n')
    return _install(world, cwd, "alpha", "--dry-run")


def _build_failure(world: World, cwd: Path) -> Result:
    if isinstance(backend_wheels(), str):
        pytest.skip("the build backends' wheels are not available offline")
    return _install(world, cwd, "broken")


CASES = [
    Case("unknown-package", 1, lambda w, t: _install(w, t, "nosuchpackage")),
    Case("no-matching-version", 1, lambda w, t: _install(w, t, "alpha>=9")),
    Case("conflict", 1, lambda w, t: _install(w, t, "alpha", "gamma")),
    Case("malformed-requirement", 2, lambda w, t: _install(w, t, "alpha>=>1")),
    Case("missing-requirements-file", 2, lambda w, t: _install(w, t, "-r", "nope.txt")),
    Case("bad-requirements-line", 2, lambda w, t: _install(
        w, t, "-r", str(_write(t / "requirements.txt", "alpha\nbeta ==\n")))),
    Case("no-compatible-wheel", 1, lambda w, t: _install(
        w, t, "winonly", "--only-binary", ":all:")),
    Case("requires-python", 1, lambda w, t: _install(w, t, "ancient")),
    Case("index-server-error", 1, lambda w, t: _install(
        w, t, "alpha", index=w.failing.url, env={"WHERRY_HTTP_RETRIES": "0"})),
    Case("index-unreachable", 1, lambda w, t: _install(
        w, t, "alpha", index=w.dead_url, env={"WHERRY_HTTP_RETRIES": "0"})),
    Case("offline-nothing-cached", 1, lambda w, t: _install(w, t, "alpha", "--offline")),
    Case("hash-mismatch", 1, lambda w, t: _install(w, t, "-r", str(_write(
        t / "requirements.txt",
        f"beta @ {w.index.file_url(w.beta.name)} --hash={_WRONG_HASH}\n")))),
    Case("hash-mismatch-named", 1, _named_hash_mismatch),
    Case("no-virtual-environment", 1, _no_venv),
    Case("python-not-found", 1, _python_not_found),
    Case("unknown-command", 2, lambda w, t: run_wherry("frobnicate", cwd=t)),
    Case("unknown-option", 2, lambda w, t: run_wherry(
        "pip", "install", "alpha", "--frobnicate", cwd=t)),
    Case("uninstall-not-installed", 0, lambda w, t: run_wherry(
        "pip", "uninstall", "nosuchpackage", "--python", w.venv, cwd=t)),
    Case("externally-managed", 1, _externally_managed),
    Case("bad-config-value", 2, _bad_config),
    Case("build-failure", 1, _build_failure),
    Case("sync-missing-file", 2, lambda w, t: run_wherry(
        "pip", "sync", "nope.txt", "--python", w.venv, "--index-url", w.index.url, cwd=t)),
    Case("credentials-redacted", 1, lambda w, t: _install(
        w, t, "alpha", index=w.guarded.url.replace("://", "://user:secret@"),
        env={"WHERRY_HTTP_RETRIES": "0"})),
]


def normalise(text: str, *, scratch: Path, world: World) -> str:
    """Replace what changes from run to run, and nothing else."""
    base = str(world.root.parent.parent)  # pytest's base temp dir for this session
    for path, marker in ((scratch, "<TMP>"), (world.root, "<WORLD>"), (Path(base), "<BASE>"),
                         (Path(sys.executable), "<PYTHON>"),
                         (Path(os.path.realpath(sys.executable)), "<PYTHON>")):
        text = text.replace(str(path), marker)
    text = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:<PORT>", text)
    text = re.sub(r"\b\d+(\.\d+)?\s?(ms|s|µs)\b", "<DURATION>", text)
    text = text.replace(platform.python_version(), "<PYVER>")
    text = text.replace(sha256_of(world.beta), "<SHA256 of beta-1.0>")
    text = re.sub(r"python3\.\d+", "python3.<N>", text)
    # The tags an interpreter accepts depend on its version and the machine's libc.
    text = re.sub(r"(wherry needed one of: ).*", r"\1<TAGS OF THIS PYTHON>", text)
    return text


@pytest.mark.parametrize("case", [
    pytest.param(c, id=c.name, marks=[pytest.mark.xfail(reason=c.xfail, strict=True)]
                 if c.xfail else []) for c in CASES])
def test_error_message(case: Case, world: World, tmp_path: Path) -> None:
    scratch = tmp_path / "work"
    scratch.mkdir()
    before = tree_state(site_packages(world.venv))
    result = case.run(world, scratch)
    # A failure leaves the environment as it found it (no half-installed packages).
    assert tree_state(site_packages(world.venv)) == before, result
    assert "Traceback" not in result.stderr, result
    assert "secret" not in result.stderr + result.stdout, result
    assert result.returncode == case.exit_code, result
    if case.exit_code:  # the shape every failure shares: `error: ...` and a hint
        # (after the resolution's summary line, for a failure found while installing)
        message = re.sub(r"\AResolved \d+ packages? in \S+\n", "", result.stderr)
        assert message.startswith("error: "), result
        assert "\n  hint: " in result.stderr, result
    actual = normalise(result.stderr, scratch=scratch, world=world)
    snapshot = SNAPSHOTS / f"{case.name}.txt"
    if UPDATE:
        SNAPSHOTS.mkdir(parents=True, exist_ok=True)
        snapshot.write_text(actual)
        return
    if not snapshot.is_file():
        pytest.fail(f"no snapshot {snapshot}; rerun with WHERRY_UPDATE_SNAPSHOTS=1 to create "
                    f"it. The message is:\n{actual}")
    expected = snapshot.read_text()
    if actual != expected:
        diff = "".join(difflib.unified_diff(
            expected.splitlines(keepends=True), actual.splitlines(keepends=True),
            fromfile=f"snapshots/errors/{case.name}.txt", tofile="wherry's stderr"))
        pytest.fail(f"the {case.name} message changed (WHERRY_UPDATE_SNAPSHOTS=1 accepts "
                    f"it):\n{diff}", pytrace=False)
