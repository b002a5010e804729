"""`wherry cache dir|clean|prune|size`: where the cache is, emptying it, tidying it, its size."""

from __future__ import annotations

import argparse

from wherry.cli.options import add_global_options
from wherry.cli.parser import Formatter

TYPE_CHECKING = False  # not `from typing import ...`: importing typing costs ~3 ms

if TYPE_CHECKING:
    from wherry.cli.context import Context

EXAMPLES = """\
examples:
  wherry cache dir                   # where the cache is
  wherry cache clean numpy           # forget everything about numpy
  wherry cache prune --ci            # before saving a CI cache: keep only built wheels
  wherry cache size --human          # 1.2GiB
"""


def register(name: str, parser: argparse.ArgumentParser) -> None:
    parser.epilog = EXAMPLES
    sub = parser.add_subparsers(dest="cache_command", metavar="COMMAND", title="commands")
    commands = {
        "dir": ("Print the cache directory", "wherry cache dir"),
        "clean": ("Remove all cache entries, or those of the named packages",
                  "wherry cache clean\n  wherry cache clean numpy requests"),
        "prune": ("Remove unused entries and buckets of other wherry versions",
                  "wherry cache prune\n  wherry cache prune --ci"),
        "size": ("Print the cache size", "wherry cache size\n  wherry cache size --human"),
    }
    parsers = {}
    for command, (help_text, example) in commands.items():
        parsers[command] = sub.add_parser(
            command, help=help_text, description=help_text + ".",
            epilog=f"examples:\n  {example}\n",
            formatter_class=Formatter,
        )
    parsers["clean"].add_argument(
        "packages", nargs="*", metavar="PACKAGE",
        help="remove only the entries of these packages (simple pages, metadata, unpacked "
        "and built wheels); all entries when none is named")
    parsers["prune"].add_argument(
        "--ci", action="store_true",
        help="also remove what can be downloaded again (unpacked pre-built wheels, "
        "sdists), keeping wheels built from source: for caches saved between CI runs")
    for command in ("clean", "prune"):
        parsers[command].add_argument(
            "--force", action="store_true",
            help="do not wait for other wherry processes using the cache (an install "
            "running meanwhile may fail)")
    parsers["size"].add_argument(
        "-H", "--human", "--human-readable", action="store_true",
        help="print the size with a unit (KiB, MiB, GiB) instead of bytes")
    for sub_parser in parsers.values():
        add_global_options(sub_parser)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from wherry.commands.cache import cache_clean, cache_prune, cache_size, human_size

    command = args.cache_command
    cache = ctx.cache
    if command == "dir" or command is None:
        ctx.printer.result(str(cache.root))
        return 0
    if command == "clean":
        removed = cache_clean(cache, args.packages, printer=ctx.printer, force=args.force)
        ctx.printer.summary(removed.summary() + ("" if args.packages else f" from {cache.root}"))
        return 0
    if command == "prune":
        removed = cache_prune(cache, ci=args.ci, printer=ctx.printer, force=args.force)
        ctx.printer.summary("No unused entries found" if not removed.files
                            else f"{removed.summary()} (pruned {cache.root})")
        return 0
    if command == "size":
        size = cache_size(cache)
        ctx.printer.result(human_size(size) if args.human else str(size))
        return 0
    return 2
