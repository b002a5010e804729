"""Direct references: `name @ URL`, bare URLs, local paths and `-e PATH` (PEP 440/508/610).

A direct reference names where a distribution comes from instead of letting the resolver
pick a version from an index. Accepted forms (pip's and uv's):

- `name @ https://host/name-1.0.tar.gz#sha256=...`, `name @ file:///abs/dir`;
- a bare URL or path to a wheel or sdist (`./dist/name-1.0-py3-none-any.whl`), the name
  read from the file name;
- a local project directory (`.`, `./proj`, `/abs/proj[extra]`), the name read from its
  `pyproject.toml` or `setup.cfg` (else from its metadata once built: `named` is False);
- git URLs: `git+https://host/repo@rev#subdirectory=sub&egg=name`, `git+file://...`;
- `-e PATH` (PEP 660 editable install of a local directory).

Relative paths are relative to the requirements file that names them (as uv), or the
current directory on the command line. Everything here is parsing: nothing is fetched.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

from wherry.errors import RequirementError

_NAMED = re.compile(r"^\s*[A-Za-z0-9][A-Za-z0-9._-]*\s*(\[[^\]]*\])?\s*@")
_EXTRAS = re.compile(r"^(?P<base>.*?)(?P<extras>\[[A-Za-z0-9._,\s-]*\])?$")
_ARCHIVES = (".whl", ".tar.gz", ".zip", ".tar.bz2", ".tar.xz", ".tgz", ".tar")
_VCS = ("git+",)
_SCHEMES = ("http", "https", "file")


def looks_direct(text: str) -> bool:
    """Whether `text` is a path or URL rather than a PEP 508 `name...` requirement."""
    stripped = text.strip()
    if _NAMED.match(stripped):
        return False
    head = re.split(r"[\s;]", stripped, maxsplit=1)[0]
    return ("://" in head or head.startswith((".", "/", "~")) or "/" in head
            or os.sep in head or head.lower().endswith(_ARCHIVES))


def _name_from_filename(filename: str) -> str | None:
    from packaging.utils import (
        InvalidSdistFilename,
        InvalidWheelFilename,
        parse_sdist_filename,
        parse_wheel_filename,
    )

    try:
        if filename.endswith(".whl"):
            return str(parse_wheel_filename(filename)[0])
        return str(parse_sdist_filename(filename)[0])
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None


def _fragment_value(url: str, key: str) -> str | None:
    fragment = urlsplit(url).fragment
    for part in fragment.split("&"):
        name, sep, value = part.partition("=")
        if sep and name == key:
            return value
    return None


def _guess_name(path: Path) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", path.name).strip("-._")
    return cleaned or "unnamed"


def parse_direct(
    text: str, source: str, *, editable: bool = False, base_dir: Path | None = None
) -> tuple[str, str, bool]:
    """`(name, url, named)` for a path or URL requirement (optionally `[extras]`).

    `named` is False when the name is a placeholder until the project's metadata is
    read (a directory without static metadata)."""
    match = _EXTRAS.match(text.strip())
    assert match is not None
    base, extras = match["base"].strip(), match["extras"] or ""
    if "://" in base:
        url = base
        scheme = urlsplit(url).scheme.lower()
        if scheme.startswith(_VCS):
            name = _fragment_value(url, "egg")
            if editable:
                raise RequirementError(
                    f"editable installs of git URLs are not supported: `{text}` ({source})",
                    hint="clone the repository and install it with `-e PATH`")
            return _named(name, url, text, source, extras)
        if scheme not in _SCHEMES:
            raise RequirementError(f"unsupported URL scheme `{scheme}` in `{text}` ({source})",
                                   hint="use http(s)://, file:// or git+https://")
        if scheme == "file":
            path = Path(unquote(urlsplit(url).path))
            return _local(path, text, source, editable, extras)
        filename = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
        if editable:
            raise RequirementError(f"`-e` needs a local directory, not `{text}` ({source})")
        return _named(_name_from_filename(filename), url, text, source, extras)
    path = Path(os.path.expanduser(base))
    if not path.is_absolute():
        path = (base_dir or Path.cwd()) / path
    return _local(path, text, source, editable, extras)


def _named(name: str | None, url: str, text: str, source: str,
           extras: str) -> tuple[str, str, bool]:
    if name is None:
        raise RequirementError(
            f"cannot tell which package `{text}` is ({source})",
            hint="write it as `name @ URL` (or add `#egg=name` to a git URL)")
    return name + extras, url, True


def _local(path: Path, text: str, source: str, editable: bool,
           extras: str) -> tuple[str, str, bool]:
    from wherry.build.project import project_name

    path = Path(os.path.abspath(path))
    if not path.exists():
        raise RequirementError(f"`{text}` ({source}) does not exist: {path}",
                               hint="check the path; relative paths in a requirements file "
                               "are relative to that file")
    url = path.as_uri()
    if path.is_dir():
        name = project_name(path)
        if name is not None:
            return name + extras, url, True
        return _guess_name(path) + extras, url, False
    if editable:
        raise RequirementError(f"`-e` needs a project directory, not the file {path} "
                               f"({source})")
    name = _name_from_filename(path.name)
    if name is None:
        raise RequirementError(
            f"`{text}` ({source}) is not a wheel or source distribution file name",
            hint="wheels are name-version-python-abi-platform.whl; sdists name-version.tar.gz")
    return name + extras, url, True
