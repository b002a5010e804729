"""`wherry pip compile`: parse flags, resolve the inputs, print/write the pinned output."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from wherry.cli.options import (
    add_build_options,
    add_index_options,
    add_python_options,
    add_resolver_options,
    add_target_options,
    build_flags,
    resolver_options,
    source_options,
)

TYPE_CHECKING = False

if TYPE_CHECKING:
    from wherry.cli.context import Context

EXAMPLES = """\
examples:
  wherry pip compile requirements.in -o requirements.txt
  wherry pip compile pyproject.toml --extra dev --generate-hashes
  wherry pip compile requirements.in -o requirements.txt -P urllib3   # bump one pin
  wherry pip compile requirements.in --python-version 3.10 --python-platform windows
  wherry pip compile requirements.in --format pylock.toml -o pylock.toml

Pins already in the -o file are kept when the inputs allow them; -U/-P release them.
"""


def register(name: str, parser: argparse.ArgumentParser) -> None:
    parser.epilog = EXAMPLES
    parser.add_argument("src_files", nargs="+", metavar="SRC_FILE", type=Path,
                        help="requirements.in-style files or pyproject.toml files to compile")
    parser.add_argument("-o", "--output-file", type=Path, metavar="FILE",
                        help="write the pinned requirements to FILE as well as to stdout; "
                        "its existing pins are preferred")
    parser.add_argument("-c", "--constraint", action="append", default=[], metavar="FILE",
                        type=Path, help="constrain versions with a constraints file")
    parser.add_argument("--no-deps", action="store_true",
                        help="pin only the named requirements, not their dependencies")
    parser.add_argument("-U", "--upgrade", action="store_true",
                        help="ignore the pins of the existing output file")
    parser.add_argument("-P", "--upgrade-package", action="append", default=[],
                        metavar="PACKAGE",
                        help="ignore the existing pin of this package (repeatable)")
    output = parser.add_argument_group("output options")
    output.add_argument("--format", dest="output_format",
                        choices=["requirements.txt", "pylock.toml"],
                        help="the output format (default: from the -o file name, else "
                        "requirements.txt)")
    output.add_argument("--generate-hashes", action="store_true",
                        help="add `--hash` lines for every file of each pinned version")
    output.add_argument("--no-header", dest="header", action="store_false",
                        help="leave out the header comment")
    output.add_argument("--no-annotate", dest="annotate", action="store_false",
                        help="leave out the `# via` comments")
    output.add_argument("--annotation-style", choices=["split", "line"], default="split",
                        help="`# via` comments on lines of their own (split, default) or "
                        "after each pin (line)")
    output.add_argument("--no-strip-extras", dest="strip_extras", action="store_false",
                        help="keep the extras of each package in the output (`black[d]`)")
    output.add_argument("--strip-extras", dest="strip_extras", action="store_true",
                        default=True, help="leave extras out of the output (default)")
    output.add_argument("--emit-index-url", action="store_true",
                        help="write the index URLs (without credentials) into the output")
    output.add_argument("--emit-find-links", action="store_true",
                        help="write the --find-links locations into the output")
    parser.add_argument("--universal", action="store_true",
                        help="one resolution for every platform and every Python from "
                        "--python-version (default: the interpreter's) up, with markers on "
                        "the pins that only some environments need")
    add_target_options(parser)
    add_resolver_options(parser)
    add_build_options(parser, editable=False)
    add_python_options(parser)
    add_index_options(parser)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from wherry.commands.compile import CompileOptions, run_compile
    from wherry.resolve.compile_output import header_command

    argv = getattr(args, "_argv", None) or sys.argv[1:]
    options = CompileOptions(
        src_files=list(args.src_files),
        output_file=args.output_file,
        generate_hashes=args.generate_hashes,
        header=args.header,
        annotate=args.annotate,
        annotation_style=args.annotation_style,
        strip_extras=args.strip_extras,
        emit_index_url=args.emit_index_url,
        emit_find_links=args.emit_find_links,
        output_format=args.output_format,
        command=header_command(argv),
        universal=args.universal,
        constraint_files=list(args.constraint),
        no_deps=args.no_deps,
        upgrade=args.upgrade,
        upgrade_packages=list(args.upgrade_package),
        python_platform=args.python_platform,
        python_version=args.python_version,
        **source_options(args),
        **resolver_options(args),
        **build_flags(args),
    )
    return run_compile(options, ctx.cache, ctx.printer)
