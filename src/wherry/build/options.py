"""The build flags as one object, and how many builds may run at once.

Apart from `builder.py` so that what every install reads (`BuildContext` takes its
options when it is made) costs no import of the build machinery: an install of wheels
only never builds, and never imports it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import msgspec

from wherry.errors import UsageError


def canonical_name(name: str) -> str:
    """PEP 503's normal form of a project name (`build/` imports neither `resolve` nor
    `install`, where the other copies of this rule live)."""
    import re

    return re.sub(r"[-_.]+", "-", name).lower()


class BuildOptions(msgspec.Struct, frozen=True):
    """The build flags: `--no-build-isolation[-package]`, `-C`, `--build-constraint`."""

    isolation: bool = True
    no_isolation_packages: frozenset[str] = frozenset()
    config_settings: Mapping[str, str | list[str]] = msgspec.field(default_factory=dict)
    build_constraints: tuple[str, ...] = ()
    concurrency: int | None = None
    # `--refresh` / `--refresh-package` (and `--reinstall[-package]`, which imply them):
    # cached builds of these projects are made again, once per run (as uv does).
    refresh_all: bool = False
    refresh_packages: frozenset[str] = frozenset()

    def refreshes(self, name: str | None) -> bool:
        return self.refresh_all or (name is not None and canonical_name(name) in
                                    self.refresh_packages)

    def isolated(self, name: str | None) -> bool:
        if not self.isolation:
            return False
        return name is None or canonical_name(name) not in self.no_isolation_packages


def concurrent_builds() -> int:
    """`WHERRY_CONCURRENT_BUILDS`, else the number of CPUs."""
    value = os.environ.get("WHERRY_CONCURRENT_BUILDS", "").strip()
    if value:
        try:
            count = int(value)
        except ValueError:
            count = 0
        if count < 1:
            raise UsageError(f"WHERRY_CONCURRENT_BUILDS must be a positive integer, not "
                             f"{value!r}")
        return count
    return os.cpu_count() or 1
