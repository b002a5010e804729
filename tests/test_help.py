"""Help texts, the generated reference (docs/cli.md) and shell completion scripts."""

from __future__ import annotations

import argparse
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support import RunWherry
from wherry.cli.docs import DOCS, render
from wherry.cli.parser import build_parser


def _all_parsers() -> list[tuple[str, argparse.ArgumentParser]]:
    from wherry.cli.docs import _parsers

    parser, _pip = build_parser(None)
    return [(" ".join(path), sub) for path, sub in _parsers(parser)]


def test_docs_are_current() -> None:
    assert DOCS.is_file(), "run `python -m wherry.cli.docs` to generate docs/cli.md"
    assert DOCS.read_text(encoding="utf-8") == render(), (
        "docs/cli.md is out of date: run `python -m wherry.cli.docs` to regenerate it")


def test_docs_check_mode(tmp_path: Path) -> None:
    from wherry.cli.docs import main

    target = tmp_path / "cli.md"
    assert main(["--check", "--output", str(target)]) == 1
    assert main(["--output", str(target)]) == 0
    assert main(["--check", "--output", str(target)]) == 0
    text = target.read_text()
    for section in ("## Exit status", "## Configuration", "`WHERRY_HTTP_TIMEOUT`",
                    "`WHERRY_LOG`", "## wherry pip install", "## wherry cache prune"):
        assert section in text


def test_every_command_has_examples() -> None:
    for name, parser in _all_parsers():
        text = parser.format_help()
        examples = text.split("examples:", 1)
        assert len(examples) == 2, f"`wherry {name} --help` has no examples"
        assert examples[1].count("\n  wherry ") + examples[1].count("\n  WHERRY") >= 1, name


def test_help_is_grouped_like_uv(run_wherry: RunWherry) -> None:
    top = run_wherry("--help")
    assert top.ok
    text = top.stdout
    assert text.index("commands:") < text.index("cache options:") < text.index(
        "global options:")
    assert "exit status:" in text and "2 usage error" in text
    install = run_wherry("pip", "install", "--help").stdout
    order = [install.index(f"\n{group}:") for group in (
        "options", "index options", "cache options", "global options")]
    assert order == sorted(order)
    assert "--no-config" in install and "--color" in install


def _script(run_wherry: RunWherry, shell: str, tmp_path: Path) -> Path:
    result = run_wherry("generate-shell-completion", shell)
    assert result.ok, result
    path = tmp_path / f"wherry.{shell}"
    path.write_text(result.stdout)
    return path


@pytest.mark.parametrize(("shell", "check"), [
    ("bash", ["bash", "-n"]), ("zsh", ["zsh", "-n"]), ("fish", ["fish", "--no-execute"])])
def test_completion_scripts_parse(run_wherry: RunWherry, tmp_path: Path, shell: str,
                                  check: list[str]) -> None:
    script = _script(run_wherry, shell, tmp_path)
    if shutil.which(check[0]) is None:
        pytest.skip(f"{check[0]} is not installed")
    result = subprocess.run([*check, str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_bash_completion_completes(run_wherry: RunWherry, tmp_path: Path) -> None:
    script = _script(run_wherry, "bash", tmp_path)
    (tmp_path / "reqs.txt").write_text("")
    probe = f"""
source {script}
complete_line() {{
  COMP_WORDS=("$@"); COMP_CWORD=$((${{#COMP_WORDS[@]}}-1)); COMPREPLY=()
  _wherry; echo "${{COMPREPLY[*]}}"
}}
complete_line wherry p
complete_line wherry pip ins
complete_line wherry --cache-dir /x pip install --link-mode ""
complete_line wherry pip install --index-s
complete_line wherry cache ""
complete_line wherry pip install -r req
"""
    result = subprocess.run(["bash", "-c", probe], capture_output=True, text=True,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "pip", "install", "clone hardlink copy symlink", "--index-strategy",
        "dir clean prune size", "reqs.txt"]


def test_fish_completion_completes(run_wherry: RunWherry, tmp_path: Path) -> None:
    if shutil.which("fish") is None:
        pytest.skip("fish is not installed")
    script = _script(run_wherry, "fish", tmp_path)
    result = subprocess.run(
        ["fish", "--no-config", "-c", f"source {script}; complete -C 'wherry pip ins'; "
         "complete -C 'wherry cache '; complete -C 'wherry pip install --link-mode '"],
        capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    words = [line.split("\t")[0] for line in result.stdout.splitlines()]
    assert words == ["install", "clean", "dir", "prune", "size", "clone", "copy",
                     "hardlink", "symlink"]


def test_unknown_shell_is_a_usage_error(run_wherry: RunWherry) -> None:
    result = run_wherry("generate-shell-completion", "tcsh")
    assert result.returncode == 2 and "invalid choice" in result.stderr


def test_zsh_completion_completes(run_wherry: RunWherry, tmp_path: Path) -> None:
    if shutil.which("zsh") is None:
        pytest.skip("zsh is not installed")
    script = _script(run_wherry, "zsh", tmp_path)
    # Drive the function with stand-ins for zsh's compadd and _files that print.
    probe = f"""
compdef() {{ : }}
compadd() {{ local a; for a in "$@"; do [[ $a == -- ]] || print -r -- "$a"; done }}
_files() {{ print -r -- "<files>" }}
source {script}
words=(wherry pip ins); CURRENT=3; _wherry | tr '\\n' ' '; echo
words=(wherry pip install --link-mode ""); CURRENT=5; _wherry | tr '\\n' ' '; echo
words=(wherry --cache-dir /x cache ""); CURRENT=5; _wherry | tr '\\n' ' '; echo
words=(wherry pip install -r ""); CURRENT=5; _wherry | tr '\\n' ' '; echo
"""
    result = subprocess.run(["zsh", "-f", "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    lines = [line.strip() for line in result.stdout.splitlines()]
    assert lines[0].split()[:2] == ["install", "sync"] and "download" in lines[0]
    assert lines[1:] == ["clone hardlink copy symlink", "dir clean prune size", "<files>"]
