"""Output: colours, log levels (-v, WHERRY_LOG), progress bars, the top-level error handler."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import MakeIndex, RunWherry
from tests.support.packages import Wheelhouse
from wherry.cli.main import main
from wherry.output import DEBUG, TRACE, WARNING, Printer, parse_log_spec, wants_color

ESC = "\x1b["


@pytest.fixture
def index_and_venv(run_wherry: RunWherry, make_index: MakeIndex, wheelhouse: Wheelhouse,
                   tmp_path: Path) -> tuple[str, Path]:
    index = make_index([wheelhouse.wheel("alpha", "1.0", requires=["beta"]),
                        wheelhouse.wheel("beta", "1.0")])
    venv = tmp_path / "venv"
    assert run_wherry("venv", venv, "--python", sys.executable).ok
    return index.url, venv


def test_colour_choices(run_wherry: RunWherry, tmp_path: Path) -> None:
    args = ("pip", "list", "--python", tmp_path / "missing")
    plain = run_wherry(*args)
    assert plain.returncode != 0 and plain.stderr.startswith("error: ") and ESC not in plain.stderr
    always = run_wherry(*args, "--color", "always")
    assert always.stderr.startswith(f"{ESC}1;31merror{ESC}0m: ")
    assert run_wherry(*args, env={"FORCE_COLOR": "1"}).stderr.startswith(ESC)
    assert ESC not in run_wherry(*args, "--color", "never", env={"FORCE_COLOR": "1"}).stderr
    assert ESC in run_wherry(*args, env={"WHERRY_COLOR": "always"}).stderr


def test_wants_color(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty:
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert wants_color(Tty()) and not wants_color(object())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not wants_color(Tty()) and wants_color(Tty(), "always")
    monkeypatch.setenv("NO_COLOR", "")  # empty means unset (no-color.org)
    assert wants_color(Tty())


def test_change_lines_are_coloured(run_wherry: RunWherry,
                                   index_and_venv: tuple[str, Path]) -> None:
    url, venv = index_and_venv
    result = run_wherry("pip", "install", "alpha", "--python", venv, "--index-url", url,
                        "--color", "always")
    assert result.ok, result
    assert f" {ESC}32m+{ESC}0m {ESC}1malpha{ESC}0m{ESC}2m==1.0{ESC}0m" in result.stderr


def test_log_levels_and_filters(run_wherry: RunWherry,
                                index_and_venv: tuple[str, Path]) -> None:
    url, venv = index_and_venv
    args = ("pip", "install", "alpha", "--python", venv, "--index-url", url, "--dry-run")
    quiet = run_wherry(*args, "-q")
    assert quiet.ok and quiet.stderr == ""
    debug = run_wherry(*args, env={"WHERRY_LOG": "debug"})
    assert "DEBUG" in debug.stderr and "TRACE" not in debug.stderr
    assert "Using Python" in debug.stderr and "Index URL" in debug.stderr
    # One module at debug, the rest at the default level.
    only = run_wherry(*args, env={"WHERRY_LOG": "wherry.settings=debug"})
    assert "Index URL" in only.stderr and "Using Python" not in only.stderr
    # Everything at debug except one package silenced; the longest prefix wins.
    most = run_wherry(*args, env={"WHERRY_LOG": "debug,wherry.settings=off"})
    assert "Using Python" in most.stderr and "Index URL" not in most.stderr
    trace = run_wherry(*args, env={"WHERRY_LOG": "trace"})
    assert "TRACE" in trace.stderr
    bad = run_wherry(*args, env={"WHERRY_LOG": "wherry=loud"})
    assert bad.returncode == 2 and "unknown level 'loud'" in bad.stderr


def test_parse_log_spec() -> None:
    assert parse_log_spec("debug") == (DEBUG, [])
    assert parse_log_spec("info, wherry.http=trace ,wherry=debug") == (
        WARNING, [("wherry.http", TRACE), ("wherry", DEBUG)])


def test_internal_error_is_one_paragraph(monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    import wherry.cli.cache

    def boom(*args: object) -> int:
        raise RuntimeError("the flux capacitor is empty")

    monkeypatch.setattr(wherry.cli.cache, "run", boom)
    assert main(["cache", "dir"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: internal error: wherry failed unexpectedly (RuntimeError: "
                          "the flux capacitor is empty)")
    assert "hint: this is a bug in wherry; rerun with -vv" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 2
    assert main(["cache", "dir", "-vv"]) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "flux capacitor" in err

    def leaky(*args: object) -> int:
        raise OSError("cannot GET https://me:hunter2@index.invalid/simple/x/")

    monkeypatch.setattr(wherry.cli.cache, "run", leaky)
    assert main(["cache", "dir"]) == 1
    err = capsys.readouterr().err
    assert "hunter2" not in err and "https://me:****@index.invalid/simple/x/" in err


def test_wherry_errors_have_no_traceback_unless_vv(run_wherry: RunWherry,
                                                   tmp_path: Path) -> None:
    args = ("pip", "list", "--python", tmp_path / "missing")
    result = run_wherry(*args)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "Traceback" in run_wherry(*args, "-vv").stderr


def _in_pty(argv: list[str], env: dict[str, str]) -> str:
    """Run `argv` with stdin/stdout/stderr on a pseudo-terminal; everything it wrote."""
    import pty

    master, slave = pty.openpty()
    process = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    assert process.wait(timeout=120) == 0, out
    return out.decode("utf-8", "replace")


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_progress_bars_only_on_a_terminal(run_wherry: RunWherry,
                                          index_and_venv: tuple[str, Path]) -> None:
    url, venv = index_and_venv
    argv = [sys.executable, "-m", "wherry", "pip", "install", "alpha", "--python", str(venv),
            "--index-url", url]
    env = {**os.environ, "TERM": "xterm", "NO_COLOR": "1"}
    shown = _in_pty([*argv, "--reinstall"], env)
    assert "Preparing" in shown and "2/2" in shown and "Installing" in shown
    assert ESC + "3" not in shown.replace(ESC + "?25", "")  # NO_COLOR: no colour codes
    quiet = _in_pty([*argv, "--reinstall", "-q"], env)
    assert "Preparing" not in quiet and "Installing" not in quiet
    piped = run_wherry("pip", "install", "alpha", "--python", venv, "--index-url", url,
                       "--reinstall")
    assert piped.ok and "Preparing" not in piped.stderr and ESC not in piped.stderr
    noop = _in_pty(argv, env)  # the no-op path: no bars
    assert "Audited 2 packages" in noop and "Preparing" not in noop


def test_printer_progress_is_safe_anywhere() -> None:
    import io

    printer = Printer(err=io.StringIO(), progress=False)
    with printer.progress("Preparing", 3) as bar:
        assert bar.done(5, "x") == 5
    assert list(printer.track("Installing", [1, 2], str)) == [1, 2]
    quiet = Printer(err=io.StringIO(), progress=True, quiet=True)
    assert type(quiet.progress("Preparing", 3)).__name__ == "Progress"


def test_nothing_heavy_on_the_noop_path(run_wherry: RunWherry, tmp_path: Path,
                                        index_and_venv: tuple[str, Path]) -> None:
    url, venv = index_and_venv
    # A project that mentions wherry, without a [tool.wherry] table: not parsed.
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\ndependencies = ["wherry"]\n[tool.other]\nwherry = 1\n')
    args = ["pip", "install", "alpha", "--python", str(venv), "--index-url", url]
    assert run_wherry(*args).ok
    code = ("import sys; from wherry.cli.main import main; code = main(sys.argv[1:]); "
            "heavy = [m for m in ('rich', 'packaging', 'urllib3', 'ssl', 'msgspec', "
            "'tomllib', 'configparser', 'logging') if m in sys.modules]; "
            "print(heavy); sys.exit(code)")
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True,
                            text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Audited 2 packages" in result.stderr and result.stdout.strip() == "[]"
