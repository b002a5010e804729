"""What a stored resolution (commands/stored_resolution.py) and a recorded install
(commands/recorded_install.py) compare to tell that an input is unchanged: a file's size
and modification time, a find-links location's listing, and the distributions installed
in a set of site directories.

Plain data from the standard library alone: the recorded install computes these before
argparse.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # not `from typing import ...`: importing typing costs ~3 ms

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path
    from typing import Any


def size_and_time(path: str) -> list[int]:
    """`[size, mtime_ns]` of the file at `path`, or `[]` when there is none."""
    try:
        st = os.stat(path)
    except OSError:
        return []
    return [st.st_size, st.st_mtime_ns]


def package_files() -> list[str]:
    """Every module file of the `wherry` package (what its code is), in a stable order."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    found: list[str] = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        found.extend(os.path.join(folder, name) for name in sorted(names)
                     if name.endswith(".py"))
    return found


def find_links_listing(location: str) -> Any:
    """What a local find-links location offers, as data that changes when it does: each
    entry's name, size and modification time (a file: its own)."""
    if location.startswith("file:"):
        from wherry.http.client import file_url_to_path

        path = str(file_url_to_path(location))
    else:
        path = os.path.expanduser(location)
    try:
        if os.path.isdir(path):
            with os.scandir(path) as entries:
                return sorted([e.name, *size_and_time(e.path)] for e in entries)
        return size_and_time(path)
    except OSError as exc:
        return f"unreadable: {exc.strerror}"


def dist_entries(dirs: Sequence[str | Path]) -> list[list[Any]]:
    """Each distribution directory or file in `dirs` (`.dist-info`, `.egg-info`) with the
    size and modification time of its metadata file, sorted: the same paths and
    metadata files as `install.site.scan_site_packages` and `commands.noop.
    metadata_file`, and the same stat as the stored resolution's key, without reading
    any of them."""
    from wherry.install.site import distribution_entries

    found: list[list[Any]] = []
    for path, is_dir, legacy in distribution_entries(dirs):
        metadata = (os.path.join(path, "PKG-INFO" if legacy else "METADATA") if is_dir
                    else path)
        found.append([path, size_and_time(metadata)])
    found.sort()
    return found
