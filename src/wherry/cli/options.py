"""Option groups shared by several commands, so each flag is spelled and explained once."""

from __future__ import annotations

import argparse
from pathlib import Path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from wherry.settings import NetworkSettings


def add_python_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("python options")
    group.add_argument(
        "-p", "--python", metavar="PYTHON",
        help="the interpreter or environment to act on: a path, a venv directory, or a "
        "version request such as `3.12` (default: $VIRTUAL_ENV, then .venv)",
    )
    group.add_argument(
        "--system", action="store_true",
        help="act on the first Python found on PATH instead of a virtual environment",
    )
    group.add_argument(
        "--break-system-packages", action="store_true",
        help="allow modifying an EXTERNALLY-MANAGED (PEP 668) environment",
    )


def add_index_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("index options")
    group.add_argument(
        "-i", "--index-url", metavar="URL",
        help="the package index (PEP 503/691 simple API); default from WHERRY_INDEX_URL, "
        "wherry.toml, PIP_INDEX_URL, pip's config files, then pip's own default",
    )
    group.add_argument(
        "--extra-index-url", metavar="URL", action="append", default=[],
        help="another index, searched before --index-url (repeatable)",
    )
    group.add_argument(
        "-f", "--find-links", metavar="LOCATION", action="append", default=[],
        help="a directory or HTML page listing wheels (repeatable)",
    )
    group.add_argument(
        "--index-strategy", choices=["first-index", "unsafe-first-match", "unsafe-best-match"],
        help="how to use several indexes: only the first that has a project (default), or "
        "all of them; default is pip's best-match for extra indexes from pip's own config",
    )
    group.add_argument(
        "--keyring-provider", choices=["disabled", "subprocess"], default="disabled",
        help="look up index credentials with the `keyring` command (default: disabled)",
    )
    group.add_argument(
        "--exclude-newer", metavar="DATE",
        help="ignore files uploaded after this date or RFC 3339 timestamp",
    )
    group.add_argument(
        "--no-index", action="store_true",
        help="ignore every index; use only --find-links locations",
    )


def add_installer_options(parser: argparse.ArgumentParser) -> None:
    """Where and how installed files are written: `--compile-bytecode`, `--target`,
    `--prefix` (shared by `install` and `sync`; pass `installer_options(args)` on)."""
    group = parser.add_argument_group("installer options")
    group.add_argument(
        "--compile-bytecode", action="store_true", default=None,
        help="compile the installed .py files to .pyc with the target interpreter "
        "(default: $WHERRY_COMPILE_BYTECODE; honours PYC_INVALIDATION_MODE)",
    )
    group.add_argument(
        "--no-compile-bytecode", action="store_false", dest="compile_bytecode",
        help="do not compile bytecode, whatever WHERRY_COMPILE_BYTECODE says",
    )
    where = group.add_mutually_exclusive_group()
    where.add_argument(
        "--target", metavar="DIR", type=Path,
        help="install packages into DIR itself (scripts in DIR/bin), not into an "
        "environment; use it with PYTHONPATH=DIR",
    )
    where.add_argument(
        "--prefix", metavar="DIR", type=Path,
        help="install into DIR with the interpreter's layout (DIR/lib/pythonX.Y/"
        "site-packages, DIR/bin), not into an environment",
    )


def installer_options(args: argparse.Namespace) -> dict[str, Any]:
    """The `InstallOptions` keywords of `add_installer_options`' flags."""
    return {
        "compile_bytecode": args.compile_bytecode,
        "target": args.target,
        "prefix": args.prefix,
    }


def add_global_options(parser: argparse.ArgumentParser) -> None:
    """Options accepted by every command, before or after the command name (all with
    `default=argparse.SUPPRESS`, so a value given before the command name survives the
    sub-parser; `wherry.config` fills in the ones not given)."""
    cache = parser.add_argument_group("cache options")
    group = parser.add_argument_group("global options")
    group.add_argument(
        "-v", "--verbose", action="count", default=argparse.SUPPRESS,
        help="more output: -v for debug lines, -vv for trace lines (stderr)",
    )
    group.add_argument(
        "-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
        help="print only results and errors",
    )
    group.add_argument(
        "--color", choices=["auto", "always", "never"], default=argparse.SUPPRESS,
        help="colour output (default: auto: on a terminal unless NO_COLOR is set; "
        "FORCE_COLOR forces it)",
    )
    group.add_argument(
        "--no-config", action="store_true", default=argparse.SUPPRESS,
        help="ignore configuration files (wherry.toml, pyproject.toml, pip.conf)",
    )
    group.add_argument(
        "--config-file", metavar="FILE", default=argparse.SUPPRESS,
        help="read this wherry.toml instead of the project, user and system files",
    )
    group.add_argument(
        "--offline", action="store_true", default=argparse.SUPPRESS,
        help="never use the network: answer from the cache (stale entries too) or fail",
    )
    cache.add_argument(
        "--cache-dir", metavar="DIR", default=argparse.SUPPRESS,
        help="the cache directory (default: $WHERRY_CACHE_DIR, the cache-dir setting, "
        "else $XDG_CACHE_HOME/wherry or ~/.cache/wherry)",
    )
    cache.add_argument(
        "-n", "--no-cache", action="store_true", default=argparse.SUPPRESS,
        help="use a temporary cache, deleted when wherry exits",
    )
    cache.add_argument(
        "--refresh", action="store_true", default=argparse.SUPPRESS,
        help="revalidate every cached response with the server",
    )
    cache.add_argument(
        "--refresh-package", action="append", metavar="PACKAGE", default=argparse.SUPPRESS,
        help="revalidate cached responses about this package (repeatable)",
    )
    group.add_argument(
        "--allow-insecure-host", "--trusted-host", action="append", metavar="HOST",
        default=argparse.SUPPRESS,
        help="do not verify TLS certificates for this host[:port] (repeatable)",
    )
    group.add_argument(
        "--cert", metavar="FILE", default=argparse.SUPPRESS,
        help="a CA bundle to verify TLS with (default: SSL_CERT_FILE, else the system store)",
    )


def network_settings(args: argparse.Namespace) -> NetworkSettings:
    """The network options of a parsed command line (global ones may be absent)."""
    from wherry.install.site import canonicalize_name
    from wherry.settings import NetworkSettings

    return NetworkSettings(
        offline=bool(getattr(args, "offline", False)),
        refresh=bool(getattr(args, "refresh", False)),
        refresh_packages=frozenset(
            canonicalize_name(name) for name in getattr(args, "refresh_package", None) or ()
        ),
        cert=getattr(args, "cert", None),
        allow_insecure_hosts=tuple(getattr(args, "allow_insecure_host", None) or ()),
        keyring_provider=getattr(args, "keyring_provider", "disabled"),
        exclude_newer=getattr(args, "exclude_newer", None),
    )


def source_options(args: argparse.Namespace) -> dict[str, Any]:
    """The `InstallOptions` keywords of the python and index option groups and the
    network options: what every command that resolves and installs shares."""
    return {
        "python": args.python,
        "system": args.system,
        "break_system_packages": args.break_system_packages,
        "index_url": args.index_url,
        "extra_index_urls": list(args.extra_index_url),
        "find_links": list(args.find_links),
        "no_index": args.no_index,
        "index_strategy": args.index_strategy,
        "network": network_settings(args),
    }


def add_resolver_options(parser: argparse.ArgumentParser) -> None:
    """How requirements are read and resolved (shared by `install` and `compile`; pass
    `resolver_options(args)` on): overrides, excludes, extras, groups, and uv's
    pre-release and resolution modes."""
    group = parser.add_argument_group("resolver options")
    group.add_argument(
        "--override", "--overrides", dest="override_files", action="append", default=[],
        metavar="FILE", type=Path,
        help="a requirements file whose entries replace every requirement on the same "
        "package, direct or transitive (repeatable)",
    )
    group.add_argument(
        "--exclude", "--excludes", dest="exclude_files", action="append", default=[],
        metavar="FILE", type=Path,
        help="a file of package names to leave out of the resolution entirely, with "
        "every requirement on them (repeatable)",
    )
    group.add_argument(
        "--extra", dest="extras", action="append", default=[], metavar="EXTRA",
        help="include this optional dependency group of the `-r pyproject.toml` "
        "projects (repeatable)",
    )
    group.add_argument(
        "--all-extras", action="store_true",
        help="include every optional dependency group of the `-r pyproject.toml` projects",
    )
    group.add_argument(
        "--group", dest="groups", action="append", default=[], metavar="[PATH:]GROUP",
        help="include a PEP 735 dependency group of ./pyproject.toml, or of the "
        "pyproject.toml at PATH (repeatable)",
    )
    group.add_argument(
        "--prerelease",
        choices=["disallow", "allow", "if-necessary", "explicit", "if-necessary-or-explicit"],
        help="when to choose pre-releases (default: if-necessary-or-explicit, i.e. when a "
        "requirement names a pre-release or no stable version fits)",
    )
    group.add_argument(
        "--pre", dest="prerelease", action="store_const", const="allow",
        help="allow pre-releases everywhere (same as --prerelease allow)",
    )
    group.add_argument(
        "--resolution", choices=["highest", "lowest", "lowest-direct"],
        help="which versions to prefer: the newest (default), the oldest, or the oldest "
        "for direct requirements and the newest for the rest",
    )


def resolver_options(args: argparse.Namespace) -> dict[str, Any]:
    """The `InstallOptions` keywords of `add_resolver_options`' flags."""
    return {
        "override_files": list(args.override_files),
        "exclude_files": list(args.exclude_files),
        "extras": list(args.extras),
        "all_extras": args.all_extras,
        "groups": list(args.groups),
        "prerelease": args.prerelease,
        "resolution": args.resolution,
    }


def add_build_options(parser: argparse.ArgumentParser, *, editable: bool = True) -> None:
    """Source builds: `-e`, isolation, binary policy, config settings, build constraints
    (shared by `install` and `sync`; pass `build_flags(args)` on)."""
    group = parser.add_argument_group("build options")
    if editable:
        group.add_argument(
            "-e", "--editable", action="append", default=[], metavar="PATH",
            help="install the project at PATH in editable mode (PEP 660; repeatable)",
        )
    group.add_argument(
        "--no-build-isolation", action="store_true",
        help="build in the target environment itself; build requirements must already be "
        "installed there",
    )
    group.add_argument(
        "--no-build-isolation-package", action="append", default=[], metavar="PACKAGE",
        help="build this package without isolation (repeatable)",
    )
    group.add_argument(
        "--no-build", action="store_true",
        help="never build from source: use wheels only (same as --only-binary :all:)",
    )
    group.add_argument(
        "--no-binary", action="append", default=[], metavar="PACKAGES",
        help="do not use wheels for these packages (comma-separated, :all: or :none:); "
        "build them from source",
    )
    group.add_argument(
        "--only-binary", action="append", default=[], metavar="PACKAGES",
        help="use only wheels for these packages (comma-separated, :all: or :none:)",
    )
    group.add_argument(
        "-C", "--config-setting", "--config-settings", action="append", default=[],
        metavar="KEY=VALUE", dest="config_setting",
        help="a setting passed to the PEP 517 build backend (repeatable)",
    )
    group.add_argument(
        "--build-constraint", "-b", action="append", default=[], metavar="FILE", type=Path,
        help="constrain the versions installed into build environments (repeatable)",
    )


def build_flags(args: argparse.Namespace) -> dict[str, Any]:
    """The `InstallOptions` keywords of `add_build_options`' flags."""
    from wherry.commands.install import BuildFlags

    return {
        "editables": list(getattr(args, "editable", []) or []),
        "build": BuildFlags(
            no_build_isolation=args.no_build_isolation,
            no_build_isolation_packages=list(args.no_build_isolation_package),
            no_build=args.no_build,
            no_binary=list(args.no_binary),
            only_binary=list(args.only_binary),
            config_settings=list(args.config_setting),
            build_constraint_files=list(args.build_constraint),
        ),
    }


def add_target_options(parser: argparse.ArgumentParser, verb: str = "resolve") -> None:
    """`--python-platform` and `--python-version`: the target to `verb` for, when it is
    not the interpreter's own (install, sync, compile and download share them)."""
    parser.add_argument("--python-platform", metavar="PLATFORM",
                        help=f"{verb} for another platform: linux, macos, windows, or a "
                        "target such as x86_64-manylinux_2_28 or aarch64-apple-darwin")
    parser.add_argument("--python-version", metavar="VERSION",
                        help=f"{verb} for another Python version, such as 3.12")
