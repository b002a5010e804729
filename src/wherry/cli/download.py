"""`wherry pip download`: resolve and save distributions for offline or cross-platform use."""

from __future__ import annotations

import argparse
from pathlib import Path

from wherry.cli.options import (
    add_build_options,
    add_index_options,
    add_resolver_options,
    add_target_options,
    build_flags,
    network_settings,
    resolver_options,
)

TYPE_CHECKING = False  # not `from typing import ...`: importing typing costs ~3 ms

if TYPE_CHECKING:
    from wherry.cli.context import Context

EXAMPLES = """\
examples:
  wherry pip download -r requirements.txt -d wheels/
  wherry pip download numpy -d wheels/ --python-platform x86_64-manylinux_2_28 \\
      --python-version 3.12 --only-binary :all:
  wherry pip install --no-index --find-links wheels/ -r requirements.txt   # offline
"""


def register(name: str, parser: argparse.ArgumentParser) -> None:
    parser.epilog = EXAMPLES
    parser.add_argument("packages", nargs="*", metavar="PACKAGE",
                        help="requirements to download (PEP 508)")
    parser.add_argument("-r", "--requirement", action="append", default=[], metavar="FILE",
                        type=Path, help="download from a requirements file (repeatable)")
    parser.add_argument("-c", "--constraint", action="append", default=[], metavar="FILE",
                        type=Path, help="constrain versions with a constraints file")
    parser.add_argument("-d", "--dest", "--destination-directory", metavar="DIR", type=Path,
                        default=Path("."),
                        help="where to save the files (default: the current directory)")
    parser.add_argument("--no-deps", action="store_true",
                        help="download only the named packages, not their dependencies")
    add_target_options(parser, "download")
    add_build_options(parser, editable=False)
    add_resolver_options(parser)
    group = parser.add_argument_group("python options")
    group.add_argument("-p", "--python", metavar="PYTHON",
                       help="the interpreter whose platform and version to download for "
                       "(default: the active or nearby environment, else the first Python "
                       "on PATH); --python-platform and --python-version override it")
    add_index_options(parser)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from wherry.commands.download import download
    from wherry.commands.install import InstallOptions

    options = InstallOptions(
        requirements=list(args.packages),
        requirement_files=list(args.requirement),
        constraint_files=list(args.constraint),
        no_deps=args.no_deps,
        python=args.python,
        python_platform=args.python_platform,
        python_version=args.python_version,
        index_url=args.index_url,
        extra_index_urls=list(args.extra_index_url),
        find_links=list(args.find_links),
        no_index=args.no_index,
        index_strategy=args.index_strategy,
        network=network_settings(args),
        **resolver_options(args),
        **build_flags(args),
    )
    download(options, args.dest, ctx.cache, ctx.printer)
    return 0
