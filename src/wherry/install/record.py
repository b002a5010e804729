"""RECORD files (PEP 376/427): parse, hash, format.

RECORD is the contract between a wheel, its installed copy and the uninstaller. The
unpacker verifies every file against it, the installer reuses its hashes instead of
re-hashing linked files, and the uninstaller reads it to know what to remove; all three
share these few data-in, data-out helpers.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

# Algorithms PEP 427 forbids for RECORD ("sha256 or better").
WEAK_ALGORITHMS = frozenset({"md5", "sha1"})


class RecordRow(NamedTuple):
    """One RECORD line: a `/`-separated path, `algo=urlsafe-b64` hash or "", size or ""."""

    path: str
    hash: str
    size: str


def parse_record(text: str) -> list[RecordRow]:
    """Parse RECORD text; short rows are padded, blank rows skipped."""
    rows: list[RecordRow] = []
    for fields in csv.reader(io.StringIO(text)):
        if not fields or not fields[0]:
            continue
        path = fields[0]
        digest = fields[1] if len(fields) > 1 else ""
        size = fields[2] if len(fields) > 2 else ""
        rows.append(RecordRow(path, digest, size))
    return rows


def read_record(path: Path) -> list[RecordRow]:
    """Read and parse a RECORD file (raises OSError if it cannot be read)."""
    with open(path, encoding="utf-8", newline="") as handle:
        return parse_record(handle.read())


def format_record(rows: Iterable[tuple[str, str, str]]) -> bytes:
    """Render RECORD rows as the CSV bytes PEP 376 describes (`\\n` line endings)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=",", quotechar='"', lineterminator="\n")
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def encode_digest(algorithm: str, digest: bytes) -> str:
    """`sha256` + raw digest → `sha256=<urlsafe base64 without padding>`."""
    return f"{algorithm}=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def hash_bytes(data: bytes, algorithm: str = "sha256") -> str:
    """The RECORD hash of `data`."""
    return encode_digest(algorithm, hashlib.new(algorithm, data).digest())


def split_hash(value: str) -> tuple[str, str] | None:
    """`sha256=abc` → (`sha256`, `abc`); None for an empty or malformed value."""
    algorithm, sep, encoded = value.partition("=")
    if not sep or not algorithm or not encoded:
        return None
    return algorithm.lower(), encoded
