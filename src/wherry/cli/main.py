"""The `wherry` command: global flags, the command tree, and lazy dispatch.

Each command lives in its own module under `wherry.cli` with two functions:
`register(subparsers)` adds its parser, and `run(args, ctx)` carries it out. Parsers are
cheap to build, but a command's *implementation* is imported only when it runs, so
`wherry --version` and the no-op install import nothing heavy.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from wherry import __version__
from wherry.cli.options import add_global_options
from wherry.errors import WherryError

# (command path, module under wherry.cli, one-line help)
TOP_COMMANDS = [
    ("venv", "venv", "Create a virtual environment"),
    ("cache", "cache", "Manage wherry's cache"),
]
PIP_COMMANDS = [
    ("install", "install", "Install packages into an environment"),
    ("sync", "sync", "Make an environment match requirements files exactly"),
    ("uninstall", "uninstall", "Uninstall packages from an environment"),
    ("list", "inspect", "List installed packages"),
    ("freeze", "inspect", "List installed packages in requirements format"),
    ("show", "show", "Show information about installed packages"),
    ("tree", "tree", "Display the dependency tree of installed packages"),
    ("check", "check", "Verify installed packages have compatible dependencies"),
]


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32)


def _selected_command(argv: Sequence[str]) -> tuple[str, ...]:
    """The command path named on the command line (`("pip", "install")`), by peeking.

    Only the chosen command's arguments are registered: building every command's parser
    (and importing every command module) would cost the no-op path several milliseconds.
    """
    words = [word for word in argv if not word.startswith("-")]
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
    parser = argparse.ArgumentParser(
        prog="wherry",
        description="A fast, correct, pip-compatible Python package installer and resolver.",
        formatter_class=_Formatter,
    )
    parser.add_argument("-V", "--version", action="version", version=f"wherry {__version__}")
    add_global_options(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    pip = commands.add_parser(
        "pip", help="Manage Python packages with a pip-compatible interface",
        description="Manage Python packages with a pip-compatible interface.",
        formatter_class=_Formatter,
    )
    pip_commands = pip.add_subparsers(dest="pip_command", metavar="COMMAND", title="commands")
    for name, module, help_text in PIP_COMMANDS:
        sub = pip_commands.add_parser(
            name, help=help_text, description=help_text + ".", formatter_class=_Formatter
        )
        sub.set_defaults(_module=module, _command=name)
        if selected is None or selected == ("pip", name):
            _register(module, name, sub)
        add_global_options(sub)
    for name, module, help_text in TOP_COMMANDS:
        sub = commands.add_parser(
            name, help=help_text, description=help_text + ".", formatter_class=_Formatter
        )
        sub.set_defaults(_module=module, _command=name)
        if selected is None or selected == (name,):
            _register(module, name, sub)
        add_global_options(sub)
    return parser, pip


def _register(module: str, name: str, parser: argparse.ArgumentParser) -> None:
    mod = importlib.import_module(f"wherry.cli.{module}")
    mod.register(name, parser)


def main(argv: Sequence[str] | None = None) -> int:
    args_list = sys.argv[1:] if argv is None else list(argv)
    if args_list in (["--version"], ["-V"]):
        # Answered before argparse and the command modules are even imported.
        sys.stdout.write(f"wherry {__version__}\n")
        return 0
    parser, pip_parser = build_parser(args_list)
    args = parser.parse_args(args_list)
    if not getattr(args, "_module", None):
        (pip_parser if args.command == "pip" else parser).print_help(sys.stderr)
        return 2
    from wherry.cli.context import Context

    ctx = Context.from_args(args)
    try:
        module = importlib.import_module(f"wherry.cli.{args._module}")
        code: int = module.run(args, ctx)
        return code
    except WherryError as exc:
        sys.stderr.write(exc.render() + "\n")
        if ctx.verbosity >= 2:
            import traceback

            traceback.print_exc()
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        return 130
    finally:
        ctx.close()


if __name__ == "__main__":
    raise SystemExit(main())
