"""`wherry cache dir|clean|size`: where the cache is, emptying it, how big it is."""

from __future__ import annotations

import argparse

from wherry.cli.options import add_global_options

TYPE_CHECKING = False  # not `from typing import ...`: importing typing costs ~3 ms

if TYPE_CHECKING:
    from wherry.cli.context import Context


def register(name: str, parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="cache_command", metavar="COMMAND", title="commands")
    directory = sub.add_parser("dir", help="Print the cache directory")
    clean = sub.add_parser("clean", help="Remove all cache entries")
    clean.add_argument("packages", nargs="*", metavar="PACKAGE")
    size = sub.add_parser("size", help="Print the cache size in bytes")
    for command in (directory, clean, size):
        add_global_options(command)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from wherry.commands.cache import cache_clean, cache_size

    command = args.cache_command
    if command == "dir" or command is None:
        ctx.printer.result(str(ctx.cache.root))
        return 0
    if command == "clean":
        removed = cache_clean(ctx.cache)
        ctx.printer.summary(f"Removed {removed} files from {ctx.cache.root}")
        return 0
    if command == "size":
        ctx.printer.result(str(cache_size(ctx.cache)))
        return 0
    return 2
