"""The `wherry` command: lazy dispatch, and the one place errors become exit codes.

Each command lives in its own module under `wherry.cli` with two functions:
`register(subparsers)` adds its parser, and `run(args, ctx)` carries it out. The parser
(`parser.py`) is built only after the `--version` shortcut, and a command's
*implementation* is imported only when it runs, so `wherry --version` and the no-op
install import nothing heavy.
"""

from __future__ import annotations

import importlib
import sys

from wherry import __version__
from wherry.errors import WherryError

TYPE_CHECKING = False  # not `from typing import ...`: importing typing costs ~3 ms

if TYPE_CHECKING:
    from collections.abc import Sequence

    from wherry.cli.context import Context
    from wherry.cli.replay import Recorder
    from wherry.config import Config


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command. `argv` None means this process *is* the command (the console
    script, `python -m wherry`), which changes two things about the interpreter:

    - The cyclic garbage collector is off. A resolution allocates hundreds of thousands
      of small objects (page rows, versions, candidates) and almost no reference
      cycles, so the collector's passes over an ever larger heap free nothing. Measured
      on the 110-package cold resolve: 1.22 s of CPU with it, 1.03 s without, peak
      memory 201 MB either way.
    - Interpreter teardown is skipped (`_exit_after_cleanup`): worker threads are still
      joined and every `atexit` cleanup still runs, but freeing that heap object by
      object at exit cost another 0.15 s.

    A caller embedding wherry (`main([...])`) keeps its own interpreter settings."""
    if argv is not None:
        return _main(list(argv))
    import gc

    gc.disable()
    exit_code = _exit_after_cleanup()
    code = _main(sys.argv[1:])
    exit_code.append(code)
    return code


def _exit_after_cleanup() -> list[int]:
    """Arrange for the process to end right after the last `atexit` cleanup, with the
    code appended to the returned list (left empty: a normal shutdown).

    Registered before anything else in the run registers a cleanup, so, callbacks
    running last-in first-out, it runs after all of them (the temporary cache of
    `--no-cache` removed, worker pools shut down) and after the interpreter has joined
    its non-daemon threads; what it skips is only the teardown of modules and objects."""
    import atexit

    holder: list[int] = []

    def finish() -> None:
        if not holder:
            return
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except (OSError, ValueError):
            return  # let the normal shutdown deal with the streams
        import os

        os._exit(holder[0])

    atexit.register(finish)
    return holder


def _main(args_list: list[str]) -> int:
    if args_list in (["--version"], ["-V"]):
        # Answered before argparse and the command modules are even imported.
        sys.stdout.write(f"wherry {__version__}\n")
        return 0
    ctx: Context | None = None
    recorder: Recorder | None = None
    try:
        if args_list[:1] == ["pip"]:
            from wherry.cli import replay

            if replay.command_of(args_list) is not None:
                # A repeated `pip list`/`freeze`/no-op `install`: answered from its
                # recorded run when nothing it depends on changed (cli/replay.py).
                replayed = replay.try_replay(args_list)
                if replayed is not None:
                    return replayed
                recorder = replay.Recorder(args_list)
        from wherry.cli.parser import build_parser

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
        if recorder is not None:
            ctx.replay = recorder
            ctx.printer.recorder = recorder
            recorder.quiet, recorder.color = ctx.quiet, ctx.printer.color
        module = importlib.import_module(f"wherry.cli.{args._module}")
        code: int = module.run(args, ctx)
        if code == 0:
            if recorder is not None and ctx.cache_opened and not ctx.no_cache:
                recorder.commit(str(ctx.cache.root), config.input_files())
            _after_run(ctx, config)  # after the commit: the size bound counts the entry
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
        if "wherry.config" in sys.modules:  # (not imported when a replay answered)
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
