"""Link modes: how files get from the unpacked-wheel cache into an environment.

Installing is mostly putting files in place, so the cheapest way to do that decides the
install time: a hard link (or a copy-on-write clone) costs one system call per file and no
data copy, which is where uv's speed comes from. When the cache is on another filesystem
neither works, so each mode falls back to the next one (clone → hardlink → copy), warning
once per process when it has to copy.

The default is `clone` (a reflink: `FICLONE` on Linux, as uv), which on filesystems without
reflinks (ext4, tmpfs) silently becomes `hardlink`. What works is found out once per
(cache filesystem, environment filesystem) pair and remembered in a `LinkSupport` map that
the caller shares between the wheels of one install, so a failing `FICLONE` costs one
system call per install, not one per file. `symlink` links
into the cache itself: such an environment breaks when `wherry cache clean` (or prune)
removes the unpacked wheels it points at. RECORD is always a real file.

The mode comes from `--link-mode`, else `WHERRY_LINK_MODE`, else `DEFAULT_LINK_MODE`
(`resolve_link_mode`).
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Callable, Iterable
from typing import Literal, Union

from wherry.errors import UsageError
from wherry.output import log, trace

LinkMode = Literal["clone", "hardlink", "copy", "symlink"]
DEFAULT_LINK_MODE: LinkMode = "clone"
LINK_MODES: tuple[LinkMode, ...] = ("clone", "hardlink", "copy", "symlink")

StrPath = Union[str, "os.PathLike[str]"]

# linux/fs.h: _IOW(0x94, 9, int)
_FICLONE = 0x40049409
# Errors meaning "this filesystem pair cannot do that", as opposed to a real failure.
_CLONE_UNSUPPORTED = frozenset(
    {errno.EXDEV, errno.EOPNOTSUPP, errno.ENOTTY, errno.EINVAL, errno.ENOSYS, errno.EPERM,
     errno.EBADF}
)
_LINK_UNSUPPORTED = frozenset({errno.EXDEV, errno.EPERM, errno.EACCES, errno.ENOTSUP})

# What the careful path of `link_tree` deals with when a hard link fails (an existing
# destination, a missing parent, a full link count, a filesystem that cannot); any other
# error is a real failure.
_CAREFUL_ERRORS = frozenset({errno.EEXIST, errno.ENOENT, errno.EMLINK}) | _LINK_UNSUPPORTED

_warned_copy = False
# (device of the source, device of the destination directory, requested mode) -> the mode
# that works for that pair, learnt from the first failure.
LinkSupport = dict[tuple[int, int, str], LinkMode]


def resolve_link_mode(requested: str | None) -> LinkMode:
    """`--link-mode` if given, else `WHERRY_LINK_MODE`, else the default (clone)."""
    if requested:
        value, origin = requested, "--link-mode"
    else:
        value, origin = os.environ.get("WHERRY_LINK_MODE", "").strip(), "WHERRY_LINK_MODE"
        if not value:
            return DEFAULT_LINK_MODE
    for mode in LINK_MODES:
        if value.lower() == mode:
            return mode
    raise UsageError(
        f"invalid {origin} value {value!r}",
        hint="use one of: " + ", ".join(LINK_MODES),
    )


def _warn_copy_fallback(reason: str, source: StrPath, destination: StrPath) -> None:
    global _warned_copy
    if not _warned_copy:
        _warned_copy = True
        log.warning(
            "Failed to hardlink files; falling back to full copy. This may lead to degraded "
            "performance. The cache (%s) and the target environment (%s) are probably on "
            "different filesystems, where hardlinks are impossible (%s). If this is "
            "intentional, use `--link-mode copy` (or WHERRY_LINK_MODE=copy) to suppress "
            "this warning.",
            os.path.dirname(os.fspath(source)), os.path.dirname(os.fspath(destination)),
            reason,
        )


def _replace_existing(
    destination: StrPath, on_exists: Callable[[StrPath], None] | None
) -> None:
    """Get an existing destination out of the way, via the caller's hook if there is one."""
    if on_exists is not None:
        on_exists(destination)
        if not os.path.lexists(destination):
            return
    if os.path.isdir(destination) and not os.path.islink(destination):
        raise IsADirectoryError(errno.EISDIR, "is a directory, not replacing it", destination)
    os.unlink(destination)


def _ensure_parent(destination: StrPath) -> None:
    os.makedirs(os.path.dirname(os.fspath(destination)), exist_ok=True)


def _copy(source: StrPath, destination: StrPath) -> None:
    import shutil

    shutil.copyfile(source, destination)
    shutil.copymode(source, destination)


def _clone(source: StrPath, destination: StrPath) -> None:
    """Copy-on-write clone with FICLONE; raises OSError with the ioctl's errno on failure."""
    import fcntl

    with open(source, "rb") as src:
        fd = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            fcntl.ioctl(fd, _FICLONE, src.fileno())
            os.fchmod(fd, os.fstat(src.fileno()).st_mode & 0o7777)
        except BaseException:
            os.close(fd)
            os.unlink(destination)
            raise
        os.close(fd)


def _place(
    mode: LinkMode,
    source: StrPath,
    destination: StrPath,
    on_exists: Callable[[StrPath], None] | None,
) -> None:
    """One file in `mode`, creating parents and replacing an existing destination."""
    if mode == "hardlink":
        operation: Callable[[StrPath, StrPath], None] = os.link
    elif mode == "copy":
        operation = _copy_exclusive
    elif mode == "symlink":
        operation = _symlink
    else:
        operation = _clone
    for attempt in range(3):
        try:
            operation(source, destination)
            return
        except FileExistsError:
            if attempt == 2:
                raise
            _replace_existing(destination, on_exists)
        except FileNotFoundError:
            if attempt == 2 or not os.path.lexists(source):
                raise
            _ensure_parent(destination)


def _copy_exclusive(source: StrPath, destination: StrPath) -> None:
    # O_EXCL so an existing destination goes through the same replace path as links.
    fd = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    try:
        _copy(source, destination)
    except BaseException:
        os.unlink(destination)
        raise


def _symlink(source: StrPath, destination: StrPath) -> None:
    os.symlink(os.path.abspath(source), destination)


def _device_of(path: StrPath) -> int:
    """The device of `path`, or of its nearest existing ancestor."""
    current = os.path.abspath(os.fspath(path))
    while True:
        try:
            return os.stat(current).st_dev
        except OSError:
            parent = os.path.dirname(current)
            if parent == current:
                return -1
            current = parent


def _pair_key(source: StrPath, destination: StrPath, mode: LinkMode) -> tuple[int, int, str]:
    parent = os.path.dirname(os.path.abspath(os.fspath(destination)))
    return (_device_of(source), _device_of(parent), mode)


def link_tree(
    files: Iterable[tuple[StrPath, StrPath]],
    mode: LinkMode,
    *,
    on_exists: Callable[[StrPath], None] | None = None,
    created: list[StrPath] | None = None,
    support: LinkSupport | None = None,
) -> LinkMode:
    """Place each `(source, destination)` file using `mode`; returns the mode really used.

    Parent directories are created as needed. An existing destination is replaced; if
    `on_exists` is given it is called first (a transaction moves the file aside there).
    Each destination is appended to `created` once it exists, so a caller can undo a
    partial run. `clone` falls back to `hardlink` and `hardlink` to `copy` when the
    filesystems cannot do it (the fallback sticks for the remaining files, and for later
    calls given the same `support` map between the same two filesystems).
    """
    if support is None:
        support = {}
    current: LinkMode = mode
    if current == "clone" and not sys.platform.startswith("linux"):
        current = "hardlink"
    key: tuple[int, int, str] | None = None
    link = os.link
    append = created.append if created is not None else None
    for source, destination in files:
        if current == "hardlink" and key is not None:
            # The common case, thousands of times per install: one system call and no
            # other work. A failure it knows (`_CAREFUL_ERRORS`) goes the careful way.
            try:
                link(source, destination)
            except OSError as error:
                if error.errno not in _CAREFUL_ERRORS:
                    raise
            else:
                if append is not None:
                    append(destination)
                continue
        if key is None and current in ("clone", "hardlink"):
            key = _pair_key(source, destination, mode)
            current = support.get(key, current)
        while True:
            try:
                _place(current, source, destination, on_exists)
                break
            except OSError as error:
                if current == "hardlink" and error.errno == errno.EMLINK:
                    # Too many links to this one inode: copy just this file.
                    _place("copy", source, destination, on_exists)
                    break
                current = _fallback(current, error, source, destination)
                if key is not None:
                    support[key] = current
        if append is not None:
            append(destination)
    return current


def _fallback(
    mode: LinkMode, error: OSError, source: StrPath, destination: StrPath
) -> LinkMode:
    """The next mode to try after `error`, or re-raise it when it is a real failure."""
    if mode == "clone" and error.errno in _CLONE_UNSUPPORTED:
        trace("Cloning is not supported here (%s); using hardlinks", error.strerror)
        return "hardlink"
    if mode == "hardlink" and error.errno in _LINK_UNSUPPORTED:
        _warn_copy_fallback(str(error.strerror), source, destination)
        return "copy"
    raise error
