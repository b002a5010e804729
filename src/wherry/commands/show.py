"""`wherry pip show`: one block of facts per installed package, in pip's layout."""

from __future__ import annotations

import os
from collections.abc import Mapping

from wherry.commands.depgraph import DependencyGraph, active_requirements
from wherry.commands.inspect import editable_location
from wherry.install.site import InstalledDist, canonicalize_name, header_values


def metadata_text(dist: InstalledDist) -> str:
    """The METADATA (or legacy PKG-INFO) text of `dist`, empty if unreadable."""
    if dist.is_legacy:
        path = dist.path / "PKG-INFO" if dist.path.is_dir() else dist.path
    else:
        path = dist.path / "METADATA"
    try:
        return path.read_text("utf-8", errors="replace")
    except OSError:
        return ""


def _first(text: str, header: str) -> str:
    values = header_values(text, header)
    value = values[0] if values else ""
    return "" if value == "UNKNOWN" else value


def _home_page(text: str) -> str:
    home = _first(text, "Home-page")
    if home:
        return home
    for entry in header_values(text, "Project-URL"):
        label, _, url = entry.partition(",")
        if label.strip().lower().replace("-", "").replace("_", "") == "homepage":
            return url.strip()
    return ""


def recorded_files(dist: InstalledDist) -> list[str] | None:
    """The files `dist` installed, relative to its location; None when nothing records them."""
    if not dist.is_legacy:
        from wherry.install.record import read_record

        try:
            return [row.path for row in read_record(dist.path / "RECORD")]
        except OSError:
            return None
    listing = dist.path / "installed-files.txt"
    try:
        lines = listing.read_text("utf-8", errors="replace").splitlines()
    except OSError:
        return None
    location = dist.path.parent
    return [
        os.path.relpath(os.path.normpath(dist.path / line.strip()), location)
        for line in lines if line.strip()
    ]


def show_block(
    dist: InstalledDist, graph: DependencyGraph, *, files: bool
) -> list[str]:
    text = metadata_text(dist)
    name = dist.canonical_name
    # A duplicate installation of a name has its own requirements, not the first one's.
    requirements = (graph.requires.get(name, []) if graph.dists.get(name) is dist
                    else active_requirements(dist, graph.markers))
    requires = sorted({canonicalize_name(r.name) for r in requirements})
    lines = [
        f"Name: {name}",
        f"Version: {dist.version}",
        f"Summary: {_first(text, 'Summary')}",
        f"Home-page: {_home_page(text)}",
        f"Author: {_first(text, 'Author')}",
        f"Author-email: {_first(text, 'Author-email')}",
        f"License: {_first(text, 'License') or _first(text, 'License-Expression')}",
        f"Location: {dist.path.parent}",
    ]
    location = editable_location(dist)
    if location:
        lines.append(f"Editable project location: {location}")
    lines += [
        f"Requires: {', '.join(requires)}",
        f"Required-by: {', '.join(sorted(graph.required_by.get(name, ())))}",
    ]
    if dist.installer:
        lines.append(f"Installer: {dist.installer}")
    if files:
        recorded = recorded_files(dist)
        if recorded is None:
            lines.append("Files: Cannot locate RECORD or installed-files.txt")
        else:
            lines.append("Files:")
            lines += [f"  {path}" for path in recorded]
    return lines


def show(
    found: Mapping[str, list[InstalledDist]],
    markers: Mapping[str, str],
    names: list[str],
    *,
    files: bool,
) -> tuple[list[list[str]], list[str]]:
    """The blocks to print for `names`, and the names that are not installed."""
    graph = DependencyGraph(found, markers)
    blocks: list[list[str]] = []
    missing: list[str] = []
    seen: set[str] = set()
    for raw in names:
        key = canonicalize_name(raw)
        if key in seen:
            continue
        seen.add(key)
        dists = found.get(key)
        if not dists:
            missing.append(raw)
            continue
        blocks += [show_block(dist, graph, files=files) for dist in dists]
    return blocks, missing
