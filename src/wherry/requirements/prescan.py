"""Project names read off simple requirements without parsing them: what the early page
requests need before `packaging` is imported.

Why: parsing requirements imports packaging's requirement parser (~17 ms: its tokenizer,
specifiers and tags modules), and no page request could leave before that was done. In
the common file (`name==version`, one per line) the names are plain to see. A line this
scanner does not fully understand (an option, a marker, a URL or path, a `${VAR}`, a line
continuation) makes it give up, and the caller parses first, as before. The full parse
always runs afterwards and decides what is resolved: the scan only lets the requests for
pages that will be read leave earlier; it never changes what is asked or answered.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

_VERSION = r"[A-Za-z0-9.*+!_-]+"
_CLAUSE = rf"(?:===|==|~=|!=|<=|>=|<|>)\s*{_VERSION}"
_SIMPLE = re.compile(
    r"(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*"
    r"(?:\[\s*[A-Za-z0-9._-]*(?:\s*,\s*[A-Za-z0-9._-]+)*\s*\])?\s*"
    rf"(?:\(?\s*{_CLAUSE}(?:\s*,\s*{_CLAUSE})*\s*\)?)?"
)
_COMMENT = re.compile(r"(^|\s+)#.*$")
_SEPARATORS = re.compile(r"[-_.]+")
# Files `-r` reads as project metadata rather than as requirement lines.
_METADATA_FILES = ("pyproject.toml", "setup.py", "setup.cfg")


def quick_names(requirements: Iterable[str], files: Iterable[Path]) -> list[str] | None:
    """The canonical names of `requirements` (command-line strings) and of the lines of
    `files`, in order and without repeats; None when anything is not a plain
    `name[extras] specifiers` requirement."""
    names: list[str] = []
    for text in requirements:
        if not _add(text, names):
            return None
    for path in files:
        if str(path) == "-" or path.name in _METADATA_FILES:
            return None
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None
        for line in text.splitlines():
            line = _COMMENT.sub("", line)
            if line.endswith("\\"):
                return None
            if line.strip() and not _add(line, names):
                return None
    return names


def _add(text: str, names: list[str]) -> bool:
    match = _SIMPLE.fullmatch(text.strip())
    if match is None:
        return False
    name = _SEPARATORS.sub("-", match.group("name")).lower()
    if name not in names:
        names.append(name)
    return True
