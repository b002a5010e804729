"""Unpack a wheel into the archive cache while it downloads: one streaming pass.

The bytes of a download go through the hashers (the HTTP client's) and through this
unpacker at once; no wheel file is written and read back. The result is held to the same
rules as `unpack.unpack_wheel`'s whole-file path, with the same helpers: member names
checked as they arrive, every file hashed (sha256) as it is written and compared with
RECORD when RECORD (the last member) has arrived, modes and symlinks checked against the
central directory, and the tree renamed into `archives/<sha256>` only after the client has
checked the whole download's hashes. Anything the streaming reader cannot read with
certainty raises `StreamUnsupported`, and the caller falls back to the whole-file path.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import shutil
import stat
import zipfile
from pathlib import Path
from typing import Any

from wherry.cache.layout import Cache
from wherry.errors import WheelError
from wherry.install.record import parse_record
from wherry.install.unpack import (
    check_members,
    commit_entry,
    complete_entry,
    drop_missing_rows,
    find_dist_info,
    hash_file,
    record_algorithm,
    record_index,
    unsafe_member_error,
    unsafe_member_reason,
    verify_member,
)
from wherry.install.zipstream import CentralEntry, StreamUnsupported, ZipStream

__all__ = ["StreamUnpacker", "StreamUnsupported"]

_TRUNCATED_HINT = "the file may be truncated or not a wheel; delete it and download it again"


class StreamUnpacker:
    """A download sink (`feed`, `abort`, `finish`) that unpacks as the bytes arrive."""

    def __init__(self, wheel_name: str, cache: Cache) -> None:
        self.wheel_name = wheel_name
        self._cache = cache
        self._temp = cache.tempdir(prefix="unzip-")
        self._root = str(self._temp)
        self._zip = ZipStream(self)
        self._made: set[str] = {self._root}
        self._file_keys: set[str] = set()
        self._dir_keys: set[str] = set()
        self._digests: dict[str, tuple[bytes, int]] = {}  # member -> (sha256, size)
        self._out: Any = None
        self._hash: Any = None
        self._name = ""
        self._size = 0

    # -- the download sink ------------------------------------------------------------

    def feed(self, chunk: bytes) -> None:
        """The next bytes of the wheel."""
        try:
            self._zip.feed(chunk)
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        """Forget everything written so far (a retried or refused download)."""
        if self._out is not None:
            self._out.close()
            self._out = None
        shutil.rmtree(self._temp, ignore_errors=True)

    def finish(self, sha256: str) -> Path:
        """The download is complete and its hashes are right: verify the tree and rename
        it into `archives/<sha256>`."""
        try:
            existing = complete_entry(self._cache, sha256, self.wheel_name)
            if existing is not None:
                self.abort()
                return existing
            entries = self._zip.close()
            self._check(entries)
            return commit_entry(self._cache, self._temp, sha256, self.wheel_name)
        except BaseException:
            self.abort()
            raise

    # -- the zip reader's sink ----------------------------------------------------------

    def begin(self, name: str) -> None:
        reason = unsafe_member_reason(name)
        is_dir = name.endswith("/")
        if reason is None:
            key = posixpath.normpath(name.rstrip("/"))
            if key in self._file_keys or (not is_dir and key in self._dir_keys):
                reason = "a duplicate name"
            (self._dir_keys if is_dir else self._file_keys).add(key)
        if reason is not None:
            raise unsafe_member_error(self.wheel_name, name, reason)
        self._name = name
        if is_dir:
            path = os.path.join(self._root, *name.rstrip("/").split("/"))
            self._makedirs(path)
            return
        destination = os.path.join(self._root, *name.split("/"))
        self._makedirs(os.path.dirname(destination))
        try:
            fd = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except (FileExistsError, NotADirectoryError, IsADirectoryError) as error:
            raise WheelError(
                f"{self.wheel_name} has members whose paths conflict: {error.filename}"
            ) from error
        self._out = os.fdopen(fd, "wb")
        self._hash = hashlib.sha256()
        self._size = 0

    def data(self, chunk: bytes) -> None:
        self._out.write(chunk)
        self._hash.update(chunk)
        self._size += len(chunk)

    def end(self) -> None:
        if self._out is None:  # a directory
            return
        self._out.close()
        self._out = None
        self._digests[self._name] = (self._hash.digest(), self._size)

    def _makedirs(self, path: str) -> None:
        if path not in self._made:
            try:
                os.makedirs(path, exist_ok=True)
            except (FileExistsError, NotADirectoryError) as error:
                raise WheelError(
                    f"{self.wheel_name} has members whose paths conflict: {error.filename}"
                ) from error
            self._made.add(path)

    # -- verification -------------------------------------------------------------------

    def _check(self, entries: list[CentralEntry]) -> None:
        """What only the end of the archive can tell: modes and symlinks (the central
        directory), and every file against RECORD."""
        wheel_name = self.wheel_name
        infos = []
        for entry in entries:
            info = zipfile.ZipInfo(entry.name)
            info.external_attr = entry.external_attr
            infos.append(info)
        files = check_members(wheel_name, infos)  # symlinks are refused here
        names = [info.filename for info in files]
        dist_info = find_dist_info(names, wheel_name)
        record_name = f"{dist_info}/RECORD"
        if record_name not in self._digests:
            raise WheelError(f"{wheel_name} has no {record_name}", hint=_TRUNCATED_HINT)
        try:
            record_text = Path(self._root, dist_info, "RECORD").read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise WheelError(f"{wheel_name}: {record_name} is not UTF-8") from None
        rows = parse_record(record_text)
        index = record_index(rows)
        extracted: set[str] = set()
        for info in files:
            name = info.filename
            path = os.path.join(self._root, *name.split("/"))
            mode = info.external_attr >> 16
            if mode & 0o111 and (stat.S_ISREG(mode) or stat.S_IFMT(mode) == 0):
                # As zipfile extraction with the member's mode: executable where readable.
                current = os.stat(path).st_mode
                os.chmod(path, current | ((current & 0o444) >> 2))
            row = index.get(name) or index.get(posixpath.normpath(name))
            algorithm = record_algorithm(wheel_name, row)
            sha256, size = self._digests[name]
            digests = {}
            if algorithm == "sha256":
                digests = {"sha256": sha256}
            elif algorithm is not None:  # a stronger one: hash the written file again
                digests = {algorithm: bytes.fromhex(hash_file(Path(path), algorithm))}
            verify_member(wheel_name, name, row, digests, size)
            extracted.add(posixpath.normpath(name))
        drop_missing_rows(wheel_name, rows, extracted, self._root, record_name)
