"""`wherry pip list` and `wherry pip freeze` (`show`, `tree` and `check` have their own
modules, so this one stays small on the benchmarked `list` path)."""

from __future__ import annotations

import argparse

TYPE_CHECKING = False  # not `from typing import ...`: importing typing costs ~3 ms


if TYPE_CHECKING:
    from wherry.cli.context import Context


EXAMPLES = {
    "list": "examples:\n  wherry pip list\n  wherry pip list --format json\n"
            "  wherry pip list --outdated\n  wherry pip list --editable\n",
    "freeze": "examples:\n  wherry pip freeze > requirements.txt\n"
              "  wherry pip freeze --exclude-editable\n",
}


def register(name: str, parser: argparse.ArgumentParser) -> None:
    parser.epilog = EXAMPLES[name]
    if name == "list":
        parser.add_argument("--format", choices=["columns", "freeze", "json"],
                            default="columns", help="output format (default: columns)")
        parser.add_argument("-e", "--editable", action="store_true",
                            help="list only editable installs")
        parser.add_argument("--outdated", action="store_true",
                            help="list only packages with a newer version on the index, with "
                            "that version and its file type")
    parser.add_argument("--exclude-editable", action="store_true",
                        help="leave editable installs out")
    add_inspect_options(parser)
    if name == "list":
        from wherry.cli.options import add_index_options

        add_index_options(parser)


def add_inspect_options(parser: argparse.ArgumentParser) -> None:
    """`--python` and `--system` for the commands that only read an environment."""
    parser.add_argument("-p", "--python", metavar="PYTHON",
                        help="the interpreter or environment to inspect")
    parser.add_argument("--system", action="store_true",
                        help="inspect the first Python found on PATH")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from wherry.commands.inspect import (
        columns_lines,
        environment_distributions,
        filter_editable,
        freeze_lines,
        sorted_distributions,
    )
    from wherry.errors import UsageError

    fmt = "freeze" if args._command == "freeze" else args.format
    outdated = bool(getattr(args, "outdated", False))
    editable = bool(getattr(args, "editable", False))
    if editable and args.exclude_editable:
        raise UsageError("`--editable` and `--exclude-editable` cannot be used together")
    if outdated and fmt == "freeze":
        raise UsageError("`--outdated` cannot be used with `--format freeze`",
                         hint="use `--format columns` or `--format json`")
    env, found = environment_distributions(args.python, ctx.cache, system=args.system)
    dists = filter_editable(sorted_distributions(found), editable=editable,
                            exclude_editable=args.exclude_editable)
    if ctx.replay is not None and not outdated:
        from wherry.commands.inspect import listing_inputs

        ctx.replay.environment(env.executable, env.raw)
        ctx.replay.depend_on(listing_inputs(env, found))
    if outdated:
        from wherry.commands.outdated import outdated_lines

        for line in outdated_lines(args, ctx.cache, env, dists, fmt):
            ctx.printer.result(line)
        return 0
    if fmt == "json":
        import json

        from wherry.commands.inspect import editable_location

        entries: list[dict[str, str]] = []
        for d in dists:
            entry = {"name": d.canonical_name, "version": d.version}
            location = editable_location(d)
            if location:
                entry["editable_project_location"] = location
            entries.append(entry)
        ctx.printer.result(json.dumps(entries))
        return 0
    lines = freeze_lines(dists) if fmt == "freeze" else columns_lines(dists)
    for line in lines:
        ctx.printer.result(line)
    return 0
