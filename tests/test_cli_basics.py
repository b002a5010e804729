"""`wherry --version`, help texts, verbosity levels, and usage errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support import MakeIndex, RunWherry
from tests.support.packages import Wheelhouse
from wherry import __version__


def test_version(run_wherry: RunWherry) -> None:
    result = run_wherry("--version")
    assert result.ok and result.stdout.strip() == f"wherry {__version__}"


def test_console_script_and_module_agree() -> None:
    script = Path(sys.executable).parent / "wherry"
    if not script.exists():
        return
    out = subprocess.run([str(script), "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"wherry {__version__}"


def test_help_texts(run_wherry: RunWherry) -> None:
    top = run_wherry("--help")
    assert top.ok and "pip" in top.stdout and "venv" in top.stdout and "cache" in top.stdout
    pip = run_wherry("pip", "--help")
    for command in ("install", "uninstall", "list", "freeze"):
        assert command in pip.stdout
    install = run_wherry("pip", "install", "--help")
    assert "--index-url" in install.stdout and "examples:" in install.stdout
    bare = run_wherry("pip")
    assert bare.returncode == 2 and "install" in bare.stderr


def test_usage_errors_exit_2(run_wherry: RunWherry) -> None:
    result = run_wherry("pip", "install", "--link-mode", "teleport", "x")
    assert result.returncode == 2 and "invalid choice" in result.stderr
    result = run_wherry("frobnicate")
    assert result.returncode == 2


def test_verbosity_levels(run_wherry: RunWherry, make_index: MakeIndex,
                          wheelhouse: Wheelhouse, tmp_path: Path) -> None:
    index = make_index([wheelhouse.wheel("solo", "1.0")])
    venv = tmp_path / "venv"
    assert run_wherry("venv", venv, "--python", sys.executable).ok
    quiet = run_wherry("pip", "install", "solo", "--python", venv, "--index-url", index.url,
                       "-q", "--dry-run")
    assert quiet.ok and quiet.stderr == ""
    debug = run_wherry("pip", "install", "solo", "--python", venv, "--index-url", index.url,
                       "-v", "--dry-run")
    assert "DEBUG" in debug.stderr and "TRACE" not in debug.stderr
    trace = run_wherry("pip", "install", "solo", "--python", venv, "--index-url", index.url,
                       "-vv")
    assert "TRACE" in trace.stderr and "Installed 1 package" in trace.stderr


def test_cache_commands(run_wherry: RunWherry, tmp_path: Path) -> None:
    cache = tmp_path / "c"
    result = run_wherry("cache", "dir", "--cache-dir", cache)
    assert result.ok and result.stdout.strip() == str(cache)
    (cache / "archives-v1").mkdir(parents=True)
    (cache / "archives-v1" / "f").write_bytes(b"12345")
    assert run_wherry("cache", "size", "--cache-dir", cache).stdout.strip() == "5"
    assert run_wherry("cache", "clean", "--cache-dir", cache).ok
    assert run_wherry("cache", "size", "--cache-dir", cache).stdout.strip() == "0"


def test_the_process_still_cleans_up_and_keeps_its_exit_code(
        run_wherry: RunWherry, make_index: MakeIndex, wheelhouse: Wheelhouse,
        tmp_path: Path) -> None:
    """The command process skips interpreter teardown (cli/main.py), but not the cleanups
    registered with `atexit`: `--no-cache`'s temporary cache is gone afterwards, output
    written just before the exit is complete, and the exit code is the command's."""
    index = make_index([wheelhouse.wheel("solo", "1.0")])
    venv = tmp_path / "venv"
    temp = tmp_path / "tmp"
    temp.mkdir()
    assert run_wherry("venv", venv, "--python", sys.executable).ok
    done = run_wherry("pip", "install", "solo", "--python", venv, "--index-url", index.url,
                      "--no-cache", env={"TMPDIR": str(temp)})
    assert done.ok and "+ solo==1.0" in done.stderr
    assert list(temp.iterdir()) == []
    listed = run_wherry("pip", "list", "--python", venv, "--format", "json")
    assert listed.ok and listed.stdout.rstrip().endswith("]")
    missing = run_wherry("pip", "install", "nothing-here", "--python", venv,
                         "--index-url", index.url, "--no-cache", env={"TMPDIR": str(temp)})
    assert missing.returncode == 1 and list(temp.iterdir()) == []


def test_embedding_keeps_the_garbage_collector() -> None:
    code = ("import gc; from wherry.cli.main import main; main(['--version']); "
            "print(gc.isenabled())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.splitlines()[-1] == "True"
