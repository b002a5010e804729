"""`wherry venv [PATH]`: the parser and the lines uv prints; the work is in commands.venv.

Kept thin and cheap to import, since every wherry invocation builds this parser: the
implementation is imported only when the command runs.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

TYPE_CHECKING = False  # not `from typing import ...`: importing typing costs ~3 ms


if TYPE_CHECKING:
    from wherry.cli.context import Context



def register(name: str, parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "path",
        nargs="?",
        default=None,
        metavar="PATH",
        help="where to create the environment (default: .venv)",
    )
    parser.add_argument(
        "-p",
        "--python",
        metavar="PYTHON",
        default=None,
        help="the interpreter to use: a version (3.12, python3.12), a range (>=3.10), or a "
        "path to an interpreter or an environment (default: the first Python on PATH)",
    )
    parser.add_argument(
        "--seed",
        action="store_true",
        help="install pip into the environment (and setuptools and wheel below Python 3.12)",
    )
    existing = parser.add_mutually_exclusive_group()
    existing.add_argument(
        "--clear",
        action="store_true",
        help="remove everything at PATH first, even if it is not a virtual environment",
    )
    existing.add_argument(
        "--allow-existing",
        action="store_true",
        help="keep what is at PATH and write the environment over it",
    )
    parser.add_argument(
        "--prompt",
        metavar="PROMPT",
        default=None,
        help="the prompt prefix shown when the environment is active "
        "(`.` for the current directory's name; default: the environment's directory name)",
    )
    parser.add_argument(
        "--system-site-packages",
        action="store_true",
        help="give the environment access to the base interpreter's site-packages",
    )


def run(args: argparse.Namespace, ctx: Context) -> int:
    from wherry.commands import venv as command

    cwd = Path.cwd()
    request = command.VenvRequest(
        path=args.path or command.DEFAULT_PATH,
        python=args.python,
        seed=args.seed,
        clear=args.clear,
        allow_existing=args.allow_existing,
        prompt=args.prompt,
        system_site_packages=args.system_site_packages,
    )
    plan = command.prepare_venv(request, ctx.cache, cwd=cwd)
    executable = command.display_path(Path(plan.interpreter.executable), cwd)
    ctx.printer.summary(f"Using {plan.interpreter_label} interpreter at: {executable}")
    shown = command.display_path(plan.root, cwd)
    seed = "with seed packages " if request.seed else ""
    ctx.printer.summary(f"Creating virtual environment {seed}at: {shown}")
    report = command.create_venv(plan, ctx.cache, ctx.printer)
    activate = command.activation_command(report.layout, shown, command.detect_shell(os.environ))
    if activate:
        ctx.printer.summary(f"Activate with: {activate}")
    return 0
