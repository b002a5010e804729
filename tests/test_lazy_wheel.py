"""Finding METADATA in a wheel's central directory without decoding every entry.

`find_metadata_member` searches the raw directory for `.dist-info/METADATA` and parses
only the records whose names end there; `metadata_member(parse_central_directory(...))`,
the entry-by-entry walk, is the oracle it must agree with on every well-formed directory.
Broken directories must give a `WheelError`, never another exception.
"""

from __future__ import annotations

import io
import os
import struct
import warnings
import zipfile
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support import MakeIndex
from wherry.cache.layout import Cache
from wherry.errors import WheelError
from wherry.http.client import HttpClient
from wherry.index import lazy_wheel
from wherry.index.lazy_wheel import CentralDirectory, ZipMember
from wherry.index.metadata import wheel_metadata
from wherry.index.sources import IndexSources

FILENAME = "foo-2.0-py3-none-any.whl"
METADATA = b"Metadata-Version: 2.1\nName: foo\nVersion: 2.0\nRequires-Dist: bar\n"
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")


def _zip64_everywhere() -> AbstractContextManager[object]:
    """Make `zipfile` write zip64 extras and end records for anything past 1000 bytes."""
    return mock.patch.object(zipfile, "ZIP64_LIMIT", 1000)


def _zip(entries: list[tuple[str, bytes]], *, comments: dict[str, bytes] | None = None,
         extras: dict[str, bytes] | None = None, zip64: bool = False) -> bytes:
    """A zip archive of `entries` (name, content), deflated, written by `zipfile`."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names are a case under test
        with _zip64_everywhere() if zip64 else nullcontext(None), \
                zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, content in entries:
                info = zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                info.comment = (comments or {}).get(name, b"")
                info.extra = (extras or {}).get(name, b"")
                archive.writestr(info, content)
    return buffer.getvalue()


def _directory(data: bytes) -> tuple[bytes, CentralDirectory]:
    """The central directory of an archive, and where it is, as the range reader finds it."""
    start = max(len(data) - lazy_wheel.TAIL, 0)
    location = lazy_wheel.central_directory(data[start:], start, lambda a, b: data[a:b])
    return data[location.offset:location.offset + location.size], location


def _fast(directory: bytes, location: CentralDirectory, project: str = "foo") -> ZipMember | str:
    try:
        return lazy_wheel.find_metadata_member(directory, location, project, FILENAME)
    except WheelError as exc:
        return f"error: {exc.message}"


def _walk(directory: bytes, location: CentralDirectory, project: str = "foo") -> ZipMember | str:
    try:
        members = lazy_wheel.parse_central_directory(directory, location.prefix)
        return lazy_wheel.metadata_member(members, project, FILENAME)
    except WheelError as exc:
        return f"error: {exc.message}"


def _agree(data: bytes, project: str = "foo") -> ZipMember | str:
    """The fast answer, after checking it equals the entry-by-entry walk's."""
    directory, location = _directory(data)
    fast = _fast(directory, location, project)
    assert fast == _walk(directory, location, project)
    return fast


@pytest.fixture
def no_walk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail if the entry-by-entry walk runs: the answer must come from the byte search."""
    def walk(data: bytes, prefix: int = 0) -> list[ZipMember]:
        raise AssertionError("walked the whole central directory")

    monkeypatch.setattr(lazy_wheel, "parse_central_directory", walk)


def _extract(data: bytes, member: ZipMember) -> bytes:
    start = lazy_wheel.local_data_offset(data[member.header_offset:], member)
    return lazy_wheel.extract(member, data[start:start + member.compressed_size])


def _a_wheel(*, before: int = 50, zip64: bool = False, metadata: bytes = METADATA) -> bytes:
    entries = [(f"foo/mod_{i:03d}.py", f"# {i}\n".encode()) for i in range(before)]
    entries += [("foo-2.0.dist-info/METADATA", metadata),
                ("foo-2.0.dist-info/WHEEL", b"Wheel-Version: 1.0\n"),
                ("foo-2.0.dist-info/RECORD", b"")]
    return _zip(entries, zip64=zip64)


# -- the byte search finds what the walk finds ---------------------------------------------

@pytest.mark.usefixtures("no_walk")
def test_finds_metadata_without_walking() -> None:
    data = _a_wheel(before=500)
    directory, location = _directory(data)
    member = lazy_wheel.find_metadata_member(directory, location, "foo", FILENAME)
    assert member.name == "foo-2.0.dist-info/METADATA"
    assert _extract(data, member) == METADATA


def test_the_fast_answer_is_the_walks_answer() -> None:
    member = _agree(_a_wheel(before=500))
    assert isinstance(member, ZipMember) and member.size == len(METADATA)


@pytest.mark.usefixtures("no_walk")
def test_zip64_sizes_and_offsets_come_from_the_extra_field() -> None:
    big = METADATA + b"Description: " + b"x" * 3000 + b"\n"  # past the lowered zip64 limit
    blob = ("foo/blob.bin", os.urandom(5000))
    data = _zip([blob, ("foo-2.0.dist-info/METADATA", big)], zip64=True)
    assert b"PK\x06\x06" in data[-200:]  # zip64 end record, so zip64 extras too
    directory, location = _directory(data)
    fields = _CENTRAL.unpack_from(directory, directory.rindex(b"PK\x01\x02"))
    assert 0xFFFFFFFF in (fields[10], fields[11], fields[18])
    member = lazy_wheel.find_metadata_member(directory, location, "foo", FILENAME)
    assert member.size == len(big) and member.header_offset > 5000
    assert _extract(data, member) == big


def test_zip64_with_prepended_data() -> None:
    data = b"#!/bin/sh\nexec python\n" * 40 + _a_wheel(zip64=True, metadata=METADATA * 30)
    member = _agree(data)
    assert isinstance(member, ZipMember)
    assert _extract(data, member) == METADATA * 30


@pytest.mark.usefixtures("no_walk")
def test_names_with_and_without_the_utf8_flag() -> None:
    utf8 = _zip([("föö-2.0.dist-info/METADATA", METADATA)])
    directory, location = _directory(utf8)
    member = lazy_wheel.find_metadata_member(directory, location, "föö", FILENAME)
    assert member.name == "föö-2.0.dist-info/METADATA" and member.flags & 0x800

    # No flag: the bytes are cp437, as `zipfile` reads them (0x81 is "ü").
    cp437 = _zip([("fXo-2.0.dist-info/METADATA", METADATA)]).replace(b"fXo-", b"f\x81o-")
    directory, location = _directory(cp437)
    member = lazy_wheel.find_metadata_member(directory, location, "füo", FILENAME)
    assert member.name == "füo-2.0.dist-info/METADATA" and not member.flags & 0x800
    with zipfile.ZipFile(io.BytesIO(cp437)) as archive:
        assert archive.namelist() == [member.name]


def test_only_a_top_level_dist_info_counts() -> None:
    nested = [("foo/bar.dist-info/METADATA", METADATA), ("foo/__init__.py", b"")]
    assert _agree(_zip(nested)) == f"error: {FILENAME} has no .dist-info/METADATA file"
    member = _agree(_zip([*nested, ("foo-2.0.dist-info/METADATA", METADATA)]))
    assert isinstance(member, ZipMember) and member.name == "foo-2.0.dist-info/METADATA"


@pytest.mark.parametrize("name", [
    "foo-2.0.dist-info/METADATA.orig",  # holds the whole name of the real entry
    "foo-2.0.dist-info/METADATA/x",
    "x.dist-info/METADATA.dist-info/METADATA",  # ends right, but under a subdirectory
    ".dist-info/METADATA",  # no directory name at all
    "foo-2.0.dist-info/METADATA\n",
    "foo-2.0.dist-info/metadata",
])
def test_names_that_merely_contain_the_suffix(name: str) -> None:
    assert _agree(_zip([(name, METADATA)])) == (
        f"error: {FILENAME} has no .dist-info/METADATA file")
    member = _agree(_zip([(name, b"decoy"), ("foo-2.0.dist-info/METADATA", METADATA)]))
    assert isinstance(member, ZipMember) and member.name == "foo-2.0.dist-info/METADATA"


def test_the_suffix_in_extra_fields_and_comments_is_ignored() -> None:
    decoy = b".dist-info/METADATA"
    data = _zip([("foo/a.py", b""), ("foo-2.0.dist-info/METADATA", METADATA)],
                extras={"foo/a.py": struct.pack("<2H", 0xCAFE, len(decoy)) + decoy},
                comments={"foo/a.py": b"see foo-2.0" + decoy})
    member = _agree(data)
    assert isinstance(member, ZipMember) and member.name == "foo-2.0.dist-info/METADATA"


def test_a_forged_record_in_a_comment_is_not_an_entry() -> None:
    """A comment holding a whole central record: the signature count gives it away, and
    the walk (which skips comments) answers."""
    name = b"foo-2.0.dist-info/METADATA"
    forged = _CENTRAL.pack(b"PK\x01\x02", 20, 0, 20, 0, 0, 0, 0, 0, 0, 1, 1, len(name),
                           0, 0, 0, 0, 0, 0) + name
    data = _zip([("foo/a.py", b"")], comments={"foo/a.py": forged})
    assert _agree(data) == f"error: {FILENAME} has no .dist-info/METADATA file"
    member = _agree(_zip([("foo/a.py", b""), ("foo-2.0.dist-info/METADATA", METADATA)],
                         comments={"foo/a.py": forged}))
    assert isinstance(member, ZipMember) and member.size == len(METADATA)


def test_a_name_holding_the_signature() -> None:
    member = _agree(_zip([("foo/PK\x01\x02.py", b""),
                          ("fooPK\x01\x02-2.0.dist-info/METADATA", METADATA)]))
    assert isinstance(member, ZipMember) and member.name.startswith("fooPK")


def test_several_dist_info_directories() -> None:
    ours = ("foo-2.0.dist-info/METADATA", METADATA)
    theirs = ("bar-1.0.dist-info/METADATA", b"Name: bar\n")
    member = _agree(_zip([theirs, ours]))  # one belongs to the project: it is chosen
    assert isinstance(member, ZipMember) and member.name == ours[0]
    member = _agree(_zip([theirs, ours]), project="bar")
    assert isinstance(member, ZipMember) and member.name == theirs[0]
    assert _agree(_zip([theirs, ours]), project="baz") == (
        f"error: {FILENAME} has several .dist-info directories: "
        "bar-1.0.dist-info/METADATA, foo-2.0.dist-info/METADATA")
    twice = _agree(_zip([ours, ("Foo-2.0.dist-info/METADATA", METADATA)]))
    assert isinstance(twice, str) and "several .dist-info directories" in twice
    same = _agree(_zip([ours, ours]))
    assert same == (f"error: {FILENAME} has several .dist-info directories: "
                    "foo-2.0.dist-info/METADATA, foo-2.0.dist-info/METADATA")


# -- broken directories are clear errors ---------------------------------------------------

def test_a_directory_cut_short() -> None:
    directory, location = _directory(_a_wheel())  # 50 modules, METADATA, WHEEL, RECORD
    name_at = directory.index(b"foo-2.0.dist-info/METADATA")
    record_at = directory.rindex(b"PK\x01\x02", 0, name_at)
    with pytest.raises(WheelError, match="breaks off after 50 of its 53 entries"):
        lazy_wheel.find_metadata_member(directory[:record_at - 5], location, "foo", FILENAME)
    # Cut inside the METADATA record's name: the name read is not METADATA's.
    with pytest.raises(WheelError, match="breaks off after 51 of its 53 entries"):
        lazy_wheel.find_metadata_member(directory[:name_at + 10], location, "foo", FILENAME)
    # Cut after it: what is needed is there, and is used (as `zipfile` would not).
    after = directory.rindex(b"PK\x01\x02")
    member = lazy_wheel.find_metadata_member(directory[:after], location, "foo", FILENAME)
    assert member.name == "foo-2.0.dist-info/METADATA"


def test_a_directory_with_a_broken_record() -> None:
    directory, location = _directory(_a_wheel())
    broken = b"XX" + directory[2:]  # the first signature is gone: nothing can be trusted
    with pytest.raises(WheelError, match="Corrupt zip archive: the central directory of "
                                         f"{FILENAME} breaks off after 0 of its 53 entries"):
        lazy_wheel.find_metadata_member(broken, location, "foo", FILENAME)


def test_a_truncated_zip64_extra_field() -> None:
    name = b"foo-2.0.dist-info/METADATA"
    extra = struct.pack("<2H", 0x0001, 24) + b"\0" * 8  # says 24 bytes, holds 8
    record = _CENTRAL.pack(b"PK\x01\x02", 45, 0, 45, 0, 0, 8, 0, 0, 0, 0xFFFFFFFF,
                           0xFFFFFFFF, len(name), len(extra), 0, 0, 0, 0, 0xFFFFFFFF)
    directory = record + name + extra
    location = CentralDirectory(offset=1000, size=len(directory), entries=1, prefix=0)
    with pytest.raises(WheelError, match=r"truncated zip64 field of foo-2\.0\.dist-info/META"):
        lazy_wheel.find_metadata_member(directory, location, "foo", FILENAME)
    with pytest.raises(WheelError, match="truncated zip64 field"):
        lazy_wheel.parse_central_directory(directory)


_NAMES = st.sampled_from([
    "foo-2.0.dist-info/METADATA", "foo-2.0.dist-info/RECORD", "bar-1.0.dist-info/METADATA",
    "Foo_-2.0.dist-info/METADATA", "foo/bar.dist-info/METADATA", "föö-2.0.dist-info/METADATA",
    "foo-2.0.dist-info/METADATA.orig", "x.dist-info/METADATA.dist-info/METADATA",
    ".dist-info/METADATA", "foo/PK\x01\x02.py", "foo/__init__.py", "foo-2.0.data/x.py",
])
_COMMENTS = st.sampled_from([b"", b".dist-info/METADATA", b"PK\x01\x02", b"PK\x01\x02" * 12
                             + b"foo-2.0.dist-info/METADATA"])


@settings(max_examples=150, deadline=None)
@given(entries=st.lists(st.tuples(_NAMES, _COMMENTS), max_size=8), zip64=st.booleans(),
       project=st.sampled_from(["foo", "bar", "baz"]))
def test_agrees_with_the_walk(entries: list[tuple[str, bytes]], zip64: bool,
                              project: str) -> None:
    data = _zip([(name, b"x" * 1200) for name, _ in entries], zip64=zip64,
                comments={name: comment for name, comment in entries})
    _agree(data, project)


@settings(max_examples=200, deadline=None)
@given(cut=st.integers(min_value=0), flip=st.integers(min_value=0),
       value=st.integers(min_value=0, max_value=255))
def test_damaged_directories_give_wheel_errors(cut: int, flip: int, value: int) -> None:
    directory, location = _directory(_a_wheel(before=5, zip64=flip % 2 == 0))
    damaged = bytearray(directory[:len(directory) - cut % (len(directory) + 1)])
    if damaged:
        damaged[flip % len(damaged)] = value
    try:
        member = lazy_wheel.find_metadata_member(bytes(damaged), location, "foo", FILENAME)
    except WheelError:
        return
    assert lazy_wheel._METADATA.fullmatch(member.name)


# -- through the range reader --------------------------------------------------------------

def test_a_member_overlapping_the_directory_is_refused(
        make_index: MakeIndex, client: HttpClient, cache: Cache, tmp_path: Path) -> None:
    data = bytearray(_a_wheel())
    directory, location = _directory(bytes(data))
    record = location.offset + directory.rindex(b"PK\x01\x02", 0,
                                                directory.index(b".dist-info/METADATA"))
    struct.pack_into("<L", data, record + 20, 10_000_000)  # compressed size
    (tmp_path / FILENAME).write_bytes(bytes(data))
    server = make_index([tmp_path / FILENAME])
    file = next(f for f in IndexSources([server.url], [], client).files_for("foo")
                if f.filename == FILENAME)
    with pytest.raises(WheelError, match=r"METADATA in .* overlaps the central directory"):
        wheel_metadata(file, client, cache)


def test_metadata_by_ranges_of_a_zip64_wheel(make_index: MakeIndex, client: HttpClient,
                                             cache: Cache, tmp_path: Path) -> None:
    (tmp_path / FILENAME).write_bytes(_a_wheel(before=300, zip64=True))
    server = make_index([tmp_path / FILENAME])
    file = next(f for f in IndexSources([server.url], [], client).files_for("foo")
                if f.filename == FILENAME)
    assert wheel_metadata(file, client, cache) == METADATA


def test_a_local_wheel_with_a_name_that_is_not_utf8_is_a_wheel_error(tmp_path: Path) -> None:
    """A member name flagged UTF-8 whose bytes are not: a clear error, not a traceback."""
    from wherry.index.metadata import read_local_wheel_metadata

    wheel = tmp_path / "demo-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        # Fixed timestamps: the clock's DOS time bytes can spell the UTF-8 of "ä" too.
        stamp = (2020, 1, 1, 0, 0, 0)
        archive.writestr(zipfile.ZipInfo("demo-1.0.dist-info/METADATA", stamp),
                         "Metadata-Version: 2.1\nName: demo\n")
        # Non-ASCII: stored as UTF-8, flag set.
        archive.writestr(zipfile.ZipInfo("d\u00e4mo.txt", stamp), "x")
    data = wheel.read_bytes()
    assert data.count("\u00e4".encode()) == 2  # local header and central directory
    wheel.write_bytes(data.replace("\u00e4".encode(), b"\xff\xfe"))
    with pytest.raises(WheelError, match=r"Cannot read demo-1\.0-py3-none-any\.whl"):
        read_local_wheel_metadata(wheel, wheel.name)
