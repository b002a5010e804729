"""The build flags as objects: the binary policy the resolver applies while choosing
candidates, and the `BuildOptions` the builder uses. Kept apart so the no-op path never
imports them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from wherry.build.options import BuildOptions, concurrent_builds
from wherry.errors import UsageError
from wherry.resolve.candidates import BinaryPolicy

if TYPE_CHECKING:
    from wherry.commands.install import BuildFlags
    from wherry.settings import NetworkSettings

_ALL = ":all:"
_NONE = ":none:"


def _canonical(name: str) -> str:
    from packaging.utils import canonicalize_name

    return str(canonicalize_name(name.strip()))


def _names(values: list[str], flag: str) -> tuple[bool, set[str]]:
    """pip's `--no-binary`/`--only-binary` values: comma-separated names, `:all:` and
    `:none:` (which clears what came before)."""
    every = False
    names: set[str] = set()
    for value in values:
        for item in value.split(","):
            item = item.strip()
            if not item:
                continue
            if item == _ALL:
                every = True
            elif item == _NONE:
                every = False
                names.clear()
            else:
                if not all(c.isalnum() or c in "-_." for c in item):
                    raise UsageError(f"invalid package name `{item}` for {flag}",
                                     hint=f"use {flag} :all:, :none: or package names")
                names.add(_canonical(item))
    return every, names


def binary_policy(flags: BuildFlags | None) -> BinaryPolicy:
    if flags is None:
        return BinaryPolicy()
    no_all, no_names = _names(flags.no_binary, "--no-binary")
    only_all, only_names = _names(flags.only_binary, "--only-binary")
    if flags.no_build:
        only_all = True
    if no_all and only_all and not (no_names or only_names):
        raise UsageError("--no-binary :all: and --only-binary :all: (or --no-build) together "
                         "leave nothing to install", hint="drop one of them")
    both = no_names & only_names
    if both:
        raise UsageError(f"{', '.join(sorted(both))} named in both --no-binary and "
                         "--only-binary", hint="name each package in one of them")
    return BinaryPolicy(no_binary_all=no_all, only_binary_all=only_all,
                        no_binary=frozenset(no_names), only_binary=frozenset(only_names))


def parse_config_settings(values: list[str]) -> dict[str, str | list[str]]:
    """`-C KEY=VALUE` (repeatable; a key given twice becomes a list, as pip does)."""
    settings: dict[str, str | list[str]] = {}
    for value in values:
        key, sep, item = value.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"invalid --config-setting `{value}`: expected KEY=VALUE",
                             hint="for example `-C --build-option=--quiet` or "
                             "`-C editable_mode=compat`")
        key = key.strip()
        previous = settings.get(key)
        if previous is None:
            settings[key] = item
        elif isinstance(previous, list):
            previous.append(item)
        else:
            settings[key] = [previous, item]
    return settings


def read_build_constraints(paths: list[Path]) -> tuple[str, ...]:
    """The requirement strings of `--build-constraint` files (they constrain only what
    build environments install, never the target)."""
    from wherry.requirements.parse import RequirementsSpec, read_requirements_file

    spec = RequirementsSpec()
    for path in paths:
        read_requirements_file(path, spec, constraint=True)
    for item in spec.constraints:
        if item.requirement.url:
            raise UsageError(f"build constraints cannot be direct references "
                             f"({item.source})")
    return tuple(str(item.requirement) for item in spec.constraints)


def build_options(flags: BuildFlags | None, network: NetworkSettings) -> BuildOptions:
    """The builder's options; `--refresh[-package]` (and `--reinstall[-package]`, which
    imply them) make cached builds of those projects again."""
    refresh_all, refresh_packages = network.refresh, frozenset(network.refresh_packages)
    if flags is None:
        return BuildOptions(concurrency=concurrent_builds(), refresh_all=refresh_all,
                            refresh_packages=refresh_packages)
    return BuildOptions(
        isolation=not flags.no_build_isolation,
        no_isolation_packages=frozenset(_canonical(n) for n in
                                        flags.no_build_isolation_packages),
        config_settings=parse_config_settings(flags.config_settings),
        build_constraints=read_build_constraints(flags.build_constraint_files),
        concurrency=concurrent_builds(),
        refresh_all=refresh_all,
        refresh_packages=refresh_packages,
    )
