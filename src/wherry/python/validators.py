"""Stat validators of an interpreter's facts: which files, if changed, make what was
learned from the interpreter stale (DESIGN.md section 4), and the check that they hold.

Kept apart from `info.py` (which probes and caches) because the command replay
(cli/replay.py) checks the same validators before anything else is imported: this
module needs only `os` and `time`.

Hard validators must be unchanged (the executable, `pyvenv.cfg`, hook modules, `.pth`
files, the C library...). Site directories are soft: their stats move with every
install, so a change there only invalidates when the directory gained or lost an
interpreter hook (a `.pth` file or a `_manylinux`/`sitecustomize`/`usercustomize`).
"""

from __future__ import annotations

import os
import time

from wherry.output import trace

TYPE_CHECKING = False  # not `from typing import ...`: importing typing costs ~3 ms

if TYPE_CHECKING:
    from typing import Any

# Module names whose presence in a site directory changes the answer.
HOOK_PREFIXES = ("_manylinux", "sitecustomize", "usercustomize")
_CONTENT_LIMIT = 65536


def stat_tuple(path: str, *, follow: bool = True) -> list[int] | None:
    try:
        st = os.stat(path) if follow else os.lstat(path)
    except OSError:
        return None
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def link_target(path: str) -> str | None:
    """What the symlink at `path` points to (as written), or None if it is not one."""
    try:
        return os.readlink(path)
    except (OSError, ValueError):
        return None


def small_content(path: str) -> str | None:
    """The whole file (latin-1, so any bytes round-trip through JSON), or None when it
    does not exist or is larger than 64 KiB (then it is not validated by content)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        data = os.read(fd, _CONTENT_LIMIT + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    return data.decode("latin-1") if len(data) <= _CONTENT_LIMIT else None


def current_value(path: str, how: bool | str) -> object:
    """The value a hard validator compares: the symlink's target (`"link"`), the file's
    content (`"content"`), else its stat (following symlinks when `how` is true)."""
    if how == "link":
        return link_target(path)
    if how == "content":
        return small_content(path)
    return stat_tuple(path, follow=bool(how))


def scan_site_dir(path: str) -> list[list[Any]] | None:
    """The entries of a site directory that can change the probe's answer."""
    try:
        entries = list(os.scandir(path))
    except OSError:
        return None
    found: list[list[Any]] = []
    for entry in entries:
        name = entry.name
        if name.endswith(".pth") or name.startswith(HOOK_PREFIXES):
            try:
                st = entry.stat()
            except OSError:
                continue
            found.append([name, st.st_size, st.st_mtime_ns, st.st_ino])
    found.sort()
    return found


def _is_site_dir(path: str, info: dict[str, Any]) -> bool:
    name = os.path.basename(path.rstrip(os.sep))
    return name in ("site-packages", "dist-packages") or path in (
        info["scheme"]["purelib"],
        info["scheme"]["platlib"],
    )


def validators_of(executable: str, info: dict[str, Any]) -> dict[str, Any]:
    hard: list[list[Any]] = []
    soft: list[list[Any]] = []

    def add_hard(path: str, how: bool | str = True) -> None:
        hard.append([path, how, current_value(path, how)])

    # A symlinked executable (every venv's `bin/python`) is validated by where it
    # points, and `pyvenv.cfg` by its content: the answer depends on those, not on their
    # inodes or times, so a venv deleted and made again at the same path, from the same
    # base interpreter and with the same configuration, keeps its answer (as the same
    # venv would), while a venv made from another base or with other settings does not.
    # What the link leads to is validated by stat (the two entries below it).
    add_hard(executable, "link" if link_target(executable) is not None else False)
    add_hard(executable)
    add_hard(os.path.realpath(executable))
    pyvenv_cfg = os.path.join(info["prefix"], "pyvenv.cfg")
    add_hard(pyvenv_cfg, "content" if small_content(pyvenv_cfg) is not None else True)
    for origin in (info["manylinux"].get("origin"), info.get("sitecustomize")):
        if origin:
            add_hard(origin)
    user_site = info.get("user_site")
    if user_site and user_site not in info["sys_path"]:
        add_hard(user_site)  # absent now; its creation changes sys.path
    for library in info.get("libraries", []):
        add_hard(library)
    for entry in info["sys_path"]:
        if _is_site_dir(entry, info):
            st = stat_tuple(entry)
            soft.append([entry, st, scan_site_dir(entry)])
            for name, *_ in soft[-1][2] or []:
                if name.endswith(".pth"):
                    add_hard(os.path.join(entry, name))
        else:
            add_hard(entry)
    return {"hard": hard, "soft": soft, "written": time.time_ns()}


def still_valid(validators: dict[str, Any]) -> tuple[bool, bool]:
    """(valid, soft_changed): whether the entry holds, and whether its soft stats moved."""
    for path, how, expected in validators["hard"]:
        if current_value(path, how) != expected:
            trace("Interpreter cache validator changed: %s", path)
            return False, False
    soft_changed = False
    for item in validators["soft"]:
        path, expected, scan = item
        current = stat_tuple(path)
        if current == expected:
            continue
        if scan_site_dir(path) != scan:
            trace("Site directory gained or lost an interpreter hook: %s", path)
            return False, False
        item[1] = current
        soft_changed = True
    return True, soft_changed
