"""`wherry config`: the effective settings, each with where it came from."""

from __future__ import annotations

import argparse

TYPE_CHECKING = False  # not `from typing import ...`: importing typing costs ~3 ms

if TYPE_CHECKING:
    from wherry.cli.context import Context

EXAMPLES = """\
examples:
  wherry config                          # every setting and its source
  wherry config --no-config              # what applies without any config file
  WHERRY_OFFLINE=1 wherry config         # check what a variable changes

Each line is `key = value  # source`, where the source is `command line`, a WHERRY_*
or PIP_* variable, or `FILE:LINE` of a config file. The keys are those of wherry.toml
and [tool.wherry]; unset keys show their default.
"""


def register(name: str, parser: argparse.ArgumentParser) -> None:
    from wherry.config import OPTIONS

    parser.epilog = EXAMPLES + "\nkeys (environment variable, pip key):\n" + "\n".join(
        f"  {o.key:<24} {o.help} ({', '.join(_names(o)) or 'config files only'})"
        for o in OPTIONS
    ) + "\n"
    parser.add_argument("--show-files", action="store_true",
                        help="also list the config files considered and whether they exist")


def _names(option: object) -> list[str]:
    from wherry.config import Option

    assert isinstance(option, Option)
    names = [option.env] if option.env else []
    names += [f"pip `{key}`" for key in option.pip[:1]]
    return names


def run(args: argparse.Namespace, ctx: Context) -> int:
    from wherry.config import current
    from wherry.config_report import report_lines

    for line in report_lines(current(), show_files=args.show_files):
        ctx.printer.result(line)
    return 0
