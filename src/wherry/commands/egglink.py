"""Legacy development installs: `setup.py develop` / `pip install -e` with setuptools < 64.

Such an install is a `NAME.egg-link` file in site-packages whose first line is the
project directory holding `NAME.egg-info` (the metadata), plus that directory as a line
of `easy-install.pth` (what puts it on `sys.path`).
"""

from __future__ import annotations

import os
from pathlib import Path

from wherry.install.site import InstalledDist, _read_egg_info, canonicalize_name
from wherry.output import log


class EggLink:
    """One `NAME.egg-link` file: the link, the project it points at, and its metadata."""

    __slots__ = ("dist", "link", "name", "project")

    def __init__(self, link: Path, project: Path, dist: InstalledDist | None) -> None:
        self.link = link
        self.project = project
        self.dist = dist
        self.name = dist.canonical_name if dist else canonicalize_name(link.name[:-9])


def _egg_info_in(project: Path, name: str) -> Path | None:
    try:
        entries = os.listdir(project)
    except OSError:
        return None
    for entry in sorted(entries):
        if entry.endswith(".egg-info") and canonicalize_name(
            entry[: -len(".egg-info")].split("-", 1)[0]
        ) == name:
            return project / entry
    return None


def find_egg_links(dirs: list[Path]) -> list[EggLink]:
    """Every `.egg-link` in `dirs`, with the distribution its project's egg-info describes."""
    links: list[EggLink] = []
    for directory in dirs:
        try:
            names = [n for n in os.listdir(directory) if n.endswith(".egg-link")]
        except OSError:
            continue
        for entry in sorted(names):
            link = directory / entry
            try:
                first = link.read_text("utf-8", errors="replace").splitlines()[:1]
            except OSError:
                continue
            if not first or not first[0].strip():
                log.debug("Ignoring empty %s", link)
                continue
            project = Path(os.path.normpath(directory / first[0].strip()))
            name = canonicalize_name(entry[: -len(".egg-link")])
            info = _egg_info_in(project, name)
            dist = None
            if info is not None:
                read = _read_egg_info(str(info), info.is_dir())
                if read is not None:
                    dist = InstalledDist(
                        read.name, read.canonical_name, read.version, read.path, read.installer,
                        requested=False, editable=True,
                        direct_url={"url": project.as_uri(), "dir_info": {"editable": True}},
                    )
            links.append(EggLink(link, project, dist))
    return links
