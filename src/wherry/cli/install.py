"""`wherry pip install`: parse flags, run the use case, exit 0 or with an error."""

from __future__ import annotations

import argparse
from pathlib import Path

from wherry.cli.options import (
    add_build_options,
    add_index_options,
    add_installer_options,
    add_python_options,
    add_resolver_options,
    add_target_options,
    build_flags,
    installer_options,
    resolver_options,
    source_options,
)

TYPE_CHECKING = False  # not `from typing import ...`: importing typing costs ~3 ms

if TYPE_CHECKING:
    from typing import Any

    from wherry.cli.context import Context
    from wherry.commands.stored_resolution import StoredResolution
    from wherry.index.sources import IndexSources
    from wherry.settings import IndexSettings

EXAMPLES = """\
examples:
  wherry pip install requests
  wherry pip install -r requirements.txt --python .venv
  wherry pip install 'flask>=3' --index-url http://127.0.0.1:8080/simple
  wherry pip install -r requirements.txt -P urllib3     # upgrade urllib3 only
  wherry pip install --reinstall-package numpy numpy    # repair a broken install
"""


def register(name: str, parser: argparse.ArgumentParser) -> None:
    parser.epilog = EXAMPLES
    parser.add_argument("packages", nargs="*", metavar="PACKAGE",
                        help="requirements to install (PEP 508)")
    parser.add_argument("-r", "--requirement", action="append", default=[], metavar="FILE",
                        type=Path, help="install from a requirements file (repeatable)")
    parser.add_argument("-c", "--constraint", action="append", default=[], metavar="FILE",
                        type=Path, help="constrain versions with a constraints file")
    parser.add_argument("--no-deps", action="store_true",
                        help="install only the named packages, not their dependencies")
    parser.add_argument("--dry-run", action="store_true",
                        help="resolve and print what would change, but change nothing")
    parser.add_argument("-U", "--upgrade", action="store_true",
                        help="allow upgrades of installed packages to the newest versions")
    parser.add_argument("-P", "--upgrade-package", action="append", default=[],
                        metavar="PACKAGE",
                        help="allow upgrading this package only; other installed packages "
                        "keep their versions when they can (repeatable)")
    add_reinstall_options(parser)
    parser.add_argument("--link-mode", choices=["clone", "hardlink", "copy", "symlink"],
                        help="how files get from the cache into the environment (default: "
                        "$WHERRY_LINK_MODE, else clone, falling back to hardlink, then "
                        "copy); symlink points into the cache, so `wherry cache clean` "
                        "breaks such an environment")
    add_installer_options(parser)
    add_target_options(parser)
    add_resolver_options(parser)
    add_python_options(parser)
    add_index_options(parser)
    add_build_options(parser)


def add_reinstall_options(parser: argparse.ArgumentParser) -> None:
    """`--reinstall` and `--reinstall-package`, shared by `install` and `sync`."""
    parser.add_argument("--reinstall", "--force-reinstall", action="store_true",
                        help="reinstall every package, even those already installed at the "
                        "chosen version (implies --refresh)")
    parser.add_argument("--reinstall-package", action="append", default=[], metavar="PACKAGE",
                        help="reinstall this package even if already installed at the chosen "
                        "version (repeatable; implies --refresh-package)")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from wherry.commands.install import InstallOptions, install

    options = InstallOptions(
        requirements=list(args.packages),
        requirement_files=list(args.requirement),
        constraint_files=list(args.constraint),
        no_deps=args.no_deps,
        dry_run=args.dry_run,
        upgrade=args.upgrade,
        upgrade_packages=list(args.upgrade_package),
        reinstall=args.reinstall,
        reinstall_packages=list(args.reinstall_package),
        link_mode=args.link_mode,
        python_platform=args.python_platform,
        python_version=args.python_version,
        **source_options(args),
        **installer_options(args),
        **build_flags(args),
        **resolver_options(args),
    )
    recorder = ctx.replay
    on_audited = on_stored = None
    if recorder is not None:
        from wherry.commands import noop
        from wherry.python.info import InterpreterInfo

        def on_audited(env: InterpreterInfo) -> None:
            verdict = noop.stored(options, env, ctx.cache)
            if verdict is not None:
                recorder.environment(env.executable, env.raw)
                recorder.audited(*verdict)

        def on_stored(env: InterpreterInfo, record: StoredResolution, settings: IndexSettings,
                      sources: IndexSources, before: dict[str, Any]) -> None:
            from wherry.commands import recorded_install

            facts = recorded_install.facts(options, env, ctx.cache, record, settings, sources,
                                           before)
            if facts is not None:
                recorder.installed(facts, recorded_install.depends_on(facts))

    install(options, ctx.cache, ctx.printer, on_audited=on_audited, on_stored=on_stored)
    return 0
