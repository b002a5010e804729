"""What is installed in an environment: a fast index of `.dist-info` and `.egg-info` entries.

Every command starts by asking "what is already there?", including the no-op path of
`wherry pip install X` when X is satisfied, so this module is on the hot path. It therefore
imports nothing beyond the standard library (not even `packaging`: names are normalised
with a PEP 503 regex), reads only the first bytes of each METADATA file with a small header
scan instead of the `email` parser, and reads everything else (`Requires-Dist`) lazily.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from wherry.output import log, trace

TYPE_CHECKING = False  # not `from typing import ...`: importing typing costs ~3 ms

if TYPE_CHECKING:
    from typing import Any

_CANONICAL_RE = re.compile(r"[-_.]+")
# METADATA headers we need are at the top; read this much first, more only if needed.
_HEAD_BYTES = 2048


def canonicalize_name(name: str) -> str:
    """PEP 503 normalisation, the same answer as `packaging.utils.canonicalize_name`."""
    return _CANONICAL_RE.sub("-", name).lower()


class InstalledDist:
    """One installed distribution, as recorded by its `.dist-info` or `.egg-info` entry.

    A plain class with value equality rather than a dataclass: `dataclasses` (and the
    `inspect` it imports) would cost more than scanning site-packages itself.
    """

    __slots__ = ("canonical_name", "direct_url", "editable", "installer", "name", "path",
                 "requested", "version")

    def __init__(
        self,
        name: str,
        canonical_name: str,
        version: str,
        path: Path,
        installer: str | None,
        requested: bool,
        editable: bool,
        direct_url: dict[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.canonical_name = canonical_name
        self.version = version
        self.path = path
        self.installer = installer
        self.requested = requested
        self.editable = editable
        self.direct_url = direct_url

    def _key(self) -> tuple[object, ...]:
        return (self.name, self.canonical_name, self.version, self.path, self.installer,
                self.requested, self.editable)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, InstalledDist) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"InstalledDist({self.canonical_name}=={self.version} at {self.path})"

    @property
    def is_legacy(self) -> bool:
        """True for an `.egg-info` (setuptools/distutils) installation."""
        return self.path.name.endswith(".egg-info")

    def requires(self) -> list[str]:
        """The `Requires-Dist` lines (PEP 508 strings), read from disk on each call."""
        if self.is_legacy:
            requires = self.path / "requires.txt"
            if self.path.is_dir() and requires.is_file():
                return parse_requires_txt(requires.read_text("utf-8", errors="replace"))
            return []
        metadata = self.path / "METADATA"
        try:
            text = metadata.read_text("utf-8", errors="replace")
        except OSError:
            return []
        return header_values(text, "Requires-Dist")


def header_values(text: str, header: str) -> list[str]:
    """All values of one header in an RFC 822-style metadata text, joining continuation lines.

    Stops at the first blank line (the body, i.e. the long description, follows it).
    """
    wanted = header.lower()
    values: list[str] = []
    collecting = False
    # Split only the header block: the long description after it can be most of the
    # file (tens of KB), and this runs for every installed distribution after an install.
    # Each cut point below is a blank line, so the first one `splitlines` would find
    # is at or before the cut, and the loop stops where it would have stopped.
    cuts = [i for i in (text.find("\n\n"), text.find("\n\r\n")) if i >= 0]
    if cuts:
        text = text[:min(cuts) + 1]
    for line in text.splitlines():
        if not line:
            break
        if line[0] in " \t":
            if collecting:
                values[-1] = f"{values[-1]} {line.strip()}".strip()
            continue
        key, sep, value = line.partition(":")
        collecting = bool(sep) and key.strip().lower() == wanted
        if collecting:
            values.append(value.strip())
    return values


def parse_requires_txt(text: str) -> list[str]:
    """Convert setuptools' `requires.txt` (with `[extra:marker]` sections) to PEP 508 lines."""
    result: list[str] = []
    marker = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            extra, _, condition = line[1:-1].partition(":")
            parts = []
            if condition.strip():
                parts.append(f"({condition.strip()})" if extra.strip() else condition.strip())
            if extra.strip():
                parts.append(f'extra == "{extra.strip()}"')
            marker = " and ".join(parts)
            continue
        result.append(f"{line} ; {marker}" if marker else line)
    return result


def _header_end(data: bytes) -> int:
    """Index of the blank line ending the headers (LF or CRLF files), or -1."""
    ends = [i for i in (data.find(b"\n\n"), data.find(b"\n\r\n")) if i >= 0]
    return min(ends) if ends else -1


def _scan_headers(path: str) -> tuple[str | None, str | None]:
    """Name and Version from the header block of a METADATA/PKG-INFO file.

    Plain `os.open`/`os.read` (no buffered file object): this runs once per installed
    distribution on every command.
    """
    name: str | None = None
    version: str | None = None
    fd = os.open(path, os.O_RDONLY)
    try:
        data = os.read(fd, _HEAD_BYTES)
        while True:
            end = _header_end(data)
            block = data if end < 0 else data[:end]
            for line in block.split(b"\n"):
                if name is None and line[:5].lower() == b"name:":
                    name = line[5:].strip().decode("utf-8", "replace")
                elif version is None and line[:8].lower() == b"version:":
                    version = line[8:].strip().decode("utf-8", "replace")
                if name is not None and version is not None:
                    return name, version
            if end >= 0:
                return name, version
            more = os.read(fd, _HEAD_BYTES * 4)
            if not more:
                return name, version
            # Re-scan from the last complete line so a header split across reads is seen.
            cut = data.rfind(b"\n")
            data = (data[cut + 1:] if cut >= 0 else data) + more
    finally:
        os.close(fd)


def _read_small(path: str) -> bytes | None:
    """The first 64 KiB of a file, or None if it does not exist or cannot be read."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        return os.read(fd, 65536)
    except OSError:
        return None
    finally:
        os.close(fd)


def _split_dir_name(stem: str) -> tuple[str, str]:
    """`foo_bar-1.0` → (`foo_bar`, `1.0`); a fallback when METADATA cannot be read."""
    name, _, rest = stem.partition("-")
    version = rest.split("-", 1)[0]
    return name, version


def _read_dist_info(path: str) -> InstalledDist | None:
    try:
        name, version = _scan_headers(f"{path}/METADATA")
    except OSError:
        name = version = None
    base = os.path.basename(path)
    if not name or not version:
        fallback_name, fallback_version = _split_dir_name(base[: -len(".dist-info")])
        if not fallback_name or not fallback_version:
            log.debug("Ignoring unreadable distribution %s", path)
            return None
        trace("No usable METADATA in %s, using its directory name", path)
        name = name or fallback_name
        version = version or fallback_version
    # Three system calls instead of a directory listing: INSTALLER and direct_url.json are
    # opened directly (absent is the common case for the latter), REQUESTED is a stat.
    raw = _read_small(f"{path}/INSTALLER")
    installer = raw.decode("utf-8", "replace").strip() or None if raw is not None else None
    requested = os.path.exists(f"{path}/REQUESTED")
    direct_url: dict[str, Any] | None = None
    raw = _read_small(f"{path}/direct_url.json")
    if raw is not None:
        import json  # only when there is one: keep the no-op path's imports small

        try:
            loaded = json.loads(raw)
        except ValueError:
            log.debug("Ignoring unreadable direct_url.json in %s", path)
        else:
            direct_url = loaded if isinstance(loaded, dict) else None
    editable = bool(
        direct_url
        and isinstance(direct_url.get("dir_info"), dict)
        and direct_url["dir_info"].get("editable", False)
    )
    return InstalledDist(
        name=name,
        canonical_name=canonicalize_name(name),
        version=version,
        path=Path(path),
        installer=installer,
        requested=requested,
        editable=editable,
        direct_url=direct_url,
    )


def _read_egg_info(path: str, is_dir: bool) -> InstalledDist | None:
    metadata = os.path.join(path, "PKG-INFO") if is_dir else path
    try:
        name, version = _scan_headers(metadata)
    except OSError:
        name = version = None
    if not name or not version:
        stem = os.path.basename(path)[: -len(".egg-info")]
        fallback_name, fallback_version = _split_dir_name(stem)
        if not fallback_name or not fallback_version:
            log.debug("Ignoring unreadable distribution %s", path)
            return None
        name = name or fallback_name
        version = version or fallback_version
    installer = None
    if is_dir:
        raw = _read_small(f"{path}/INSTALLER")
        installer = raw.decode("utf-8", "replace").strip() or None if raw is not None else None
    return InstalledDist(
        name=name,
        canonical_name=canonicalize_name(name),
        version=version,
        path=Path(path),
        installer=installer,
        requested=False,
        editable=False,
        direct_url=None,
    )


def scan_site_packages(dirs: Sequence[Path]) -> dict[str, list[InstalledDist]]:
    """Index the distributions installed in `dirs`, keyed by canonical name.

    A name maps to a list because an environment can hold duplicates (two versions left by
    a broken tool, or the same project in purelib and platlib); callers decide what to do.
    Missing directories are skipped; a directory listed twice is scanned once.
    """
    found: dict[str, list[InstalledDist]] = {}
    for path, is_dir, legacy in distribution_entries(dirs):
        dist = _read_egg_info(path, is_dir) if legacy else _read_dist_info(path)
        if dist is not None:
            found.setdefault(dist.canonical_name, []).append(dist)
    return found


def distribution_entries(dirs: Sequence[str | Path]) -> Iterator[tuple[str, bool, bool]]:
    """(path, is a directory, is legacy `.egg-info`) of each `.dist-info` directory and
    `.egg-info` entry in `dirs`, unread. Missing directories are skipped; a directory
    listed twice is listed once."""
    seen: set[str] = set()
    for directory in dirs:
        root = os.path.normpath(os.path.abspath(directory))
        if root in seen:
            continue
        seen.add(root)
        try:
            entries = os.scandir(root)
        except (FileNotFoundError, NotADirectoryError):
            continue
        with entries:
            for entry in entries:
                name = entry.name
                if name.endswith(".dist-info"):
                    if entry.is_dir():
                        yield entry.path, True, False
                elif name.endswith(".egg-info"):
                    yield entry.path, entry.is_dir(), True
