"""`wherry pip sync`: parse flags, make the environment match the files, exit 0 or an error."""

from __future__ import annotations

import argparse
from pathlib import Path

from wherry.cli.install import add_reinstall_options
from wherry.cli.options import (
    add_build_options,
    add_index_options,
    add_installer_options,
    add_python_options,
    add_target_options,
    build_flags,
    installer_options,
    source_options,
)

TYPE_CHECKING = False

if TYPE_CHECKING:
    from wherry.cli.context import Context

EXAMPLES = """\
examples:
  wherry pip sync requirements.txt
  wherry pip sync requirements.txt --python .venv --dry-run
  wherry pip sync requirements.txt --reinstall-package six

The files are taken as complete (each requirement is installed without its dependencies,
as in a lock file); every installed package they do not list is removed.
"""


def register(name: str, parser: argparse.ArgumentParser) -> None:
    parser.epilog = EXAMPLES
    parser.add_argument("src_file", nargs="+", metavar="FILE", type=Path,
                        help="requirements files listing the exact set to install")
    parser.add_argument("-c", "--constraint", action="append", default=[], metavar="FILE",
                        type=Path, help="constrain versions with a constraints file")
    parser.add_argument("--dry-run", action="store_true",
                        help="resolve and print what would change, but change nothing")
    parser.add_argument("--allow-empty-requirements", action="store_true",
                        help="accept files without requirements (this removes every package)")
    add_reinstall_options(parser)
    parser.add_argument("--link-mode", choices=["clone", "hardlink", "copy", "symlink"],
                        help="how files get from the cache into the environment")
    add_target_options(parser)
    add_python_options(parser)
    add_index_options(parser)
    add_build_options(parser, editable=False)
    add_installer_options(parser)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from wherry.commands.sync import SyncOptions, sync

    options = SyncOptions(
        requirement_files=list(args.src_file),
        constraint_files=list(args.constraint),
        dry_run=args.dry_run,
        reinstall=args.reinstall,
        reinstall_packages=list(args.reinstall_package),
        link_mode=args.link_mode,
        python_platform=args.python_platform,
        python_version=args.python_version,
        allow_empty_requirements=args.allow_empty_requirements,
        **source_options(args),
        **installer_options(args),
        **build_flags(args),
    )
    sync(options, ctx.cache, ctx.printer)
    return 0
