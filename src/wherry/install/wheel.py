"""Install an unpacked wheel (PEP 427/491) into an environment by linking its files.

The general-purpose installers stream every file out of the zip, copy it and hash it again
(`installer`: 231-323 ms for 1,000 files). Here the wheel was already unzipped and verified
into the archive cache, so installing is: plan where each file goes (data in, data out),
create the directories, hard-link the files, and write the few files whose content is ours
(rewritten `#!python` scripts, entry-point launchers, INSTALLER, REQUESTED,
direct_url.json, RECORD). RECORD rows for linked files reuse the wheel's own hashes, which
the unpacker checked, so nothing is hashed twice (about 30 ms for 1,000 files).

Every path this creates is reported to a `Transaction`, and every existing file it replaces
is moved aside through it first, so a failure part-way leaves the environment untouched.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import shlex
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from wherry.cache.entry import write_and_close
from wherry.errors import InstallError, WheelError
from wherry.install.link import DEFAULT_LINK_MODE, LinkMode, LinkSupport, StrPath, link_tree
from wherry.install.record import RecordRow, format_record, hash_bytes, read_record
from wherry.install.transaction import Transaction
from wherry.output import log, trace

SCHEME_KEYS = ("purelib", "platlib", "headers", "scripts", "data")
# Files in the dist-info that the installer writes itself instead of linking.
_OWN_METADATA = frozenset({"RECORD", "INSTALLER", "REQUESTED", "direct_url.json", "RECORD.jws",
                           "RECORD.p7s"})
_ENTRY_POINT_RE = re.compile(
    r"^(?P<module>[\w.]+)\s*(:\s*(?P<attrs>[\w.]+))\s*(?P<extras>\[.*\])?\s*$"
)
# uv's launcher script: pip's strips the suffix with `re.sub`, which makes every console
# script import `re` (~5 ms of start-up) before the program runs.
_SCRIPT_TEMPLATE = """\
# -*- coding: utf-8 -*-
import sys
from {module} import {import_name}
if __name__ == "__main__":
    if sys.argv[0].endswith("-script.pyw"):
        sys.argv[0] = sys.argv[0][:-11]
    elif sys.argv[0].endswith(".exe"):
        sys.argv[0] = sys.argv[0][:-4]
    sys.exit({func_path}())
"""
_MAX_SHEBANG = 127
# Scripts that would replace the environment's own interpreter or activation scripts.
_RESERVED_SCRIPT_RE = re.compile(r"^(python(3(\.\d+)?)?w?|activate(\.\w+)?|deactivate)$")


# The classes below are plain (`__slots__`, no msgspec or dataclasses): this module is on
# the path of the command replay's install (cli/replay_install.py), where importing
# msgspec alone would cost ~12 ms.


class InstalledFiles:
    """What an install created: the dist-info and every file and directory made."""

    __slots__ = ("created", "dist_info", "link_mode", "overwritten")

    def __init__(self, dist_info: Path, created: list[str],
                 overwritten: list[Path] | None = None,
                 link_mode: LinkMode = DEFAULT_LINK_MODE) -> None:
        self.dist_info = dist_info
        self.created = created
        self.overwritten = [] if overwritten is None else overwritten
        self.link_mode: LinkMode = link_mode

    def __repr__(self) -> str:
        return (f"InstalledFiles(dist_info={self.dist_info!r}, {len(self.created)} created, "
                f"link_mode={self.link_mode!r})")

    @property
    def paths(self) -> list[Path]:
        """`created` as `Path`s, built only when asked for: an install makes thousands."""
        return [Path(p) for p in self.created]


class EntryPointScript:
    """One `console_scripts`/`gui_scripts` entry."""

    __slots__ = ("attr", "gui", "module", "name")

    def __init__(self, name: str, module: str, attr: str, gui: bool) -> None:
        self.name = name
        self.module = module
        self.attr = attr
        self.gui = gui

    def _fields(self) -> tuple[str, str, str, bool]:
        return (self.name, self.module, self.attr, self.gui)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, EntryPointScript) and other._fields() == self._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        return "EntryPointScript(name={!r}, module={!r}, attr={!r}, gui={!r})".format(
            *self._fields())


# -- pure helpers ----------------------------------------------------------------------------


def shebang(interpreter: str) -> bytes:
    """A `#!` line for `interpreter`, or a `/bin/sh` exec trampoline when a plain one breaks.

    Linux truncates shebang lines at 127 bytes and splits them at spaces, so long paths or
    paths with spaces go through `/bin/sh`; the trampoline is also valid Python (a string).
    """
    raw = interpreter.encode("utf-8")
    if b" " not in raw and len(raw) + 3 <= _MAX_SHEBANG:
        return b"#!" + raw + b"\n"
    quoted = shlex.quote(interpreter).encode("utf-8")
    return b"#!/bin/sh\n'''exec' " + quoted + b' "$0" "$@"\n' + b"' '''\n"


def script_launcher(script: EntryPointScript, interpreter: str) -> bytes:
    """The bytes of a POSIX launcher for an entry point (the same code pip writes)."""
    code = _SCRIPT_TEMPLATE.format(
        module=script.module, import_name=script.attr.split(".")[0], func_path=script.attr
    )
    return shebang(interpreter) + code.encode("utf-8")


def rewrite_script(content: bytes, interpreter: str) -> bytes | None:
    """`.data/scripts` content with its `#!python`/`#!pythonw` line replaced, or None."""
    if not content.startswith(b"#!python"):
        return None
    _, newline, rest = content.partition(b"\n")
    return shebang(interpreter) + (rest if newline else b"")


def parse_entry_points(text: str, wheel_name: str) -> list[EntryPointScript]:
    """Console and GUI scripts from an `entry_points.txt` text."""
    scripts: list[EntryPointScript] = []
    section: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
            continue
        if section not in ("console_scripts", "gui_scripts"):
            continue
        name, sep, value = line.partition("=")
        name = name.strip()
        match = _ENTRY_POINT_RE.match(value.strip())
        if not sep or not match or not name:
            raise WheelError(f"{wheel_name}: invalid entry point {line!r} in [{section}]")
        if "/" in name or "\\" in name or name in (".", ".."):
            raise WheelError(f"{wheel_name}: invalid script name {name!r} in [{section}]")
        scripts.append(
            EntryPointScript(name, match["module"], match["attrs"], section == "gui_scripts")
        )
    return scripts


def header_map(text: str) -> dict[str, str]:
    """First value of each header in a small RFC 822 text (WHEEL, METADATA head)."""
    headers: dict[str, str] = {}
    # Split the header block only (see `install.site.header_values`).
    cuts = [i for i in (text.find("\n\n"), text.find("\n\r\n")) if i >= 0]
    if cuts:
        text = text[:min(cuts) + 1]
    for line in text.splitlines():
        if not line:
            break
        key, sep, value = line.partition(":")
        if sep and line[0] not in " \t":
            headers.setdefault(key.strip().lower(), value.strip())
    return headers


def check_script_name(name: str, wheel_name: str) -> None:
    """Refuse a script that would replace the environment's interpreter or `activate`."""
    if _RESERVED_SCRIPT_RE.match(name):
        raise WheelError(
            f"{wheel_name} wants to install a script named {name!r}, which would replace a "
            "file of the environment itself",
            hint="this is almost certainly a packaging mistake; report it to the project",
        )


def _unsafe(path: str) -> bool:
    return path.startswith(("/", "\\")) or ".." in path.replace("\\", "/").split("/")


# -- the install -----------------------------------------------------------------------------


class _Plan:
    """Where every file goes. `links` are (archive file, destination) pairs."""

    __slots__ = ("links", "record", "writes")

    def __init__(self) -> None:
        self.links: dict[str, str] = {}
        self.writes: dict[str, tuple[bytes, int]] = {}
        self.record: dict[str, tuple[str, str, str]] = {}


# A wheel filename without a build tag whose name and version need no normalising to
# compare: `name-1.2.3-py3-none-any.whl`. See `_check_names`.
_PLAIN_WHEEL = re.compile(
    r"(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._]*[A-Za-z0-9])?)"
    r"-(?P<version>[0-9]+(?:\.[0-9]+)*(?:(?:a|b|rc)[0-9]+)?(?:\.post[0-9]+)?(?:\.dev[0-9]+)?)"
    r"-[A-Za-z0-9._]+-[A-Za-z0-9._]+-[A-Za-z0-9._]+\.whl"
)


def _check_names(
    archive: Path, dist_info: str, filename: str
) -> tuple[str, str]:
    """Check the dist-info and METADATA against the filename; returns (name, version).

    When the filename is plain (`_PLAIN_WHEEL`: a valid PEP 440 version, no build tag)
    and the dist-info directory and METADATA spell the very same version, the names are
    compared in their PEP 503 form without `packaging`: its import (with `packaging.tags`)
    is ~10 ms a stored resolution never otherwise needs. Anything else takes the full
    check, whose answer for a plain name is the same."""
    try:
        with open(archive / dist_info / "METADATA", encoding="utf-8", errors="replace") as handle:
            metadata = header_map(handle.read(16384))
    except FileNotFoundError:
        metadata = None
    dir_name, _, dir_version = dist_info[: -len(".dist-info")].partition("-")
    meta_name = metadata.get("name", "") if metadata is not None else ""
    meta_version = metadata.get("version", "") if metadata is not None else ""
    plain = _PLAIN_WHEEL.fullmatch(os.path.basename(filename))
    if plain is not None and metadata is not None and (
        plain.group("version") == dir_version == meta_version
    ):
        from wherry.install.site import canonicalize_name

        wanted_name = canonicalize_name(plain.group("name"))
        if canonicalize_name(dir_name) == wanted_name == canonicalize_name(meta_name):
            return meta_name, meta_version
    from packaging.utils import (
        InvalidWheelFilename,
        canonicalize_name,
        canonicalize_version,
        parse_wheel_filename,
    )

    try:
        name, version, _, _ = parse_wheel_filename(os.path.basename(filename))
    except InvalidWheelFilename as error:
        raise WheelError(f"invalid wheel filename {filename!r}: {error}") from None
    if metadata is None:
        raise WheelError(f"{filename} has no {dist_info}/METADATA")
    wanted = canonicalize_version(version)
    if canonicalize_name(dir_name) != name or canonicalize_name(meta_name) != name:
        raise WheelError(
            f"{filename}: its metadata is for {meta_name or dir_name!r}, not {name!r}",
            hint="the wheel's file name does not match its contents",
        )
    for found in (dir_version, meta_version):
        if found and canonicalize_version(found) != wanted:
            raise WheelError(
                f"{filename}: its metadata is for version {found}, not {version}",
                hint="the wheel's file name does not match its contents",
            )
    return meta_name, meta_version or str(version)


def _find_dist_info(archive: Path, filename: str) -> str:
    try:
        names = [n for n in os.listdir(archive) if n.endswith(".dist-info")]
    except FileNotFoundError:
        raise WheelError(f"unpacked wheel {archive} does not exist") from None
    if len(names) != 1:
        raise WheelError(f"{filename}: expected one .dist-info directory, found {len(names)}")
    return names[0]


def _scheme_dir(scheme: Mapping[str, str], key: str, project: str) -> str:
    if key == "headers":
        if "headers" in scheme:
            return os.path.abspath(scheme["headers"])
        return os.path.join(os.path.abspath(scheme["include"]), project)
    return os.path.abspath(scheme[key])


def plan_install(
    archive: Path,
    rows: list[RecordRow],
    *,
    dist_info: str,
    filename: str,
    project: str,
    root: str,
    scheme: Mapping[str, str],
    interpreter: str,
) -> _Plan:
    """Map every RECORD row of the unpacked wheel to its destination."""
    plan = _Plan()
    links, record = plan.links, plan.record
    data_dir = dist_info[: -len(".dist-info")] + ".data"
    prefixes: dict[str, tuple[str, str]] = {}
    # Destinations are built by concatenation, not `os.path.join` (a Python function,
    # called thousands of times here): `root` is absolute and normal, and a RECORD path
    # that is not normal (`./`, `//`, `/.`) is normalised first, so every destination is
    # an absolute normal path and the transaction need not normalise it again.
    archive_prefix = os.path.join(str(archive), "")
    root_prefix = os.path.join(root, "")
    for row in rows:
        path = row.path
        if not path or path[-1] == "/":
            continue
        if path[0] in "/\\" or (".." in path and _unsafe(path)):
            raise WheelError(f"{filename}: RECORD names an unsafe path {path!r}")
        target = path
        if "/." in path or "//" in path or path[0] == ".":
            target = posixpath.normpath(path)
        source = archive_prefix + path
        first, _, rest = target.partition("/")
        if first == dist_info and rest in _OWN_METADATA:
            continue
        if first != data_dir:
            destination = root_prefix + target
            links[destination] = source
            record[destination] = (path, row.hash, row.size)
            continue
        key, _, sub = rest.partition("/")
        if not sub:
            continue
        if key not in SCHEME_KEYS:
            raise WheelError(f"{filename}: unknown data directory {first}/{key}")
        if key not in prefixes:
            directory = _scheme_dir(scheme, key, project)
            prefixes[key] = (directory, os.path.relpath(directory, root).replace(os.sep, "/"))
        directory, relative = prefixes[key]
        destination = os.path.join(directory, sub)
        record_path = sub if relative == "." else f"{relative}/{sub}"
        if key == "scripts":
            check_script_name(sub, filename)
            with open(source, "rb") as handle:
                content = handle.read(8)
                if content == b"#!python":
                    content += handle.read()
                    rewritten = rewrite_script(content, interpreter)
                    if rewritten is not None:
                        plan.links.pop(destination, None)
                        plan.writes[destination] = (rewritten, 0o755)
                        plan.record[destination] = (
                            record_path, hash_bytes(rewritten), str(len(rewritten)))
                        continue
            mode = os.stat(source).st_mode
            if not mode & 0o111:
                # Scripts must be executable; the archive copy gets the bit too (harmless).
                os.chmod(source, mode | ((mode & 0o444) >> 2))
        plan.writes.pop(destination, None)
        plan.links[destination] = source
        plan.record[destination] = (record_path, row.hash, row.size)
    return plan


def _missing_dirs(directories: set[str]) -> list[str]:
    """The directories among these, and their ancestors, that do not exist yet, parents
    first. One `lstat` per directory whose parent exists: a directory whose parent is
    missing is missing too (the environment is locked), so a new package's tree costs one
    system call however deep it is."""
    missing: set[str] = set()
    for directory in sorted(directories):
        if directory in missing:
            continue
        parent = directory.rpartition(os.sep)[0]
        if parent in missing:
            missing.add(directory)
            continue
        chain: list[str] = []
        current = directory
        while not os.path.lexists(current):
            chain.append(current)
            parent = os.path.dirname(current)
            if parent == current or parent in missing:
                break
            current = parent
        missing.update(chain)
    return sorted(missing)


def _new_roots(missing: list[str], files: list[str]) -> list[str]:
    """What a killed install must delete to undo itself: the top-most new directories
    (deleting one deletes everything placed under it) and the files outside them that
    do not exist yet. The journal lists these instead of every path (tens, not
    thousands, per wheel)."""
    missing_set = set(missing)
    roots = [d for d in missing if d.rpartition(os.sep)[0] not in missing_set]
    roots.extend(f for f in files
                 if f.rpartition(os.sep)[0] not in missing_set and not os.path.lexists(f))
    return roots


def _make_dirs(missing: list[str], created: list[StrPath]) -> None:
    """Create the missing directories (parents first, as `_missing_dirs` lists them),
    appending each to `created`."""
    for directory in missing:
        try:
            os.mkdir(directory)
        except FileExistsError:
            continue
        created.append(directory)


def _write_new(
    path: str, data: bytes, mode: int, on_exists: Callable[[StrPath], None]
) -> None:
    for attempt in range(2):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        except FileExistsError:
            if attempt:
                raise
            on_exists(path)
            continue
        try:
            write_and_close(fd, data)
            if mode & 0o111:
                os.chmod(path, mode)  # the umask must not take the exec bit away
        except BaseException:
            os.unlink(path)
            raise
        return


def install_wheel(
    archive: Path,
    *,
    filename: str,
    scheme: Mapping[str, str],
    interpreter: str,
    requested: bool,
    link_mode: LinkMode = DEFAULT_LINK_MODE,
    installer: str = "wherry",
    direct_url: Mapping[str, Any] | None = None,
    transaction: Transaction | None = None,
    link_support: LinkSupport | None = None,
) -> InstalledFiles:
    """Install the unpacked wheel at `archive` into `scheme`; see the module docstring.

    `scheme` maps `purelib`, `platlib`, `scripts`, `data` and `include` (or `headers`) to
    absolute directories. Without a `transaction` the install runs in its own one, so it is
    still all-or-nothing; pass the caller's to make it part of a larger change. Pass
    the same `link_support` map to every wheel of one install so what the filesystems
    support is found out once.
    """
    if transaction is None:
        prefix = os.path.commonpath([os.path.abspath(v) for v in scheme.values()])
        with Transaction(Path(prefix)) as own:
            return install_wheel(
                archive, filename=filename, scheme=scheme, interpreter=interpreter,
                requested=requested, link_mode=link_mode, installer=installer,
                direct_url=direct_url, transaction=own, link_support=link_support,
            )
    planned = plan_wheel(archive, filename=filename, scheme=scheme, interpreter=interpreter,
                         requested=requested, installer=installer, direct_url=direct_url)
    return place_wheel(planned, transaction, link_mode=link_mode, link_support=link_support)


class PlannedWheel:
    """A wheel's install worked out and checked, nothing written yet (`plan_wheel`).

    Planning reads only the unpacked wheel; `place_wheel` then writes only the paths in
    `destinations`, which is what lets the wheels of one install be placed side by side
    when no two of them write the same path (`commands/apply.py`).
    """

    __slots__ = ("dist_info", "filename", "plan", "target_info")

    def __init__(self, filename: str, dist_info: str, target_info: str, plan: _Plan) -> None:
        self.filename = filename
        self.dist_info = dist_info
        self.target_info = target_info
        self.plan = plan

    @property
    def record_path(self) -> str:
        return os.path.join(self.target_info, "RECORD")

    @property
    def destinations(self) -> list[str]:
        """Every file this install writes, RECORD included."""
        return [*self.plan.links, *self.plan.writes, self.record_path]


def plan_wheel(
    archive: Path,
    *,
    filename: str,
    scheme: Mapping[str, str],
    interpreter: str,
    requested: bool,
    installer: str = "wherry",
    direct_url: Mapping[str, Any] | None = None,
) -> PlannedWheel:
    """Check the unpacked wheel at `archive` and map each of its files to its place."""
    archive = Path(archive)
    dist_info = _find_dist_info(archive, filename)
    project, _ = _check_names(archive, dist_info, filename)
    with open(archive / dist_info / "WHEEL", encoding="utf-8", errors="replace") as handle:
        wheel_headers = header_map(handle.read())
    wheel_version = wheel_headers.get("wheel-version", "1.0")
    if not wheel_version.startswith("1."):
        raise WheelError(f"{filename} has Wheel-Version {wheel_version}; wherry supports 1.x")
    purelib = wheel_headers.get("root-is-purelib", "true").lower() == "true"
    root = os.path.abspath(scheme["purelib"] if purelib else scheme["platlib"])
    try:
        rows = read_record(archive / dist_info / "RECORD")
    except FileNotFoundError:
        raise WheelError(f"{filename} has no {dist_info}/RECORD") from None

    plan = plan_install(
        archive, rows, dist_info=dist_info, filename=filename, project=project, root=root,
        scheme=scheme, interpreter=interpreter,
    )
    scripts_dir = _scheme_dir(scheme, "scripts", project)
    scripts_prefix = os.path.relpath(scripts_dir, root).replace(os.sep, "/")
    entry_points = archive / dist_info / "entry_points.txt"
    if entry_points.is_file():
        text = entry_points.read_text("utf-8", errors="replace")
        for script in parse_entry_points(text, filename):
            check_script_name(script.name, filename)
            content = script_launcher(script, interpreter)
            destination = os.path.join(scripts_dir, script.name)
            plan.links.pop(destination, None)
            plan.writes[destination] = (content, 0o755)
            plan.record[destination] = (
                f"{scripts_prefix}/{script.name}", hash_bytes(content), str(len(content)))
    target_info = os.path.join(root, dist_info)
    own_files: dict[str, bytes] = {"INSTALLER": f"{installer}\n".encode()}
    if requested:
        own_files["REQUESTED"] = b""
    if direct_url is not None:
        own_files["direct_url.json"] = json.dumps(dict(direct_url), sort_keys=True).encode()
    for name, content in own_files.items():
        destination = os.path.join(target_info, name)
        plan.writes[destination] = (content, 0o644)
        plan.record[destination] = (f"{dist_info}/{name}", hash_bytes(content),
                                    str(len(content)))
    return PlannedWheel(filename, dist_info, target_info, plan)


def place_wheel(
    planned: PlannedWheel,
    transaction: Transaction,
    *,
    link_mode: LinkMode = DEFAULT_LINK_MODE,
    link_support: LinkSupport | None = None,
) -> InstalledFiles:
    """Write a planned wheel's files as part of `transaction` (safe to run in several
    threads at once on one transaction, for wheels that write different paths)."""
    plan, filename = planned.plan, planned.filename
    overwritten: list[Path] = []

    def on_exists(path: StrPath) -> None:
        if os.path.isdir(path) and not os.path.islink(path):
            raise InstallError(
                f"cannot install {filename}: a directory is in the way at {os.fspath(path)}"
            )
        trace("Replacing existing file %s", path)
        overwritten.append(Path(path))
        transaction.remove([path])

    created: list[StrPath] = []
    used_mode = link_mode
    target_info = planned.target_info
    record_path = planned.record_path
    # Every path here is absolute and normal (see `plan_install`): `rpartition` is the
    # directory name, and the transaction may take them as they are.
    directories = {p.rpartition(os.sep)[0] for p in plan.links}
    directories.update(p.rpartition(os.sep)[0] for p in plan.writes)
    directories.add(target_info)
    # Journal what is about to be made, so a killed process's leftovers can be undone.
    missing = _missing_dirs(directories)
    transaction.intend(_new_roots(missing, planned.destinations), normal=True)
    try:
        _make_dirs(missing, created)
        used_mode = link_tree(
            ((source, destination) for destination, source in plan.links.items()),
            link_mode, on_exists=on_exists, created=created, support=link_support,
        )
        for destination, (content, mode) in plan.writes.items():
            _write_new(destination, content, mode, on_exists)
            created.append(destination)
        rows_out = [plan.record[d] for d in plan.record]
        rows_out.append((f"{planned.dist_info}/RECORD", "", ""))
        _write_new(record_path, format_record(rows_out), 0o644, on_exists)
        created.append(record_path)
    finally:
        transaction.created(created, normal=True)
    if overwritten:
        log.debug("%s replaced %d existing file(s)", filename, len(overwritten))
    return InstalledFiles(
        dist_info=Path(target_info),
        created=[os.fspath(p) for p in created],
        overwritten=overwritten,
        link_mode=used_mode,
    )
