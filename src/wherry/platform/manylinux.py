"""PEP 600 manylinux and PEP 656 musllinux platform lists, from probed facts.

A port of packaging's `_manylinux.platform_tags` loop that takes the glibc version and
the target's `_manylinux` answers as *data* instead of reading the running process, so
it works for any target interpreter. The override is applied per glibc version, as PEP
600 and pip do: a hook that refuses glibc >= 2.17 still allows `manylinux_2_5` wheels.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

_LEGACY_ALIASES = {(2, 17): "manylinux2014", (2, 12): "manylinux2010", (2, 5): "manylinux1"}
_LEGACY_ATTRIBUTES = {
    (2, 5): "manylinux1_compatible",
    (2, 12): "manylinux2010_compatible",
    (2, 17): "manylinux2014_compatible",
}


def is_compatible(
    glibc: tuple[int, int], version: tuple[int, int], hook: Mapping[str, Any]
) -> bool:
    """Whether a `manylinux_{version}` wheel may be installed, as packaging decides it.

    `hook` is the probe's `manylinux` record: `found` (a `_manylinux` module exists),
    `per_minor` (the answer of `manylinux_compatible(2, minor, arch)`, None for no
    opinion) and `legacy` (the `manylinux*_compatible` attributes).
    """
    if glibc < version:
        return False
    if not hook.get("found"):
        return True
    per_minor: Mapping[str, bool | None] = hook.get("per_minor") or {}
    if per_minor:
        answer = per_minor.get(str(version[1]))
        return True if answer is None else bool(answer)
    legacy: Mapping[str, bool] = hook.get("legacy") or {}
    attribute = _LEGACY_ATTRIBUTES.get(version)
    if attribute is not None and attribute in legacy:
        return bool(legacy[attribute])
    return True


def manylinux_platforms(
    arch: str, glibc: tuple[int, int], hook: Mapping[str, Any]
) -> Iterator[str]:
    """`manylinux_2_M_<arch>` tags (and legacy aliases), newest glibc first."""
    if glibc[0] != 2:
        return
    oldest_minor = 4 if arch in ("x86_64", "i686") else 16
    for minor in range(glibc[1], oldest_minor, -1):
        version = (2, minor)
        if not is_compatible(glibc, version, hook):
            continue
        yield f"manylinux_2_{minor}_{arch}"
        legacy = _LEGACY_ALIASES.get(version)
        if legacy is not None:
            yield f"{legacy}_{arch}"


def musllinux_platforms(arch: str, musl: tuple[int, int]) -> Iterator[str]:
    """`musllinux_1_M_<arch>` tags, newest first (PEP 656)."""
    major, minor = musl
    for candidate in range(minor, -1, -1):
        yield f"musllinux_{major}_{candidate}_{arch}"
