"""PEP 751 lock files (`pylock.toml`), written by `pip compile --format pylock.toml`.

One `[[packages]]` table per pinned package (with its marker in a universal lock), with
its sdist and wheels, each with its URL, upload time, size and hashes, so an installer
can pick the file for its platform and verify it. The layout is uv's. The TOML is written
by hand (the standard library reads TOML but does not write it); strings are emitted
as basic strings with JSON escapes, which TOML shares.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass
class LockFileEntry:
    """One file of a locked package (`sdist` or an item of `wheels`)."""

    url: str
    hashes: Mapping[str, str]
    name: str | None = None
    size: int | None = None
    upload_time: str | None = None  # RFC 3339, UTC (`2024-01-01T00:00:00Z`)


@dataclass
class LockPackage:
    name: str
    version: str
    marker: str | None = None
    index: str | None = None
    requires_python: str | None = None
    sdist: LockFileEntry | None = None
    wheels: list[LockFileEntry] = field(default_factory=list)
    # Direct references (PEP 751): a local project, an archive by URL, a VCS checkout.
    directory: tuple[str, bool] | None = None  # (path, editable)
    archive: LockFileEntry | None = None
    vcs: Mapping[str, str] | None = None  # type, url, requested-revision, commit-id


def _string(value: str) -> str:
    return json.dumps(value)


def _file_table(entry: LockFileEntry) -> str:
    parts: list[str] = []
    if entry.name is not None:
        parts.append(f"name = {_string(entry.name)}")
    parts.append(f"url = {_string(entry.url)}")
    if entry.upload_time is not None:
        parts.append(f"upload-time = {entry.upload_time}")
    if entry.size is not None:
        parts.append(f"size = {entry.size}")
    hashes = ", ".join(f"{algo} = {_string(digest)}" for algo, digest in sorted(
        entry.hashes.items()))
    parts.append(f"hashes = {{ {hashes} }}")
    return "{ " + ", ".join(parts) + " }"


def render_pylock(
    packages: Sequence[LockPackage], *, requires_python: str | None, header: Sequence[str] = (),
) -> str:
    """The text of a `pylock.toml` (lock-version 1.0) for `packages`, sorted by name."""
    lines = list(header)
    lines.append('lock-version = "1.0"')
    lines.append('created-by = "wherry"')
    if requires_python:
        lines.append(f"requires-python = {_string(requires_python)}")
    for package in packages:
        lines.append("")
        lines.append("[[packages]]")
        lines.append(f"name = {_string(package.name)}")
        if package.directory is None and package.vcs is None:
            # PEP 751: no version for a source tree, whose code may change under it.
            lines.append(f"version = {_string(package.version)}")
        if package.marker:
            lines.append(f"marker = {_string(package.marker)}")
        if package.requires_python:
            lines.append(f"requires-python = {_string(package.requires_python)}")
        if package.index:
            lines.append(f"index = {_string(package.index)}")
        if package.directory is not None:
            path, editable = package.directory
            lines.append(f"directory = {{ path = {_string(path)}, editable = "
                         f"{'true' if editable else 'false'} }}")
        if package.vcs is not None:
            fields = ", ".join(f"{key} = {_string(value)}" for key, value in package.vcs.items())
            lines.append(f"vcs = {{ {fields} }}")
        if package.archive is not None:
            lines.append(f"archive = {_file_table(package.archive)}")
        if package.sdist is not None:
            lines.append(f"sdist = {_file_table(package.sdist)}")
        if len(package.wheels) == 1:
            lines.append(f"wheels = [{_file_table(package.wheels[0])}]")
        elif package.wheels:
            lines.append("wheels = [")
            lines.extend(f"    {_file_table(wheel)}," for wheel in package.wheels)
            lines.append("]")
    return "\n".join(lines) + "\n"
