"""Compatible wheel tags for a target interpreter, in pip's order, and their ranking.

Only the platform list depends on facts of the target that packaging would read from the
running process (glibc, `_manylinux`, musl, 32-bit); those come from the probe, and
everything else goes through packaging's public `cpython_tags`/`compatible_tags` with
explicit arguments. `packaging` is imported lazily: tags are not needed on the no-op path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from wherry.platform.manylinux import manylinux_platforms, musllinux_platforms
from wherry.python.info import InterpreterInfo

if TYPE_CHECKING:
    from packaging.tags import Tag


def _normalize(value: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "_", value).lower()


def platform_tags(info: InterpreterInfo) -> list[str]:
    """The platform part of the compatible tags, best first, as packaging orders it."""
    platform = _normalize(str(info.raw["sysconfig_platform"]))
    if not platform.startswith("linux_"):
        return _non_linux_platforms(info, platform)
    if int(info.raw["pointer_size"]) == 32:
        platform = {"linux_x86_64": "linux_i686", "linux_aarch64": "linux_armv8l"}.get(
            platform, platform
        )
    arch = platform.split("_", 1)[1]
    archs = ["armv8l", "armv7l"] if arch == "armv8l" else [arch]
    # packaging >= 26 ranks the plain `linux_<arch>` tag first: a wheel built on this
    # very machine beats a portable one.
    result = [f"linux_{candidate}" for candidate in archs]
    if info.glibc is not None:
        for candidate in archs:
            result += manylinux_platforms(candidate, info.glibc, info.manylinux)
    if info.musl is not None:
        for candidate in archs:
            result += musllinux_platforms(candidate, info.musl)
    return result


def _non_linux_platforms(info: InterpreterInfo, platform: str) -> list[str]:
    if platform.startswith("macosx_"):
        from packaging.tags import mac_platforms

        _, major, minor, arch = platform.split("_", 3)
        return list(mac_platforms((int(major), int(minor)), arch))
    return [platform]


class TargetTags:
    """The ordered compatible tags of one target and a rank lookup (lower is better).

    A plain class, not a dataclass: a dataclass compiles its methods when its module is
    imported, on every run (~0.5 ms a class)."""

    __slots__ = ("_triple_ranks", "rank", "rank_by_text", "tags")
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, tags: list[Tag]) -> None:
        self.tags = tags
        self.rank: dict[Tag, int] = {}
        self.rank_by_text: dict[str, int] = {}
        self._triple_ranks: dict[tuple[str, str, str], int | None] = {}
        for index, tag in enumerate(tags):
            self.rank.setdefault(tag, index)
            self.rank_by_text.setdefault(str(tag), index)

    def __eq__(self, other: object) -> bool:
        # The ranks follow from the tags; the memo of filename triples is not state.
        return isinstance(other, TargetTags) and other.tags == self.tags

    def __repr__(self) -> str:
        return f"TargetTags(tags={self.tags!r})"

    def rank_of_filename_tags(self, python: str, abi: str, platform: str) -> int | None:
        """The best rank of a wheel filename's (possibly compressed) tag triple, memoised:
        a project's thousands of files repeat a few dozen triples."""
        key = (python, abi, platform)
        try:
            return self._triple_ranks[key]
        except KeyError:
            rank = self._rank_of_triple(python, abi, platform)
            self._triple_ranks[key] = rank
            return rank

    def _rank_of_triple(self, python: str, abi: str, platform: str) -> int | None:
        """Works on the strings of the filename, so choosing among the thousands of files
        of a big project never builds a `Tag` object."""
        best: int | None = None
        rank = self.rank_by_text
        for py in python.split("."):
            for ab in abi.split("."):
                for plat in platform.split("."):
                    found = rank.get(f"{py}-{ab}-{plat}".lower())
                    if found is not None and (best is None or found < best):
                        best = found
        return best

    def best_rank(self, tags: Iterable[Tag]) -> int | None:
        """The best rank among a wheel's tags, or None if none is compatible."""
        ranks = [self.rank[tag] for tag in tags if tag in self.rank]
        return min(ranks) if ranks else None

    def describe(self, limit: int = 3) -> str:
        """A short human list of the best tags, for "no compatible wheel" messages."""
        shown = ", ".join(str(tag) for tag in self.tags[:limit])
        more = len(self.tags) - limit
        return shown + (f" (and {more} more)" if more > 0 else "")


def compatible_tags(info: InterpreterInfo) -> TargetTags:
    """All tags a wheel may carry to be installable into `info`, best first."""
    from packaging.tags import compatible_tags as generic_tags
    from packaging.tags import cpython_tags
    from packaging.tags import generic_tags as other_tags

    version = info.version[:2]
    platforms = platform_tags(info)
    tags: list[Tag] = []
    if info.implementation == "cpython":
        tags += cpython_tags(version, info.abis, platforms)
        interpreter = "cp{}{}".format(*version)
    else:
        interpreter = f"{_short_name(info.implementation)}{version[0]}{version[1]}"
        tags += other_tags(interpreter, [_normalize(str(info.raw.get("soabi") or "none"))],
                           platforms)
    tags += generic_tags(version, interpreter, platforms)
    return TargetTags(tags)


def _short_name(implementation: str) -> str:
    return {"pypy": "pp", "ironpython": "ip", "jython": "jy"}.get(implementation, implementation)
