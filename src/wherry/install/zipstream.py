"""Read a zip archive front to back, as its bytes arrive, without seeking.

A wheel can then be unpacked while it downloads (one pass: no wheel file written and read
back; uv does the same). A zip is meant to be read from its end, the central directory,
so a streaming reader walks the local headers instead, and two rules keep it honest:

- anything it cannot read with certainty (a stored member whose size only follows its
  data, encryption, a method other than stored or deflate, bytes before the first member,
  sizes or checksums that disagree) raises `StreamUnsupported`, and the caller reads the
  whole file the usual way, where real damage is reported as such;
- at the end, the central directory must describe exactly the members read, at the same
  offsets, with the same names, sizes and checksums. A zip whose local headers tell
  another story than its directory (a way to show two readers two different wheels) is
  therefore never accepted here: the caller's whole-file read goes by the directory, as
  pip's zipfile does.

Pure: bytes in, calls to a `MemberSink` out; the caller does all I/O.
"""

from __future__ import annotations

import struct
import zlib
from typing import Protocol

import msgspec

_LOCAL = b"PK\x03\x04"
_CENTRAL = b"PK\x01\x02"
_END = b"PK\x05\x06"
_END64 = b"PK\x06\x06"
_END64_LOCATOR = b"PK\x06\x07"
_DESCRIPTOR = b"PK\x07\x08"
_LOCAL_STRUCT = struct.Struct("<4s2B4HL2L2H")  # 30 bytes
_CENTRAL_STRUCT = struct.Struct("<4s4B4HL2L5H2L")  # 46 bytes
_END_STRUCT = struct.Struct("<4s4H2LH")  # 22 bytes
_END64_STRUCT = struct.Struct("<4sQ2H2L4Q")  # 56 bytes
_END64_LOCATOR_STRUCT = struct.Struct("<4sLQL")  # 20 bytes
_MAX32 = 0xFFFFFFFF
_STORED, _DEFLATED = 0, 8
_FLAG_ENCRYPTED, _FLAG_DESCRIPTOR, _FLAG_UTF8 = 0x1, 0x8, 0x800
_INFLATE_STEP = 1 << 20  # bytes of output per inflate call: bounded memory for any ratio

_HEADER, _DATA, _AFTER_DATA, _TAIL = range(4)


class StreamUnsupported(Exception):
    """This archive cannot be read front to back with certainty; read it whole instead."""


class MemberSink(Protocol):
    """Receives the members of a zip in archive order."""

    def begin(self, name: str) -> None:
        """A member starts (a name ending in `/` is a directory, and gets no data)."""

    def data(self, chunk: bytes) -> None:
        """The next uncompressed bytes of the current member."""

    def end(self) -> None:
        """The current member is complete and its checksum and size were right."""


class Member(msgspec.Struct, frozen=True):
    """A member as its local header (and data descriptor) described it."""

    name: str
    offset: int
    method: int
    crc: int
    compressed_size: int
    size: int


class CentralEntry(msgspec.Struct, frozen=True):
    """A member as the central directory describes it; `external_attr` carries the Unix
    mode (executable bits, symlinks), which local headers do not."""

    name: str
    external_attr: int
    size: int


def _decode_name(raw: bytes, flags: int) -> str:
    # As zipfile does: UTF-8 when the flag says so, else code page 437.
    return raw.decode("utf-8" if flags & _FLAG_UTF8 else "cp437")


def _zip64_sizes(extra: bytes, wanted: list[bool]) -> list[int]:
    """The 8-byte values of the zip64 extra field (id 1), in order, for each field whose
    32-bit slot was saturated (`wanted`)."""
    pos = 0
    while pos + 4 <= len(extra):
        kind, length = struct.unpack_from("<2H", extra, pos)
        body = extra[pos + 4:pos + 4 + length]
        if kind == 1:
            values = []
            at = 0
            for need in wanted:
                if not need:
                    values.append(-1)
                    continue
                if at + 8 > len(body):
                    raise StreamUnsupported("a short zip64 extra field")
                values.append(struct.unpack_from("<Q", body, at)[0])
                at += 8
            return values
        pos += 4 + length
    if any(wanted):
        raise StreamUnsupported("a zip64 size without its extra field")
    return [-1] * len(wanted)


class ZipStream:
    """Push bytes in with `feed`; members go to the sink as soon as they are complete
    enough; `close` checks the central directory and returns it."""

    def __init__(self, sink: MemberSink) -> None:
        self._sink = sink
        self._buf = bytearray()
        self._off = 0  # read position in _buf
        self._base = 0  # archive offset of _buf[0]
        self._state = _HEADER
        self.members: list[Member] = []
        self._tail_offset = -1
        # the member being read
        self._name = ""
        self._offset = 0
        self._flags = 0
        self._method = 0
        self._crc_expected = 0
        self._size_expected = 0
        self._remaining = 0  # compressed bytes left, when known
        self._data_start = 0
        self._compressed = 0
        self._zip64 = False
        self._crc = 0
        self._size = 0
        self._inflater: zlib._Decompress | None = None

    # -- input --------------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Consume the next bytes of the archive."""
        if self._off:
            del self._buf[:self._off]
            self._base += self._off
            self._off = 0
        self._buf += data
        self._run()

    def close(self) -> list[CentralEntry]:
        """The archive is complete: check its central directory against what was read."""
        if self._state != _TAIL:
            raise StreamUnsupported("the archive ended inside a member")
        return self._check_directory(bytes(self._buf[self._off:]))

    # -- the state machine ----------------------------------------------------------------

    def _available(self) -> int:
        return len(self._buf) - self._off

    def _run(self) -> None:
        while True:
            state = self._state
            if state == _HEADER:
                if not self._read_header():
                    return
            elif state == _DATA:
                if not self._available() or not self._read_data():
                    return
            elif state == _AFTER_DATA:
                if not self._read_descriptor():
                    return
            else:  # _TAIL: the central directory and end records, kept for `close`
                return

    def _read_header(self) -> bool:
        if self._available() < 4:
            return False
        buf, off = self._buf, self._off
        signature = bytes(buf[off:off + 4])
        if signature != _LOCAL:
            if signature in (_CENTRAL, _END, _END64):
                self._state = _TAIL
                self._tail_offset = self._base + off
                return True
            raise StreamUnsupported(f"unexpected bytes at offset {self._base + off}")
        if self._available() < _LOCAL_STRUCT.size:
            return False
        (_, _, _, flags, method, _, _, crc, compressed, size, name_length,
         extra_length) = _LOCAL_STRUCT.unpack_from(buf, off)
        total = _LOCAL_STRUCT.size + name_length + extra_length
        if self._available() < total:
            return False
        start = off + _LOCAL_STRUCT.size
        name = _decode_name(bytes(buf[start:start + name_length]), flags)
        extra = bytes(buf[start + name_length:start + name_length + extra_length])
        if flags & _FLAG_ENCRYPTED:
            raise StreamUnsupported(f"{name} is encrypted")
        if method not in (_STORED, _DEFLATED):
            raise StreamUnsupported(f"{name} uses compression method {method}")
        descriptor = bool(flags & _FLAG_DESCRIPTOR)
        if descriptor and method == _STORED:
            raise StreamUnsupported(f"{name} is stored with its size after its data")
        zip64 = compressed == _MAX32 or size == _MAX32
        if zip64:
            size64, compressed64 = _zip64_sizes(extra, [size == _MAX32, compressed == _MAX32])
            size = size64 if size == _MAX32 else size
            compressed = compressed64 if compressed == _MAX32 else compressed
        elif descriptor:
            # A descriptor's sizes are 8 bytes when the local header has a zip64 field.
            zip64 = _has_zip64_field(extra)
        self._name, self._flags, self._method = name, flags, method
        self._offset = self._base + off
        self._crc_expected, self._size_expected = crc, size
        self._remaining = compressed
        self._zip64 = zip64
        self._crc = 0
        self._size = 0
        self._inflater = zlib.decompressobj(-15) if method == _DEFLATED else None
        self._off += total
        self._data_start = self._base + self._off
        self._sink.begin(name)
        self._state = _DATA
        if not descriptor and compressed == 0 and method == _STORED:
            self._end_member(compressed)
        return True

    def _emit(self, chunk: bytes) -> None:
        if not chunk:
            return
        self._crc = zlib.crc32(chunk, self._crc)
        self._size += len(chunk)
        if not self._flags & _FLAG_DESCRIPTOR and self._size > self._size_expected:
            raise StreamUnsupported(f"{self._name} is longer than its header says")
        self._sink.data(chunk)

    def _read_data(self) -> bool:
        buf, off = self._buf, self._off
        known = not self._flags & _FLAG_DESCRIPTOR
        take = min(self._available(), self._remaining) if known else self._available()
        piece = bytes(buf[off:off + take])
        self._off += take
        if self._inflater is None:  # stored
            self._remaining -= take
            self._emit(piece)
            if self._remaining == 0:
                self._end_member(self._base + self._off - self._data_start)
            return True
        inflater = self._inflater
        try:
            self._emit(inflater.decompress(piece, _INFLATE_STEP))
            while inflater.unconsumed_tail:
                self._emit(inflater.decompress(inflater.unconsumed_tail, _INFLATE_STEP))
        except zlib.error as error:
            raise StreamUnsupported(f"{self._name}: {error}") from None
        if known:
            self._remaining -= take
        if inflater.eof:
            unused = inflater.unused_data
            if unused:
                if known:
                    raise StreamUnsupported(f"{self._name} is shorter than its header says")
                self._off -= len(unused)  # the bytes after the member, given back
            self._end_member(self._base + self._off - self._data_start)
        elif known and self._remaining == 0:
            raise StreamUnsupported(f"{self._name} is longer than its header says")
        return True

    def _end_member(self, compressed: int) -> None:
        self._compressed = compressed
        if self._flags & _FLAG_DESCRIPTOR:
            self._state = _AFTER_DATA
            return
        self._finish_member(self._crc_expected, compressed, self._size_expected)

    def _read_descriptor(self) -> bool:
        width = 8 if self._zip64 else 4
        need = 4 + 2 * width
        buf, off = self._buf, self._off
        if self._available() < 4:
            return False
        signed = bytes(buf[off:off + 4]) == _DESCRIPTOR
        if self._available() < need + (4 if signed else 0):
            return False
        at = off + (4 if signed else 0)
        crc = struct.unpack_from("<L", buf, at)[0]
        fmt = "<2Q" if self._zip64 else "<2L"
        compressed, size = struct.unpack_from(fmt, buf, at + 4)
        self._off = at + need
        if compressed != self._compressed:
            raise StreamUnsupported(f"{self._name}'s data descriptor gives another size")
        self._finish_member(crc, compressed, size)
        return True

    def _finish_member(self, crc: int, compressed: int, size: int) -> None:
        if self._crc != crc or self._size != size:
            raise StreamUnsupported(f"{self._name} does not match its checksum or size")
        self.members.append(Member(self._name, self._offset, self._method, crc,
                                   compressed, size))
        self._sink.end()
        self._state = _HEADER

    # -- the central directory ---------------------------------------------------------

    def _check_directory(self, tail: bytes) -> list[CentralEntry]:
        end = tail.rfind(_END, max(len(tail) - 65535 - _END_STRUCT.size, 0))
        if end < 0 or len(tail) - end < _END_STRUCT.size:
            raise StreamUnsupported("no end of central directory record")
        (_, disk, cd_disk, _, count, cd_size, cd_offset,
         comment_length) = _END_STRUCT.unpack_from(tail, end)
        if end + _END_STRUCT.size + comment_length != len(tail) or disk or cd_disk:
            raise StreamUnsupported("an unexpected end of central directory record")
        locator = end - _END64_LOCATOR_STRUCT.size
        if locator >= 0 and tail[locator:locator + 4] == _END64_LOCATOR:
            _, _, end64_offset, _ = _END64_LOCATOR_STRUCT.unpack_from(tail, locator)
            at = end64_offset - self._tail_offset
            if at < 0 or tail[at:at + 4] != _END64:
                raise StreamUnsupported("a misplaced zip64 end record")
            (_, _, _, _, _, _, _, count, cd_size, cd_offset) = _END64_STRUCT.unpack_from(
                tail, at)
        if cd_offset != self._tail_offset or count != len(self.members):
            raise StreamUnsupported("the central directory does not list the members read")
        by_offset = {m.offset: m for m in self.members}
        entries: list[CentralEntry] = []
        pos = 0
        for _ in range(count):
            if pos + _CENTRAL_STRUCT.size > cd_size or tail[pos:pos + 4] != _CENTRAL:
                raise StreamUnsupported("a damaged central directory")
            (_, _, _, _, _, flags, method, _, _, crc, compressed, size, name_length,
             extra_length, comment_length, _, _, external_attr,
             offset) = _CENTRAL_STRUCT.unpack_from(tail, pos)
            start = pos + _CENTRAL_STRUCT.size
            name = _decode_name(tail[start:start + name_length], flags)
            extra = tail[start + name_length:start + name_length + extra_length]
            if _MAX32 in (size, compressed, offset):
                size64, compressed64, offset64 = _zip64_sizes(
                    extra, [size == _MAX32, compressed == _MAX32, offset == _MAX32])
                size = size64 if size == _MAX32 else size
                compressed = compressed64 if compressed == _MAX32 else compressed
                offset = offset64 if offset == _MAX32 else offset
            member = by_offset.pop(offset, None)
            if member is None or (member.name, member.method, member.crc,
                                  member.compressed_size, member.size) != (
                    name, method, crc, compressed, size):
                raise StreamUnsupported(
                    f"the central directory and the local header of {name} disagree")
            entries.append(CentralEntry(name, external_attr, size))
            pos = start + name_length + extra_length + comment_length
        if pos != cd_size:
            raise StreamUnsupported("a central directory of an unexpected size")
        return entries


def _has_zip64_field(extra: bytes) -> bool:
    pos = 0
    while pos + 4 <= len(extra):
        kind, length = struct.unpack_from("<2H", extra, pos)
        if kind == 1:
            return True
        pos += 4 + length
    return False
