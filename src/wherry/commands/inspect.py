"""`wherry pip list` and `wherry pip freeze`: what an environment holds.

These read site-packages only (no index, no resolver) and must stay fast: the target
is within 2x of `python -c pass` with a warm interpreter cache.
"""

from __future__ import annotations

from wherry.cache.layout import Cache
from wherry.commands.environment import site_dirs
from wherry.install.site import InstalledDist, scan_site_packages
from wherry.python.discovery import find_environment


def installed_distributions(
    python: str | None, cache: Cache, *, system: bool
) -> list[InstalledDist]:
    """Every distribution of the environment, sorted by canonical name."""
    env = find_environment(python, cache, system=system)
    found = scan_site_packages(site_dirs(env))
    return sorted((d for dists in found.values() for d in dists),
                  key=lambda d: (d.canonical_name, d.version))


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


def columns_lines(dists: list[InstalledDist]) -> list[str]:
    if not dists:
        return []
    rows = [("Package", "Version")] + [(d.canonical_name, d.version) for d in dists]
    widths = [max(len(row[i]) for row in rows) for i in range(2)]
    lines = [f"{a:<{widths[0]}} {b}".rstrip() for a, b in rows[:1]]
    lines.append(f"{'-' * widths[0]} {'-' * widths[1]}")
    lines += [f"{a:<{widths[0]}} {b}".rstrip() for a, b in rows[1:]]
    return lines
