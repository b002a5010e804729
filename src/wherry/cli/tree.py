"""`wherry pip tree`: the dependency tree of an environment's packages."""

from __future__ import annotations

import argparse

from wherry.cli.inspect import add_inspect_options

TYPE_CHECKING = False  # not `from typing import ...`: importing typing costs ~3 ms

if TYPE_CHECKING:
    from wherry.cli.context import Context

EXAMPLES = """\
examples:
  wherry pip tree
  wherry pip tree --package requests --depth 1
  wherry pip tree --invert --package urllib3
"""


def register(name: str, parser: argparse.ArgumentParser) -> None:
    parser.epilog = EXAMPLES
    parser.add_argument("-d", "--depth", type=int, default=255, metavar="N",
                        help="show dependencies N levels deep (0: only the roots)")
    parser.add_argument("--invert", "--reverse", action="store_true",
                        help="show what depends on each package instead")
    parser.add_argument("--package", action="append", default=[], metavar="PACKAGE",
                        help="show the tree of this package only (repeatable)")
    parser.add_argument("--prune", action="append", default=[], metavar="PACKAGE",
                        help="leave this package and its edges out (repeatable)")
    parser.add_argument("--show-version-specifiers", action="store_true",
                        help="show the version range each dependency is required with")
    add_inspect_options(parser)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from wherry.commands.inspect import environment_distributions
    from wherry.commands.tree import TreeOptions, tree_lines
    from wherry.install.site import canonicalize_name

    if args.depth < 0:
        from wherry.errors import UsageError

        raise UsageError("`--depth` must be 0 or more")
    env, found = environment_distributions(args.python, ctx.cache, system=args.system)
    for name in args.package:
        if canonicalize_name(name) not in found:
            ctx.printer.warn(f"Package not found: {name}")
    options = TreeOptions(depth=args.depth, invert=args.invert, packages=args.package,
                          prune=args.prune, show_version_specifiers=args.show_version_specifiers)
    for line in tree_lines(found, env.markers, options):
        ctx.printer.result(line)
    return 0
