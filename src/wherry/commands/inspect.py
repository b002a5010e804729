"""`wherry pip list` and `wherry pip freeze`: what an environment holds.

These read site-packages only (no index, no resolver) and must stay fast: the target
is within 2x of `python -c pass` with a warm interpreter cache. Only `list --outdated`
asks the index (`commands/outdated.py`).

Legacy development installs (`.egg-link` files, see `commands/egglink.py`) are added here
rather than in `install.site`, so install plans never try to upgrade one in place.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from wherry.cache.layout import Cache
from wherry.commands.environment import site_dirs
from wherry.install.site import InstalledDist, scan_site_packages
from wherry.python.discovery import find_environment
from wherry.python.info import InterpreterInfo


def environment_distributions(
    python: str | None, cache: Cache, *, system: bool
) -> tuple[InterpreterInfo, dict[str, list[InstalledDist]]]:
    """The environment and its distributions by canonical name, legacy egg-links included."""
    env = find_environment(python, cache, system=system)
    dirs = site_dirs(env)
    found = scan_site_packages(dirs)
    if any(_has_egg_links(d) for d in dirs):
        from wherry.commands.egglink import find_egg_links

        for link in find_egg_links(dirs):
            if link.dist is not None:
                found.setdefault(link.name, []).append(link.dist)
    return env, found


def listing_inputs(env: InterpreterInfo, found: dict[str, list[InstalledDist]]) -> list[str]:
    """The files a listing of `env` was read from: its site directories (an entry added
    or removed changes them), their `.egg-link` files, and each distribution's
    directory, metadata and `direct_url.json` (a version or an editable location
    changed in place)."""
    paths = []
    for directory in site_dirs(env):
        paths.append(str(directory))
        # Legacy editables: an `.egg-link` edited in place names another project.
        if _has_egg_links(directory):
            with contextlib.suppress(OSError):
                paths += [os.path.join(directory, name) for name in os.listdir(directory)
                          if name.endswith(".egg-link")]
    for dists in found.values():
        for dist in dists:
            paths.append(str(dist.path))
            if dist.path.is_dir():
                paths += [str(dist.path / "METADATA"), str(dist.path / "PKG-INFO"),
                          str(dist.path / "direct_url.json")]
    return paths


def _has_egg_links(directory: Path) -> bool:
    try:
        return any(name.endswith(".egg-link") for name in os.listdir(directory))
    except OSError:
        return False


def installed_distributions(
    python: str | None, cache: Cache, *, system: bool
) -> list[InstalledDist]:
    """Every distribution of the environment, sorted by canonical name."""
    _env, found = environment_distributions(python, cache, system=system)
    return sorted_distributions(found)


def sorted_distributions(found: dict[str, list[InstalledDist]]) -> list[InstalledDist]:
    return sorted((d for dists in found.values() for d in dists),
                  key=lambda d: (d.canonical_name, d.version))


def filter_editable(
    dists: list[InstalledDist], *, editable: bool, exclude_editable: bool
) -> list[InstalledDist]:
    """Only editable installs (`-e`), none of them (`--exclude-editable`), or all."""
    if editable:
        return [d for d in dists if d.editable]
    if exclude_editable:
        return [d for d in dists if not d.editable]
    return dists


def editable_location(dist: InstalledDist) -> str | None:
    """The project directory of an editable install, from its direct_url.json."""
    if not dist.editable:
        return None
    url = str((dist.direct_url or {}).get("url") or "")
    if url.startswith("file:"):
        from urllib.parse import unquote, urlsplit

        return unquote(urlsplit(url).path) or None
    return url or None


def freeze_lines(dists: list[InstalledDist]) -> list[str]:
    lines = []
    for dist in dists:
        url = (dist.direct_url or {}).get("url")
        if dist.editable and url:
            lines.append(f"-e {url}")
        elif url and (dist.direct_url or {}).get("archive_info") is not None:
            lines.append(f"{dist.canonical_name} @ {url}")
        else:
            lines.append(f"{dist.canonical_name}=={dist.version}")
    return lines


def table_lines(rows: list[tuple[str, ...]]) -> list[str]:
    """A header row, a dashed rule, then the rows, in left-aligned columns (uv's layout)."""
    if len(rows) < 2:
        return []
    count = len(rows[0])
    widths = [max(len(row[i]) for row in rows) for i in range(count)]

    def render(row: tuple[str, ...]) -> str:
        return " ".join(f"{cell:<{widths[i]}}" for i, cell in enumerate(row)).rstrip()

    return [render(rows[0]), render(tuple("-" * w for w in widths))] + [
        render(row) for row in rows[1:]
    ]


def columns_lines(dists: list[InstalledDist]) -> list[str]:
    if not dists:
        return []
    if any(d.editable for d in dists):
        rows: list[tuple[str, ...]] = [("Package", "Version", "Editable project location")]
        rows += [(d.canonical_name, d.version, editable_location(d) or "") for d in dists]
    else:
        rows = [("Package", "Version")]
        rows += [(d.canonical_name, d.version) for d in dists]
    return table_lines(rows)
