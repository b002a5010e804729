"""`wherry pip uninstall`: remove installed packages."""

from __future__ import annotations

import argparse
from pathlib import Path

from wherry.cli.options import add_python_options

TYPE_CHECKING = False  # not `from typing import ...`: importing typing costs ~3 ms

if TYPE_CHECKING:
    from wherry.cli.context import Context

EXAMPLES = """\
examples:
  wherry pip uninstall requests
  wherry pip uninstall -r requirements.txt
  wherry pip uninstall --dry-run requests
"""


def register(name: str, parser: argparse.ArgumentParser) -> None:
    parser.epilog = EXAMPLES
    parser.add_argument("packages", nargs="*", metavar="PACKAGE", help="packages to remove")
    parser.add_argument("-r", "--requirement", action="append", default=[], metavar="FILE",
                        type=Path, help="uninstall the packages named in a requirements file")
    parser.add_argument("--dry-run", action="store_true",
                        help="print what would be removed, but remove nothing")
    parser.add_argument("--force", action="store_true",
                        help="also remove packages wherry itself needs, when uninstalling "
                        "from the environment wherry runs from")
    add_python_options(parser)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from wherry.commands.uninstall import uninstall

    uninstall(
        list(args.packages),
        list(args.requirement),
        python=args.python,
        system=args.system,
        break_system_packages=args.break_system_packages,
        dry_run=args.dry_run,
        force=args.force,
        cache=ctx.cache,
        printer=ctx.printer,
    )
    return 0
