"""Unpack a wheel once into the immutable archive cache, verified against its RECORD.

Every later install of the same wheel links files from this unpacked tree instead of
unzipping again (DESIGN.md principle 2), so the tree must be trustworthy: it is keyed by the
wheel's sha256, built in a temporary directory, checked member by member (no path that
escapes, no symlinks, no duplicates, every file matching its RECORD hash and size) and only
then renamed into place with a completion marker. Because the installer reuses RECORD's
hashes instead of re-hashing, the verification here is what makes that shortcut safe.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import posixpath
import re
import shutil
import stat
import time
import zipfile
import zlib
from pathlib import Path

from wherry.cache.entry import persist_dir
from wherry.cache.layout import Cache
from wherry.errors import HashMismatch, WheelError
from wherry.install.archives import MARKER as MARKER
from wherry.install.archives import archive_path as archive_path
from wherry.install.record import (
    WEAK_ALGORITHMS,
    RecordRow,
    encode_digest,
    format_record,
    parse_record,
    split_hash,
)
from wherry.output import log, trace

_DRIVE_RE = re.compile(r"^[A-Za-z]:")
_TRUNCATED_HINT = "the file may be truncated or not a wheel; delete it and download it again"
# RECORD may list itself and its signatures without a hash (PEP 376/427).
_UNHASHED_OK = ("RECORD", "RECORD.jws", "RECORD.p7s")
_CHUNK = 1 << 20


def hash_file(path: Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in chunks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def unsafe_member_reason(name: str) -> str | None:
    """Why a zip member name must not be extracted, or None when it is safe."""
    if not name or "\x00" in name:
        return "an empty or NUL-containing name"
    if name.startswith(("/", "\\")):
        return "an absolute path"
    if _DRIVE_RE.match(name):
        return "a drive letter"
    parts = name.replace("\\", "/").split("/")
    if ".." in parts:
        return "a `..` component"
    if parts[0] == MARKER:
        return "a name reserved by wherry"
    return None


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


def _is_executable(info: zipfile.ZipInfo) -> bool:
    mode = info.external_attr >> 16
    return bool(mode & 0o111) and (stat.S_ISREG(mode) or stat.S_IFMT(mode) == 0)


def find_dist_info(names: list[str], wheel_name: str) -> str:
    """The single top-level `*.dist-info` directory of a wheel's members."""
    found = {n.split("/", 1)[0] for n in names if "/" in n}
    dist_infos = sorted(d for d in found if d.endswith(".dist-info"))
    if not dist_infos:
        raise WheelError(f"{wheel_name} has no .dist-info directory", hint=_TRUNCATED_HINT)
    if len(dist_infos) > 1:
        raise WheelError(
            f"{wheel_name} has more than one .dist-info directory: {', '.join(dist_infos)}"
        )
    return dist_infos[0]


def check_members(wheel_name: str, infos: list[zipfile.ZipInfo]) -> list[zipfile.ZipInfo]:
    """Refuse unsafe members before anything is written; returns the file members."""
    file_keys: set[str] = set()
    dir_keys: set[str] = set()
    files: list[zipfile.ZipInfo] = []
    for info in infos:
        name = info.filename
        reason = unsafe_member_reason(name)
        if reason is None and _is_symlink(info):
            reason = "a symbolic link"
        if reason is None:
            key = posixpath.normpath(name.rstrip("/"))
            if key in file_keys or (not info.is_dir() and key in dir_keys):
                reason = "a duplicate name"
            (dir_keys if info.is_dir() else file_keys).add(key)
        if reason is not None:
            raise unsafe_member_error(wheel_name, name, reason)
        if not info.is_dir():
            files.append(info)
    return files


def unsafe_member_error(wheel_name: str, name: str, reason: str) -> WheelError:
    """The refusal of a wheel for one member (`unsafe_member_reason`'s `reason`)."""
    return WheelError(
        f"{wheel_name} contains an unsafe member {name!r}: {reason}",
        hint="the wheel was not installed; report this to the project's maintainers",
    )


def record_index(rows: list[RecordRow]) -> dict[str, RecordRow]:
    index: dict[str, RecordRow] = {}
    for row in rows:
        index[row.path] = row
        normal = posixpath.normpath(row.path)
        index.setdefault(normal, row)
    return index


def verify_member(
    wheel_name: str, name: str, row: RecordRow | None, data_digest: dict[str, bytes], size: int
) -> None:
    """Check one extracted member against its RECORD row."""
    base = name.rsplit("/", 1)[-1]
    in_dist_info = name.count("/") == 1 and name.split("/", 1)[0].endswith(".dist-info")
    if row is None:
        if in_dist_info and base in _UNHASHED_OK:
            return
        raise WheelError(f"{wheel_name}: {name} is not listed in RECORD", hint=_TRUNCATED_HINT)
    if row.size and row.size.strip() != str(size):
        raise WheelError(
            f"{wheel_name}: {name} has size {size} but RECORD says {row.size}",
            hint=_TRUNCATED_HINT,
        )
    parsed = split_hash(row.hash)
    if parsed is None:
        if row.hash:
            raise WheelError(f"{wheel_name}: malformed RECORD hash for {name}: {row.hash!r}")
        if (in_dist_info and base in _UNHASHED_OK) or name.endswith(".pyc"):
            return
        raise WheelError(f"{wheel_name}: {name} has no hash in RECORD")
    algorithm, encoded = parsed
    actual = data_digest.get(algorithm)
    if actual is None or encode_digest(algorithm, actual) != f"{algorithm}={encoded}":
        raise WheelError(
            f"{wheel_name}: {name} does not match its RECORD hash",
            hint="the wheel is corrupt or was modified after it was built",
        )


def record_algorithm(wheel_name: str, row: RecordRow | None) -> str | None:
    if row is None:
        return None
    parsed = split_hash(row.hash)
    if parsed is None:
        return None
    algorithm = parsed[0]
    if algorithm in WEAK_ALGORITHMS or algorithm not in hashlib.algorithms_guaranteed:
        raise WheelError(
            f"{wheel_name}: RECORD uses the unsupported hash algorithm {algorithm!r}",
            hint="PEP 427 requires sha256 or stronger",
        )
    return algorithm


def _extract(wheel: Path, zf: zipfile.ZipFile, target: Path) -> None:
    """Extract and verify every member of an open wheel into the empty dir `target`."""
    wheel_name = wheel.name
    files = check_members(wheel_name, zf.infolist())
    names = [info.filename for info in files]
    dist_info = find_dist_info(names, wheel_name)
    record_name = f"{dist_info}/RECORD"
    try:
        record_text = zf.read(record_name).decode("utf-8")
    except KeyError:
        raise WheelError(f"{wheel_name} has no {record_name}", hint=_TRUNCATED_HINT) from None
    except UnicodeDecodeError:
        raise WheelError(f"{wheel_name}: {record_name} is not UTF-8") from None
    rows = parse_record(record_text)
    index = record_index(rows)
    made: set[str] = {str(target)}
    extracted: set[str] = set()
    root = str(target)
    for info in files:
        name = info.filename
        row = index.get(name) or index.get(posixpath.normpath(name))
        algorithm = record_algorithm(wheel_name, row)
        destination = os.path.join(root, *name.split("/"))
        parent = os.path.dirname(destination)
        if parent not in made:
            os.makedirs(parent, exist_ok=True)
            made.add(parent)
        digest = hashlib.new(algorithm) if algorithm else None
        size = 0
        mode = 0o777 if _is_executable(info) else 0o666
        fd = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "wb") as out:
            if info.file_size <= _CHUNK:
                data = zf.read(info)
                out.write(data)
                size = len(data)
                if digest is not None:
                    digest.update(data)
            else:
                with zf.open(info) as source:
                    while chunk := source.read(_CHUNK):
                        out.write(chunk)
                        size += len(chunk)
                        if digest is not None:
                            digest.update(chunk)
        digests = {algorithm: digest.digest()} if algorithm and digest is not None else {}
        verify_member(wheel_name, name, row, digests, size)
        extracted.add(posixpath.normpath(name))
    for info in zf.infolist():
        if info.is_dir():
            os.makedirs(os.path.join(root, *info.filename.rstrip("/").split("/")), exist_ok=True)
    drop_missing_rows(wheel_name, rows, extracted, root, record_name)


def drop_missing_rows(wheel_name: str, rows: list[RecordRow], extracted: set[str], root: str,
                      record_name: str) -> None:
    """A RECORD naming files the wheel lacks: keep only what is really there, so the
    installer (which trusts RECORD) never links a file that does not exist."""
    missing = [r for r in rows if posixpath.normpath(r.path) not in extracted
               and not r.path.endswith("/")]
    if not missing:
        return
    log.warning(
        "%s: RECORD lists %d file(s) missing from the wheel (%s); ignoring them",
        wheel_name, len(missing), missing[0].path,
    )
    kept = [r for r in rows if r not in missing]
    record_path = os.path.join(root, *record_name.split("/"))
    os.unlink(record_path)
    with open(record_path, "wb") as handle:
        handle.write(format_record(kept))


def complete_entry(cache: Cache, sha256: str, wheel_name: str) -> Path | None:
    """The complete entry for `sha256` if there is one; a broken one (no marker) is
    removed, so that a new one can be renamed into its place."""
    target = cache.bucket("archives") / sha256
    if (target / MARKER).is_file():
        trace("Unpacked wheel found in cache for %s", wheel_name)
        return target
    if os.path.lexists(target):
        # Another process may have renamed its entry into place since the check above.
        # Entries arrive whole (marker inside): only one still without it is broken.
        if (target / MARKER).is_file():
            return target
        log.warning("Broken cache entry for %s at %s; removing it", wheel_name, target)
        _remove_entry(cache, target)
    return None


def commit_entry(cache: Cache, temp: Path, sha256: str, wheel_name: str) -> Path:
    """Mark the verified tree `temp` complete and rename it into `archives/<sha256>`
    (another process's identical entry, if it got there first, is kept)."""
    marker = {"wheel": wheel_name, "sha256": sha256, "unpacked": time.time()}
    with open(temp / MARKER, "w", encoding="utf-8") as handle:
        json.dump(marker, handle)
    return persist_dir(temp, cache.bucket("archives") / sha256)


def _remove_entry(cache: Cache, path: Path) -> None:
    """Move a broken entry out of the bucket first, so no reader sees it half-deleted."""
    graveyard = cache.tempdir(prefix="broken-")
    with contextlib.suppress(FileNotFoundError):
        os.rename(path, graveyard / "entry")
    shutil.rmtree(graveyard, ignore_errors=True)


def unpack_wheel(
    wheel: Path, cache: Cache, *, sha256: str | None = None, verified: bool = False
) -> Path:
    """Unpack `wheel` into `archives/<sha256>` once and return that directory.

    With `sha256` given and an entry for it already complete, the wheel is not read at
    all: the entry's content is, by construction, the content that hash promises. Otherwise
    the wheel is hashed (a difference from `sha256` raises `HashMismatch`), then extracted
    and verified into a temporary directory and renamed into place. `verified=True` says
    the caller has just computed `sha256` from these very bytes (while downloading them),
    so the wheel is not read a second time to hash it.
    """
    wheel = Path(wheel)
    if sha256 is not None:
        existing = archive_path(cache, sha256)
        if existing is not None:
            trace("Unpacked wheel found in cache for %s", wheel.name)
            return existing
    try:
        digest = sha256.lower() if verified and sha256 else hash_file(wheel)
    except FileNotFoundError:
        raise WheelError(f"wheel file {wheel} does not exist") from None
    if sha256 is not None and digest != sha256.lower():
        raise HashMismatch(
            f"hash mismatch for {wheel.name}",
            hint=f"expected sha256:{sha256.lower()}, got sha256:{digest}",
        )
    target = complete_entry(cache, digest, wheel.name)
    if target is not None:
        return target
    start = time.perf_counter()
    temp = cache.tempdir(prefix="unzip-")
    try:
        try:
            with zipfile.ZipFile(wheel) as zf:
                _extract(wheel, zf, temp)
        except (FileExistsError, NotADirectoryError, IsADirectoryError) as error:
            raise WheelError(
                f"{wheel.name} has members whose paths conflict: {error.filename}"
            ) from error
        except (zipfile.BadZipFile, EOFError, zlib.error, NotImplementedError) as error:
            raise WheelError(
                f"cannot read {wheel.name}: {error}", hint=_TRUNCATED_HINT
            ) from error
        result = commit_entry(cache, temp, digest, wheel.name)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    log.debug(
        "Unpacked %s into the cache in %.0fms", wheel.name, (time.perf_counter() - start) * 1000
    )
    return result
