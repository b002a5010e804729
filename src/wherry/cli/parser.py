"""The parser of the `wherry` command tree: commands, global flags, help text.

Kept out of `main.py` so `wherry --version` answers before argparse (and pathlib, which
the option helpers need) is imported: the console script is the start-up budget's floor.
Only the command named on the command line gets its full parser (`build_parser(argv)`).
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence

from wherry import __version__
from wherry.cli.options import add_global_options

TYPE_CHECKING = False  # not `from typing import ...`: importing typing costs ~3 ms
if TYPE_CHECKING:
    from typing import NoReturn

# (command path, module under wherry.cli, one-line help)
TOP_COMMANDS = [
    ("venv", "venv", "Create a virtual environment"),
    ("cache", "cache", "Manage wherry's cache"),
    ("config", "config", "Show the effective configuration and where each value came from"),
    ("generate-shell-completion", "completion", "Print a shell completion script"),
]
PIP_COMMANDS = [
    ("install", "install", "Install packages into an environment"),
    ("sync", "sync", "Make an environment match requirements files exactly"),
    ("compile", "compile", "Compile requirements into a pinned requirements.txt or pylock.toml"),
    ("uninstall", "uninstall", "Uninstall packages from an environment"),
    ("list", "inspect", "List installed packages"),
    ("freeze", "inspect", "List installed packages in requirements format"),
    ("show", "show", "Show information about installed packages"),
    ("tree", "tree", "Display the dependency tree of installed packages"),
    ("check", "check", "Verify installed packages have compatible dependencies"),
    ("download", "download", "Download distributions for offline or other-platform installs"),
]

PIP_EPILOG = """\
examples:
  wherry pip install requests                  # into .venv (or $VIRTUAL_ENV)
  wherry pip compile requirements.in -o requirements.txt
  wherry pip sync requirements.txt             # make the environment match exactly
"""

DESCRIPTION = "A fast, correct, pip-compatible Python package installer and resolver."
EPILOG = """\
examples:
  wherry venv                                  # create .venv
  wherry pip install -r requirements.txt       # install into .venv
  wherry config                                # show the effective settings

exit status:
  0 success, 1 failure (the error says what failed, why, and a hint),
  2 usage error, 130 interrupted

Configuration: command line > WHERRY_* variables > wherry.toml or [tool.wherry] in
pyproject.toml > ~/.config/wherry/wherry.toml > PIP_* variables > pip's config files.
Use `wherry <command> --help` for a command's options.
"""


def _untranslated(message: str) -> str:
    return message


def _untranslated_n(singular: str, plural: str, n: int) -> str:
    return singular if n == 1 else plural


# argparse asks gettext to translate each of its strings, and every such call searches
# the disk for catalogues (about 2 ms per run, a twentieth of the no-op install's
# budget). wherry's own text is English, so argparse's is used as written.
argparse._ = _untranslated  # type: ignore[attr-defined]
argparse.ngettext = _untranslated_n  # type: ignore[attr-defined]


def help_width() -> int:
    """The help text's width, as argparse computes it (the terminal's columns minus 2).

    argparse would call `shutil.get_terminal_size()`, and importing shutil (with bz2 and
    lzma) costs ~2 ms on every run, since argparse builds a formatter to validate each
    `add_argument`; `os.get_terminal_size` answers the same question.
    """
    import os
    import sys

    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return (columns or 80) - 2


class Formatter(argparse.RawDescriptionHelpFormatter):
    """wherry's help layout: descriptions and epilogs as written, options aligned at 32."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32, width=help_width())


# Global flags that take a value, so a peek at the command line skips their value.
_GLOBAL_VALUE_FLAGS = frozenset({
    "--cache-dir", "--config-file", "--color", "--refresh-package", "--allow-insecure-host",
    "--trusted-host", "--cert",
})


def _selected_command(argv: Sequence[str]) -> tuple[str, ...]:
    """The command path named on the command line (`("pip", "install")`), by peeking.

    Only the chosen command's arguments are registered: building every command's parser
    (and importing every command module) would cost the no-op path several milliseconds.
    """
    words = []
    skip = False
    for word in argv:
        if skip:
            skip = False
        elif word == "--":
            break
        elif word.startswith("-"):
            skip = word in _GLOBAL_VALUE_FLAGS
        else:
            words.append(word)
    if words[:1] == ["pip"]:
        return tuple(words[:2])
    return tuple(words[:1])


def build_parser(
    argv: Sequence[str] | None = None,
) -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """The top-level parser and the `pip` sub-parser (printed for a bare `wherry pip`).

    With `argv`, only the command it names gets its full set of arguments; without,
    every command does (for documentation and tests).
    """
    selected = _selected_command(argv) if argv is not None else None
    parser = Parser(
        prog="wherry", description=DESCRIPTION, epilog=EPILOG, formatter_class=Formatter,
    )
    parser.add_argument("-V", "--version", action="version", version=f"wherry {__version__}")
    # Commands first, then the option groups, as in uv's help.
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    add_global_options(parser)
    pip = commands.add_parser(
        "pip", help="Manage Python packages with a pip-compatible interface",
        description="Manage Python packages with a pip-compatible interface.",
        epilog=PIP_EPILOG, formatter_class=Formatter,
    )
    pip_commands = pip.add_subparsers(dest="pip_command", metavar="COMMAND", title="commands")
    for name, module, help_text in PIP_COMMANDS:
        sub = pip_commands.add_parser(
            name, help=help_text, description=help_text + ".", formatter_class=Formatter
        )
        sub.set_defaults(_module=module, _command=name)
        if selected is None or selected == ("pip", name):
            _register(module, name, sub)
            # Only the chosen command parses; the others need no options (saves ~1 ms).
            add_global_options(sub)
    for name, module, help_text in TOP_COMMANDS:
        sub = commands.add_parser(
            name, help=help_text, description=help_text + ".", formatter_class=Formatter
        )
        sub.set_defaults(_module=module, _command=name)
        if selected is None or selected == (name,):
            _register(module, name, sub)
            # Only the chosen command parses; the others need no options (saves ~1 ms).
            add_global_options(sub)
    _compact_usage(parser)
    return parser, pip


class Parser(argparse.ArgumentParser):
    """argparse, with its errors in wherry's shape: one `error:` paragraph with a hint and
    exit code 2 (a `UsageError`, printed by `main`), rather than a usage dump followed by
    `wherry: error: ...`. Sub-parsers inherit the class, so `self.prog` names the command
    the user typed (`wherry pip install`)."""

    def error(self, message: str) -> NoReturn:
        from wherry.errors import UsageError

        # Unknown flags of any command are reported by the top-level parser.
        more = ", or `wherry COMMAND --help` for a command's" if self.prog == "wherry" else ""
        raise UsageError(message, hint=f"run `{self.prog} --help` to see its usage and "
                                       f"options{more}")


def _compact_usage(parser: argparse.ArgumentParser) -> None:
    """uv's short usage lines (`wherry pip install [OPTIONS] [PACKAGE ...]`) instead of
    argparse's list of every flag, which the option groups below it repeat anyway."""
    words = [parser.prog, "[OPTIONS]"]
    for action in parser._actions:
        if action.option_strings:
            continue
        if isinstance(action, argparse._SubParsersAction):
            words.append("COMMAND")
            for sub in dict.fromkeys(action.choices.values()):
                _compact_usage(sub)
            continue
        name = str(action.metavar or action.dest)
        words.append({"*": f"[{name} ...]", "+": f"{name} [{name} ...]",
                      "?": f"[{name}]"}.get(str(action.nargs), name))
    parser.usage = " ".join(words)


def _register(module: str, name: str, parser: argparse.ArgumentParser) -> None:
    mod = importlib.import_module(f"wherry.cli.{module}")
    mod.register(name, parser)
    if not parser.epilog:
        from wherry.cli.examples import EXAMPLES

        parser.epilog = EXAMPLES.get(name)
