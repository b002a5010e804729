"""Unpacking wheels while they download: the streaming zip reader, the unpacker, the
worker processes, and the fallback to a whole-file read.

The reference for every result is the whole-file path (`unpack_wheel`, which reads the
central directory with zipfile): the streamed tree must be identical, and whatever the
streaming reader cannot read with certainty must go that way instead.
"""

from __future__ import annotations

import io
import os
import stat
import struct
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support import MakeIndex, RunWherry
from tests.support.environments import make_venv, site_packages, tree_state
from tests.support.packages import Wheelhouse, sha256_of
from wherry.cache.layout import Cache
from wherry.commands.prepare import prepare_wheel
from wherry.errors import HashMismatch, NetworkError, WheelError
from wherry.http.client import HttpClient
from wherry.index.models import DistFile
from wherry.install import unpack_worker
from wherry.install.stream_unpack import StreamUnpacker
from wherry.install.unpack import MARKER, unpack_wheel
from wherry.install.zipstream import StreamUnsupported, ZipStream


class Collect:
    """A MemberSink that keeps every member's bytes."""

    def __init__(self) -> None:
        self.members: dict[str, bytes] = {}
        self._name = ""

    def begin(self, name: str) -> None:
        self._name = name
        self.members[name] = b""

    def data(self, chunk: bytes) -> None:
        self.members[self._name] += chunk

    def end(self) -> None:
        pass


def _zip(entries: list[tuple[str, bytes]], *, method: int = zipfile.ZIP_DEFLATED,
         seekable: bool = True, zip64: bool = False) -> bytes:
    """A zip written by zipfile; unseekable output makes it use data descriptors."""

    class Unseekable(io.RawIOBase):
        def __init__(self) -> None:
            self.data = bytearray()

        def writable(self) -> bool:
            return True

        def write(self, b: bytes) -> int:  # type: ignore[override]
            self.data += b
            return len(b)

    out: io.BytesIO | Unseekable = io.BytesIO() if seekable else Unseekable()
    with zipfile.ZipFile(out, "w", compression=method) as zf:
        for name, content in entries:
            if zip64:
                with zf.open(zipfile.ZipInfo(name), "w", force_zip64=True) as handle:
                    handle.write(content)
            else:
                zf.writestr(name, content)
    return out.getvalue() if isinstance(out, io.BytesIO) else bytes(out.data)


def _stream(data: bytes, step: int) -> Collect:
    sink = Collect()
    reader = ZipStream(sink)
    for at in range(0, len(data), step):
        reader.feed(data[at:at + step])
    reader.close()
    return sink


ENTRIES = [("a/__init__.py", b""), ("a/big.bin", os.urandom(300_000) + b"x" * 300_000),
           ("a/dir/", b""), ("a/text.txt", b"hello " * 1000),
           ("a-1.0.dist-info/RECORD", b"")]


@pytest.mark.parametrize("step", [1, 7, 4096, 1 << 20])
@pytest.mark.parametrize("layout", ["deflated", "stored", "descriptor", "zip64"])
def test_the_stream_reader_sees_what_zipfile_sees(step: int, layout: str) -> None:
    entries = ENTRIES if step > 1 else ENTRIES[:1] + ENTRIES[2:]  # 1-byte steps: small
    data = _zip(entries, method=zipfile.ZIP_STORED if layout == "stored"
                else zipfile.ZIP_DEFLATED, seekable=layout != "descriptor",
                zip64=layout == "zip64")
    expected = {i.filename: zipfile.ZipFile(io.BytesIO(data)).read(i)
                for i in zipfile.ZipFile(io.BytesIO(data)).infolist()}
    assert _stream(data, step).members == expected


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(files=st.dictionaries(st.from_regex(r"[a-z]{1,8}(/[a-z]{1,8}){0,2}", fullmatch=True),
                             st.binary(max_size=3000), min_size=1, max_size=8),
       stored=st.booleans(), descriptor=st.booleans(),
       cuts=st.lists(st.integers(min_value=1, max_value=5000), max_size=6))
def test_any_zip_in_any_chunks(files: dict[str, bytes], stored: bool, descriptor: bool,
                               cuts: list[int]) -> None:
    # Names that are both a file and a directory prefix are not wheels; keep them apart.
    names = sorted(files)
    files = {n: files[n] for n in names if not any(o.startswith(n + "/") for o in names)}
    data = _zip(sorted(files.items()), method=zipfile.ZIP_STORED if stored
                else zipfile.ZIP_DEFLATED, seekable=not descriptor)
    sink = Collect()
    reader = ZipStream(sink)
    at = 0
    try:
        for cut in sorted(set(cuts)):
            reader.feed(data[at:cut])
            at = max(at, cut)
        reader.feed(data[at:])
        reader.close()
    except StreamUnsupported:
        assert stored and descriptor  # the one layout it must refuse
        return
    assert not (stored and descriptor)
    assert sink.members == files


def test_what_it_cannot_read_with_certainty_is_unsupported() -> None:
    good = _zip([("a.txt", b"hello")], method=zipfile.ZIP_STORED)
    # A local header that names another file than the central directory does.
    confused = good.replace(b"a.txt", b"b.txt", 1)
    assert zipfile.ZipFile(io.BytesIO(confused)).namelist() == ["a.txt"]
    with pytest.raises(StreamUnsupported, match="disagree"):
        _stream(confused, 1024)
    # Bytes before the first member (zipfile accepts those; a wheel has none).
    with pytest.raises(StreamUnsupported, match="unexpected bytes"):
        _stream(b"#!/bin/sh\n" + good, 1024)
    # A stored member whose size only follows its data cannot be delimited.
    with pytest.raises(StreamUnsupported, match="stored"):
        _stream(_zip([("a.txt", b"hello")], method=zipfile.ZIP_STORED, seekable=False), 64)
    # A changed byte in the data: the checksum says so.
    damaged = good.replace(b"hello", b"jello", 1)
    with pytest.raises(StreamUnsupported, match="checksum"):
        _stream(damaged, 1024)
    # Cut short: the archive ends inside a member, or before its directory.
    with pytest.raises(StreamUnsupported):
        _stream(good[:40], 1024)
    with pytest.raises(StreamUnsupported):
        _stream(good[:-10], 1024)
    # A member hidden from the central directory (one entry fewer listed).
    two = _zip([("a.txt", b"hello"), ("b.txt", b"world")], method=zipfile.ZIP_STORED)
    end = two.rindex(b"PK\x05\x06")
    fields = list(struct.unpack_from("<4s4H2LH", two, end))
    fields[3] = fields[4] = 1
    with pytest.raises(StreamUnsupported, match="does not list"):
        _stream(two[:end] + struct.pack("<4s4H2LH", *fields), 1024)


def _tree(root: Path) -> dict[str, tuple[bytes, int]]:
    found = {}
    for path in sorted(root.rglob("*")):
        if path.name == MARKER or path.is_dir():
            continue
        mode = path.stat().st_mode
        found[str(path.relative_to(root))] = (path.read_bytes(), mode & 0o777)
    return found


def _feed(unpacker: StreamUnpacker, data: bytes, step: int = 65536) -> None:
    for at in range(0, len(data), step):
        unpacker.feed(data[at:at + step])


def test_a_streamed_wheel_unpacks_exactly_as_a_whole_file(
        wheelhouse: Wheelhouse, tmp_path: Path) -> None:
    wheel = wheelhouse.wheel(
        "demo", "1.0", files={"demo/__init__.py": "x = 1\n", "demo/data.bin": os.urandom(5000)},
        data={"scripts": {"tool": "#!python\nprint('hi')\n"}},
        entry_points={"console_scripts": {"demo": "demo:main"}})
    # Mark the script executable in the zip, as real wheels do.
    rebuilt = tmp_path / wheel.name
    with zipfile.ZipFile(wheel) as source, zipfile.ZipFile(rebuilt, "w") as out:
        for info in source.infolist():
            if info.filename.endswith("scripts/tool"):
                info.external_attr = (stat.S_IFREG | 0o755) << 16
            out.writestr(info, source.read(info))
    data = rebuilt.read_bytes()
    whole = unpack_wheel(rebuilt, Cache.at(tmp_path / "whole"))
    unpacker = StreamUnpacker(rebuilt.name, Cache.at(tmp_path / "streamed"))
    _feed(unpacker, data, 333)
    streamed = unpacker.finish(sha256_of(rebuilt))
    assert streamed.name == whole.name == sha256_of(rebuilt)
    assert (streamed / MARKER).is_file()
    assert _tree(streamed) == _tree(whole)
    assert _tree(streamed)["demo-1.0.data/scripts/tool"][1] & 0o111
    assert list((tmp_path / "streamed" / ".tmp").iterdir()) == []


@pytest.mark.parametrize(("corrupt", "error"), [
    ("bad-record-hash", WheelError),  # refused, as the whole-file path refuses it
    ("truncate", StreamUnsupported),  # left to the whole-file path, which reports it
    ("not-a-zip", StreamUnsupported),
])
def test_a_wheel_refused_while_streaming_leaves_nothing(
        wheelhouse: Wheelhouse, tmp_path: Path, corrupt: str, error: type[Exception]) -> None:
    wheel = wheelhouse.wheel("demo", "1.0", corrupt=corrupt)  # type: ignore[arg-type]
    cache = Cache.at(tmp_path / "cache")
    unpacker = StreamUnpacker(wheel.name, cache)
    with pytest.raises(error):
        _feed(unpacker, wheel.read_bytes())
        unpacker.finish(sha256_of(wheel))
    assert list((cache.root / ".tmp").iterdir()) == []
    assert not (cache.root / "archives" / sha256_of(wheel)).exists()
    with pytest.raises(WheelError):
        unpack_wheel(wheel, cache)


def _rezip(entries: list[tuple[zipfile.ZipInfo | str, bytes]], path: Path) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as out:
        for info, content in entries:
            out.writestr(info, content)
    return path


def test_unsafe_members_are_refused_as_the_whole_file_path_refuses_them(
        tmp_path: Path) -> None:
    link = zipfile.ZipInfo("demo/link")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    cases: dict[str, list[tuple[zipfile.ZipInfo | str, bytes]]] = {
        "dotdot": [("demo/../../evil.py", b"")],
        "absolute": [("/etc/evil", b"")],
        "symlink": [(link, b"/etc/passwd")],
    }
    for label, entries in cases.items():
        wheel = _rezip([("demo/__init__.py", b""), *entries,
                        ("demo-1.0.dist-info/RECORD", b"")], tmp_path / f"{label}.whl")
        with pytest.raises(WheelError) as whole:
            unpack_wheel(wheel, Cache.at(tmp_path / "whole"))
        cache = Cache.at(tmp_path / label)
        unpacker = StreamUnpacker(wheel.name, cache)
        with pytest.raises(WheelError) as streamed:
            _feed(unpacker, wheel.read_bytes())
            unpacker.finish(sha256_of(wheel))
        assert streamed.value.message == whole.value.message
        assert "unsafe member" in streamed.value.message
        assert list((cache.root / ".tmp").iterdir()) == []


def test_each_attempt_gets_a_new_sink_and_failed_ones_are_aborted(
        make_index: MakeIndex, wheelhouse: Wheelhouse, client: HttpClient,
        tmp_path: Path) -> None:
    wheel = wheelhouse.wheel("demo", "1.0", files={"demo/data.bin": os.urandom(200_000)})
    server = make_index([wheel], truncate={wheel.name})
    cache = Cache.at(tmp_path / "cache")
    opened: list[StreamUnpacker] = []

    def open_sink() -> StreamUnpacker:
        opened.append(StreamUnpacker(wheel.name, cache))
        return opened[-1]

    url = server.file_url(wheel.name)
    with pytest.raises(NetworkError, match="broken response body"):
        client.stream(url, open_sink, hashes={})
    assert len(opened) == client.retries + 1 > 1
    assert list((cache.root / ".tmp").iterdir()) == []
    server.truncate.clear()
    with pytest.raises(HashMismatch):
        client.stream(url, open_sink, hashes={"sha256": "0" * 64})
    assert list((cache.root / ".tmp").iterdir()) == []
    digest, archive = client.stream(url, open_sink, hashes={"sha256": sha256_of(wheel)})
    assert digest == sha256_of(wheel) == archive.name
    assert (archive / "demo" / "data.bin").is_file()


def test_installs_stream_in_threads_and_workers_and_fall_back_to_whole_files(
        run_wherry: RunWherry, make_index: MakeIndex, wheelhouse: Wheelhouse,
        tmp_path: Path) -> None:
    blob = os.urandom(2 * 1024 * 1024)
    small = wheelhouse.wheel("small", "1.0", files={"small/__init__.py": "x = 1\n"})
    big = wheelhouse.wheel("big", "1.0", files={"big/__init__.py": "", "big/blob.bin": blob})
    # zipfile writing to a pipe: every stored member's size follows its data.
    source = wheelhouse.wheel("odd", "1.0", files={"odd/__init__.py": "y = 2\n"})
    odd = tmp_path / source.name
    with zipfile.ZipFile(source) as zf:
        odd.write_bytes(_zip([(i.filename, zf.read(i)) for i in zf.infolist()],
                             method=zipfile.ZIP_STORED, seekable=False))
    index = make_index([small, big, odd])
    venv = make_venv(run_wherry, tmp_path / "venv")
    result = run_wherry("pip", "install", "small", "big", "odd", "-v", "--python", venv,
                        "--index-url", index.url)
    assert result.ok, result
    assert "Unpacking big-1.0-py3-none-any.whl in a worker process" in result.stderr
    assert "Cannot unpack odd-1.0-py3-none-any.whl while downloading it" in result.stderr
    site = site_packages(venv)
    assert (site / "big" / "blob.bin").read_bytes() == blob
    assert (site / "odd" / "__init__.py").read_text() == "y = 2\n"
    assert (site / "small" / "__init__.py").read_text() == "x = 1\n"
    # The unsupported layout was downloaded twice; the others once.
    fetched = [r.path for r in index.requests if r.method == "GET"
               and r.path.startswith("/files/") and r.path.endswith(".whl")
               and "range" not in r.headers]
    assert sorted(fetched) == sorted([f"/files/{big.name}", f"/files/{odd.name}",
                                      f"/files/{odd.name}", f"/files/{small.name}"])


def test_a_big_unsafe_wheel_is_refused_by_its_worker(
        run_wherry: RunWherry, make_index: MakeIndex, tmp_path: Path) -> None:
    blob = os.urandom(2 * 1024 * 1024)
    wheel = _rezip([("evil/__init__.py", b""), ("evil/blob.bin", blob),
                    ("evil/../../../outside.py", b"x = 1\n"),
                    ("evil-1.0.dist-info/METADATA", b"Metadata-Version: 2.1\nName: evil\n"
                     b"Version: 1.0\n"),
                    ("evil-1.0.dist-info/WHEEL", b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\n"
                     b"Tag: py3-none-any\n"),
                    ("evil-1.0.dist-info/RECORD", b"")],
                   tmp_path / "evil-1.0-py3-none-any.whl")
    index = make_index([wheel])
    venv = make_venv(run_wherry, tmp_path / "venv")
    before = tree_state(venv)
    result = run_wherry("pip", "install", "evil", "-v", "--python", venv,
                        "--index-url", index.url)
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr
    assert "contains an unsafe member 'evil/../../../outside.py'" in result.stderr
    assert tree_state(venv) == before
    assert not (tmp_path / "outside.py").exists()


def _big_wheel(wheelhouse: Wheelhouse) -> tuple[Path, DistFile]:
    wheel = wheelhouse.wheel("hefty", "1.0", files={"hefty/__init__.py": "",
                                                    "hefty/blob.bin": os.urandom(1 << 21)})
    return wheel, DistFile(wheel.name, wheel.as_uri(), "test", {"sha256": sha256_of(wheel)},
                           size=wheel.stat().st_size)


def test_a_worker_that_dies_sends_the_wheel_the_whole_file_way(
        wheelhouse: Wheelhouse, client: HttpClient, tmp_path: Path) -> None:
    wheel, file = _big_wheel(wheelhouse)
    cache = Cache.at(tmp_path / "cache")
    worker = unpack_worker.reserve()
    worker.process.kill()
    worker.process.join()
    with pytest.raises(StreamUnsupported, match="went away"):
        sink = unpack_worker.WorkerSink(worker, wheel.name, cache)
        for at in range(0, wheel.stat().st_size, 65536):
            sink.feed(wheel.read_bytes()[at:at + 65536])
        sink.finish(sha256_of(wheel))
    # The dead worker left the pool: the next big wheel gets a live one.
    archive = prepare_wheel(file, cache, client)
    assert (archive / "hefty" / "blob.bin").stat().st_size == 1 << 21
    assert list((cache.root / ".tmp").iterdir()) == []


def test_without_worker_processes_big_wheels_unpack_in_this_one(
        wheelhouse: Wheelhouse, client: HttpClient, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse() -> None:
        raise OSError("no processes here")

    monkeypatch.setattr(unpack_worker._Workers, "_spawn", staticmethod(refuse))
    monkeypatch.setattr(unpack_worker, "_workers", unpack_worker._Workers())
    wheel, file = _big_wheel(wheelhouse)
    archive = prepare_wheel(file, Cache.at(tmp_path / "cache"), client)
    assert archive.name == sha256_of(wheel)
    assert (archive / "hefty" / "blob.bin").stat().st_size == 1 << 21


def test_one_download_per_wheel_however_many_ask_at_once(
        wheelhouse: Wheelhouse, make_index: MakeIndex, client: HttpClient,
        tmp_path: Path) -> None:
    """Build environments made side by side want the same wheels: threads preparing one
    file at the same time share one download (the server sees one GET), and all get the
    same archive."""
    wheel = wheelhouse.wheel("shared", "1.0", files={"shared/__init__.py": "X = 1\n"})
    index = make_index([wheel], latency=0.3)
    file = DistFile(wheel.name, index.file_url(wheel.name), "test",
                    {"sha256": sha256_of(wheel)})
    cache = Cache.at(tmp_path / "cache")
    with ThreadPoolExecutor(max_workers=4) as pool:
        archives = list(pool.map(lambda _: prepare_wheel(file, cache, client), range(4)))
    assert len(set(archives)) == 1 and archives[0].name == sha256_of(wheel)
    assert (archives[0] / "shared" / "__init__.py").read_text() == "X = 1\n"
    assert [p for p in index.paths("GET") if p.startswith("/files/")] == [
        f"/files/{wheel.name}"]
