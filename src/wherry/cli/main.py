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

TYPE_CHECKING = False  # not `from typing import ...`: importing typing costs ~3 ms

if TYPE_CHECKING:
    from wherry.cli.context import Context
    from wherry.config import Config

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


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32)


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
    parser = argparse.ArgumentParser(
        prog="wherry", description=DESCRIPTION, epilog=EPILOG, formatter_class=_Formatter,
    )
    parser.add_argument("-V", "--version", action="version", version=f"wherry {__version__}")
    # Commands first, then the option groups, as in uv's help.
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    add_global_options(parser)
    pip = commands.add_parser(
        "pip", help="Manage Python packages with a pip-compatible interface",
        description="Manage Python packages with a pip-compatible interface.",
        epilog=PIP_EPILOG, formatter_class=_Formatter,
    )
    pip_commands = pip.add_subparsers(dest="pip_command", metavar="COMMAND", title="commands")
    for name, module, help_text in PIP_COMMANDS:
        sub = pip_commands.add_parser(
            name, help=help_text, description=help_text + ".", formatter_class=_Formatter
        )
        sub.set_defaults(_module=module, _command=name)
        if selected is None or selected == ("pip", name):
            _register(module, name, sub)
            # Only the chosen command parses; the others need no options (saves ~1 ms).
            add_global_options(sub)
    for name, module, help_text in TOP_COMMANDS:
        sub = commands.add_parser(
            name, help=help_text, description=help_text + ".", formatter_class=_Formatter
        )
        sub.set_defaults(_module=module, _command=name)
        if selected is None or selected == (name,):
            _register(module, name, sub)
            # Only the chosen command parses; the others need no options (saves ~1 ms).
            add_global_options(sub)
    _compact_usage(parser)
    return parser, pip


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


def main(argv: Sequence[str] | None = None) -> int:
    args_list = sys.argv[1:] if argv is None else list(argv)
    if args_list in (["--version"], ["-V"]):
        # Answered before argparse and the command modules are even imported.
        sys.stdout.write(f"wherry {__version__}\n")
        return 0
    ctx: Context | None = None
    try:
        parser, pip_parser = build_parser(args_list)
        from wherry.config import Config, activate

        # Environment variables and config files become argparse defaults, so the
        # command line wins and every command sees one merged namespace.
        config = Config.from_argv(args_list)
        if not {"-h", "--help"} & set(args_list):  # help works even with a broken file
            config.apply(parser)
        args = parser.parse_args(args_list)
        config.fill(args, parser)
        config.export()
        activate(config)
        if not getattr(args, "_module", None):
            (pip_parser if args.command == "pip" else parser).print_help(sys.stderr)
            return 2
        from wherry.cli.context import Context

        ctx = Context.from_args(args)
        module = importlib.import_module(f"wherry.cli.{args._module}")
        code: int = module.run(args, ctx)
        if code == 0:
            _after_run(ctx, config)
        return code
    except WherryError as exc:
        sys.stderr.write(exc.render(color=_stderr_color(ctx)) + "\n")
        if _tracebacks(ctx):
            import traceback

            traceback.print_exc()
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        return 130
    except BrokenPipeError:
        # `wherry pip list | head`: the reader left; say nothing more.
        _silence_stdout()
        return 1
    except Exception as exc:  # a bug: one paragraph, the traceback only at -vv
        from wherry.errors import WherryError as _Error

        error = _Error(
            f"internal error: wherry failed unexpectedly ({type(exc).__name__}: {exc})",
            hint="this is a bug in wherry; rerun with -vv to see the traceback, and "
            "report it with that output",
        )
        sys.stderr.write(error.render(color=_stderr_color(ctx)) + "\n")
        if _tracebacks(ctx):
            import traceback

            traceback.print_exc()
        return 1
    finally:
        if ctx is not None:
            ctx.close()
        from wherry.config import activate as _activate

        _activate(None)  # main() may be called again in-process (tests, embedding)


def _after_run(ctx: Context, config: Config) -> None:
    """End-of-run upkeep: keep the cache under `cache-max-size`, if one is set."""
    limit = config.value("cache-max-size")
    if not isinstance(limit, int) or ctx.no_cache or not ctx.cache_opened:
        return
    from wherry.commands.cache import enforce_max_size

    try:
        enforce_max_size(ctx.cache, limit, ctx.printer)
    except OSError as exc:  # the command succeeded; tidying up must not turn it into a failure
        ctx.printer.warn(f"could not prune the cache at {ctx.cache.root} to its size bound: "
                         f"{exc.strerror or exc}")


def _stderr_color(ctx: Context | None) -> bool:
    if ctx is not None:
        return ctx.printer.color
    from wherry.output import wants_color

    return wants_color(sys.stderr)


def _tracebacks(ctx: Context | None) -> bool:
    from wherry.output import TRACE, log

    return (ctx is not None and ctx.verbosity >= 2) or log.isEnabledFor(TRACE)


def _silence_stdout() -> None:
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    raise SystemExit(main())
