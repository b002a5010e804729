"""`wherry pip check`: report broken or conflicting dependencies of installed packages."""

from __future__ import annotations

import argparse

from wherry.cli.inspect import add_inspect_options

TYPE_CHECKING = False  # not `from typing import ...`: importing typing costs ~3 ms

if TYPE_CHECKING:
    from wherry.cli.context import Context

EXAMPLES = """\
examples:
  wherry pip check
  wherry pip check --python .venv
"""


def register(name: str, parser: argparse.ArgumentParser) -> None:
    parser.epilog = EXAMPLES
    add_inspect_options(parser)


def run(args: argparse.Namespace, ctx: Context) -> int:
    import time

    from wherry.commands.check import check_environment
    from wherry.commands.inspect import environment_distributions
    from wherry.output import timed

    start = time.perf_counter()
    env, found = environment_distributions(args.python, ctx.cache, system=args.system)
    problems = check_environment(found, env.markers, env.full_version)
    count = sum(len(dists) for dists in found.values())
    ctx.printer.summary(timed("Checked", count, start))
    if not problems:
        ctx.printer.summary("All installed packages are compatible")
        return 0
    ctx.printer.summary(
        f"Found {len(problems)} incompatibilit{'y' if len(problems) == 1 else 'ies'}"
    )
    for line in problems:
        ctx.printer.result(line)
    return 1
