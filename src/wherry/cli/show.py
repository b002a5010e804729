"""`wherry pip show`: describe installed packages."""

from __future__ import annotations

import argparse

from wherry.cli.inspect import add_inspect_options

TYPE_CHECKING = False  # not `from typing import ...`: importing typing costs ~3 ms

if TYPE_CHECKING:
    from wherry.cli.context import Context

EXAMPLES = """\
examples:
  wherry pip show requests
  wherry pip show --files requests urllib3
"""


def register(name: str, parser: argparse.ArgumentParser) -> None:
    parser.epilog = EXAMPLES
    parser.add_argument("packages", nargs="+", metavar="PACKAGE",
                        help="the installed packages to describe")
    parser.add_argument("-f", "--files", action="store_true",
                        help="also list the files each package installed")
    add_inspect_options(parser)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from wherry.commands.inspect import environment_distributions
    from wherry.commands.show import show

    env, found = environment_distributions(args.python, ctx.cache, system=args.system)
    blocks, missing = show(found, env.markers, list(args.packages), files=args.files)
    if missing:
        ctx.printer.warn(f"Package(s) not found: {', '.join(missing)}")
    for index, block in enumerate(blocks):
        if index:
            ctx.printer.result("---")
        for line in block:
            ctx.printer.result(line)
    return 0 if blocks else 1
