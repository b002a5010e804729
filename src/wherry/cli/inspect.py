"""`wherry pip list` and `wherry pip freeze`."""

from __future__ import annotations

import argparse

TYPE_CHECKING = False  # not `from typing import ...`: importing typing costs ~3 ms


if TYPE_CHECKING:
    from wherry.cli.context import Context


EXAMPLES = {
    "list": "examples:\n  wherry pip list\n  wherry pip list --format json\n",
    "freeze": "examples:\n  wherry pip freeze > requirements.txt\n",
}


def register(name: str, parser: argparse.ArgumentParser) -> None:
    parser.epilog = EXAMPLES[name]
    if name == "list":
        parser.add_argument("--format", choices=["columns", "freeze", "json"],
                            default="columns", help="output format (default: columns)")
    parser.add_argument("-p", "--python", metavar="PYTHON",
                        help="the interpreter or environment to inspect")
    parser.add_argument("--system", action="store_true",
                        help="inspect the first Python found on PATH")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from wherry.commands.inspect import columns_lines, freeze_lines, installed_distributions

    dists = installed_distributions(args.python, ctx.cache, system=args.system)
    fmt = "freeze" if args._command == "freeze" else args.format
    if fmt == "json":
        import json

        ctx.printer.result(json.dumps(
            [{"name": d.canonical_name, "version": d.version} for d in dists]
        ))
        return 0
    lines = freeze_lines(dists) if fmt == "freeze" else columns_lines(dists)
    for line in lines:
        ctx.printer.result(line)
    return 0
