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
    """Options accepted by every command, before or after the command name."""
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
        "--cache-dir", metavar="DIR", default=argparse.SUPPRESS,
        help="the cache directory (default: $WHERRY_CACHE_DIR, else ~/.cache/wherry)",
    )
    group.add_argument(
        "--no-cache", action="store_true", default=argparse.SUPPRESS,
        help="use a temporary cache, deleted when wherry exits",
    )
    group.add_argument(
        "--offline", action="store_true", default=argparse.SUPPRESS,
        help="never use the network: answer from the cache (stale entries too) or fail",
    )
    group.add_argument(
        "--refresh", action="store_true", default=argparse.SUPPRESS,
        help="revalidate every cached response with the server",
    )
    group.add_argument(
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
