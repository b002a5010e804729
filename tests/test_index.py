"""Index layer: simple-page parsing, find-links, several indexes, wheel metadata.

Parsers are tested on hand-written pages covering every attribute variant; the rest runs
against real servers on 127.0.0.1 (the shared `IndexServer`) and real wheels, and checks
the server's request log to prove what was (not) fetched.
"""

from __future__ import annotations

import json
import os
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urljoin

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support import MakeIndex
from tests.support.index_server import IndexServer
from tests.support.packages import Wheelhouse, build_wheel, sha256_of
from wherry.cache.layout import Cache
from wherry.errors import HashMismatch, IndexError_, UsageError, WheelError
from wherry.http.client import HttpClient, HttpStatusError, Response
from wherry.index import lazy_wheel
from wherry.index.find_links import find_links_files
from wherry.index.metadata import wheel_metadata
from wherry.index.models import DistFile
from wherry.index.simple import _Joiner, filename_matches, parse_html_page, parse_json_page
from wherry.index.sources import IndexSources

PAGE = "https://example.test/simple/foo/"
INDEX = "https://example.test/simple"


# -- JSON pages ----------------------------------------------------------------------------

def test_json_page_every_variant() -> None:
    doc = {
        "meta": {"api-version": "1.1"},
        "name": "foo",
        "versions": ["1.0"],
        "files": [
            {"filename": "foo-1.0-py3-none-any.whl", "url": "../../files/foo-1.0-py3-none-any.whl",
             "hashes": {"SHA256": "AB" * 32}, "requires-python": ">=3.8",
             "core-metadata": {"sha256": "cd" * 32}, "dist-info-metadata": True,
             "yanked": False, "size": 123, "upload-time": "2024-01-01T00:00:00Z"},
            {"filename": "foo-1.0.tar.gz", "url": "https://files.test/foo-1.0.tar.gz",
             "hashes": {}, "dist-info-metadata": True, "yanked": True},
            {"filename": "foo-0.9.zip", "url": "/other/foo-0.9.zip", "hashes": {},
             "data-dist-info-metadata": {"sha256": "ef" * 32}, "yanked": "broken build"},
            {"filename": "foo-0.8-py3-none-any.whl", "url": "foo-0.8-py3-none-any.whl#sha256=12",
             "hashes": {}, "core-metadata": False, "dist-info-metadata": True,
             "requires-python": ""},
            {"filename": "foo-0.1.egg", "url": "foo-0.1.egg", "hashes": {}},
            {"filename": "foo-0.1.exe", "url": "foo-0.1.exe", "hashes": {}},
        ],
    }
    files = parse_json_page(json.dumps(doc).encode(), PAGE, INDEX)
    assert [f.filename for f in files] == [
        "foo-1.0-py3-none-any.whl", "foo-1.0.tar.gz", "foo-0.9.zip", "foo-0.8-py3-none-any.whl"]
    wheel, sdist, legacy, old = files
    assert wheel == DistFile(
        filename="foo-1.0-py3-none-any.whl",
        url="https://example.test/files/foo-1.0-py3-none-any.whl", index_url=INDEX,
        hashes={"sha256": "ab" * 32}, requires_python=">=3.8", yanked=False,
        core_metadata={"sha256": "cd" * 32}, size=123, upload_time="2024-01-01T00:00:00Z")
    assert sdist.url == "https://files.test/foo-1.0.tar.gz"
    assert sdist.yanked == "" and sdist.is_yanked
    assert sdist.core_metadata is True
    assert legacy.url == "https://example.test/other/foo-0.9.zip"
    assert legacy.yanked == "broken build"
    assert legacy.core_metadata == {"sha256": "ef" * 32}
    assert old.url == "https://example.test/simple/foo/foo-0.8-py3-none-any.whl"
    assert old.hashes == {"sha256": "12"}  # from the fragment, as no hashes were given
    assert old.core_metadata is False  # core-metadata wins over its older alias
    assert old.requires_python is None


def test_json_page_malformed() -> None:
    with pytest.raises(IndexError_, match="Malformed JSON"):
        parse_json_page(b'{"files": [{"filename": 3}]}', PAGE, INDEX)
    with pytest.raises(IndexError_):
        parse_json_page(b"<html>", PAGE, INDEX)


# -- HTML pages ----------------------------------------------------------------------------

HTML = """<!DOCTYPE html>
<html><head><title>Links for foo</title></head><body>
<a href="../../files/foo-1.0-py3-none-any.whl#sha256=ABCD" data-requires-python="&gt;=3.8,&lt;4"
   data-core-metadata="sha256=beef" data-dist-info-metadata="sha256=dead">foo-1.0</a>
<a href="foo-1.0.tar.gz" data-yanked>foo-1.0.tar.gz</a>
<a href="https://cdn.test/foo-0.9.zip" data-yanked="bad &amp; broken"
   data-dist-info-metadata="true">x</a>
<a href="/abs/foo-0.8-py3-none-any.whl" data-yanked="" data-core-metadata
   data-size="42" data-requires-python="">x</a>
<a href="foo%2B1-0.7-py3-none-any.whl">encoded</a>
<a href="foo-0.1.egg">egg</a>
<a href="../">parent</a>
<a>no href</a>
</body></html>
"""


def test_html_page_every_variant() -> None:
    files = parse_html_page(HTML.encode(), PAGE, INDEX)
    assert [f.filename for f in files] == [
        "foo-1.0-py3-none-any.whl", "foo-1.0.tar.gz", "foo-0.9.zip",
        "foo-0.8-py3-none-any.whl", "foo+1-0.7-py3-none-any.whl"]
    wheel, sdist, legacy, old, encoded = files
    assert wheel.url == "https://example.test/files/foo-1.0-py3-none-any.whl"
    assert wheel.hashes == {"sha256": "abcd"}
    assert wheel.requires_python == ">=3.8,<4"
    assert wheel.core_metadata == {"sha256": "beef"}  # data-core-metadata wins
    assert wheel.yanked is False and wheel.index_url == INDEX
    assert sdist.url == "https://example.test/simple/foo/foo-1.0.tar.gz"
    assert sdist.yanked == "" and sdist.is_yanked and sdist.core_metadata is False
    assert legacy.url == "https://cdn.test/foo-0.9.zip"
    assert legacy.yanked == "bad & broken" and legacy.core_metadata is True
    assert old.url == "https://example.test/abs/foo-0.8-py3-none-any.whl"
    assert old.yanked == "" and old.core_metadata is True
    assert old.size == 42 and old.requires_python is None
    assert encoded.url == "https://example.test/simple/foo/foo%2B1-0.7-py3-none-any.whl"


def test_html_base_href() -> None:
    body = (b'<html><head><base href="https://mirror.test/pkgs/"></head><body>'
            b'<a href="foo-1.0.tar.gz">a</a><a href="../up/foo-2.0.tar.gz">b</a></body></html>')
    urls = [f.url for f in parse_html_page(body, PAGE, INDEX)]
    assert urls == ["https://mirror.test/pkgs/foo-1.0.tar.gz", "https://mirror.test/up/foo-2.0.tar.gz"]
    relative_base = b'<base href="../../files/"><a href="foo-1.0.tar.gz">a</a>'
    assert parse_html_page(relative_base, PAGE, INDEX)[0].url == (
        "https://example.test/files/foo-1.0.tar.gz")


def test_filename_matches() -> None:
    assert filename_matches("Foo_Bar-1.0-py3-none-any.whl", "foo-bar")
    assert filename_matches("foo.bar-1.0.tar.gz", "foo-bar")
    assert filename_matches("foo-bar-1.0.zip", "foo-bar")
    assert not filename_matches("foo-bar-1.0.tar.gz", "foo")
    assert not filename_matches("foobar-1.0.tar.gz", "foo")
    assert not filename_matches("foo-1.0-py3-none-any.whl", "foo-bar")


# -- against a server: both formats, redirects ---------------------------------------------

def test_json_and_html_from_the_server_agree(
        make_index: MakeIndex, wheelhouse: Wheelhouse, client: HttpClient) -> None:
    wheel = wheelhouse.wheel("foo", "1.0", requires_python=">=3.7")
    old = wheelhouse.wheel("foo", "0.9")
    switches = {"metadata_files": True, "yanked": {old.name: ""},
                "requires_python": {wheel.name: ">=3.8,<4"}}
    json_server = make_index([wheel, old], **switches)
    html_server = make_index([wheel, old], json=False, **switches)
    by_json = IndexSources([json_server.url], [], client).files_for("FOO")
    by_html = IndexSources([html_server.url], [], client).files_for("foo")
    assert json_server.requests[0].headers["accept"].startswith(
        "application/vnd.pypi.simple.v1+json")

    def essentials(f: DistFile) -> tuple[object, ...]:
        return (f.filename, f.url.split("/files/")[1], f.hashes, f.requires_python, f.yanked,
                f.core_metadata)

    assert [essentials(f) for f in by_json] == [essentials(f) for f in by_html]
    first = {f.filename: f for f in by_json}
    assert first[wheel.name].requires_python == ">=3.8,<4"
    assert first[wheel.name].hashes == {"sha256": sha256_of(wheel)}
    assert first[old.name].yanked == ""
    assert first[wheel.name].url == json_server.file_url(wheel.name)


class _Redirector:
    """`/simple/foo/` redirects into a deeper mirror path whose page uses relative links."""

    def __init__(self, body: bytes, content_type: str) -> None:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                if self.path == "/simple/foo/":
                    status, headers, payload = 301, {"Location": "/mirror/a/b/foo/"}, b""
                elif self.path == "/mirror/a/b/foo/":
                    status, headers, payload = 200, {"Content-Type": content_type}, body
                else:
                    status, headers, payload = 404, {}, b""
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.mark.parametrize("kind", ["json", "html"])
def test_relative_urls_resolve_against_the_final_url(kind: str, client: HttpClient) -> None:
    if kind == "json":
        doc = {"meta": {"api-version": "1.0"}, "name": "foo", "files": [
            {"filename": "foo-1.0.tar.gz", "url": "../files/foo-1.0.tar.gz", "hashes": {}}]}
        body, content_type = json.dumps(doc).encode(), "application/vnd.pypi.simple.v1+json"
    else:
        body, content_type = b'<a href="../files/foo-1.0.tar.gz">x</a>', "text/html"
    server = _Redirector(body, content_type)
    try:
        files = IndexSources([server.url + "/simple/"], [], client).files_for("foo")
    finally:
        server.close()
    assert [f.url for f in files] == [f"{server.url}/mirror/a/b/files/foo-1.0.tar.gz"]
    assert files[0].index_url == server.url + "/simple/"


# -- file:// indexes -----------------------------------------------------------------------

def _file_index(root: Path, wheel: Path) -> Path:
    files = root / "files"
    files.mkdir(parents=True)
    (files / wheel.name).write_bytes(wheel.read_bytes())
    project = root / "simple" / "foo"
    project.mkdir(parents=True)
    (project / "index.html").write_text(
        f'<a href="../../files/{wheel.name}#sha256={sha256_of(wheel)}">{wheel.name}</a>\n'
        f'<a href="../../files/foo-0.1.tar.gz" data-yanked="old">old</a>\n')
    (root / "simple" / "bar").mkdir()  # a project folder without a page: unknown
    return root / "simple"


def test_file_index(tmp_path: Path, wheelhouse: Wheelhouse, client: HttpClient,
                    cache: Cache) -> None:
    wheel = wheelhouse.wheel("foo", "1.0", requires=["dep"])
    simple = _file_index(tmp_path / "idx", wheel)
    for location in (simple.as_uri(), str(simple), simple.as_uri() + "/"):
        sources = IndexSources([location], [], client)
        files = sources.files_for("Foo")
        assert [f.filename for f in files] == [wheel.name, "foo-0.1.tar.gz"]
        assert files[0].url == (tmp_path / "idx" / "files" / wheel.name).as_uri()
        assert files[0].hashes == {"sha256": sha256_of(wheel)}
        assert files[1].yanked == "old"
        assert sources.files_for("bar") == []
        assert sources.files_for("missing") == []
        assert "missing was not found in file://" in sources.unknown_reason("missing")
    metadata = wheel_metadata(files[0], client, cache)
    assert b"Requires-Dist: dep" in metadata
    assert not any(cache.bucket("metadata").rglob("*.METADATA"))  # local files: not cached


# -- find-links ----------------------------------------------------------------------------

def test_find_links_directory_and_pages(tmp_path: Path, make_index: MakeIndex,
                                        wheelhouse: Wheelhouse, client: HttpClient) -> None:
    foo = wheelhouse.wheel("foo", "1.0")
    bar = wheelhouse.wheel("bar", "2.0")
    links = tmp_path / "links"
    links.mkdir()
    for wheel in (foo, bar):
        (links / wheel.name).write_bytes(wheel.read_bytes())
    (links / "foo-0.5.tar.gz").write_bytes(b"not really")
    (links / "README.txt").write_text("ignored")
    (links / "sub.whl").mkdir()  # not a file

    listed = find_links_files(str(links), client)
    assert [f.filename for f in listed] == [bar.name, "foo-0.5.tar.gz", foo.name]
    assert all(f.hashes == {} for f in listed)
    assert listed[2].url == (links / foo.name).as_uri()
    assert find_links_files(links.as_uri(), client) == listed
    single = find_links_files(str(links / foo.name), client)
    assert [f.url for f in single] == [(links / foo.name).as_uri()]

    server = make_index([foo, bar])
    remote = find_links_files(server.find_links_url, client)
    assert [f.filename for f in remote] == [bar.name, foo.name]
    assert remote[1].hashes == {"sha256": sha256_of(foo)}
    assert remote[1].url == server.file_url(foo.name)

    page = tmp_path / "page.html"
    page.write_text(f'<a href="links/{foo.name}">foo</a><a href="other.txt">x</a>')
    assert [f.url for f in find_links_files(page.as_uri(), client)] == [
        (links / foo.name).as_uri()]

    with pytest.raises(IndexError_, match="does not exist"):
        find_links_files(str(tmp_path / "nowhere"), client)

    sources = IndexSources([], [str(links), server.find_links_url], client)
    assert [f.filename for f in sources.files_for("foo")] == [
        "foo-0.5.tar.gz", foo.name, foo.name]
    assert sources.files_for("baz") == []
    assert "find-links" in sources.unknown_reason("baz")


# -- several indexes -----------------------------------------------------------------------

def test_first_index_strategy(make_index: MakeIndex, wheelhouse: Wheelhouse,
                              client: HttpClient, tmp_path: Path) -> None:
    first = make_index([wheelhouse.wheel("foo", "1.0")])
    second = make_index([wheelhouse.wheel("foo", "2.0"), wheelhouse.wheel("bar", "1.0")])
    links = tmp_path / "links"
    links.mkdir()
    extra = build_wheel(links, "foo", "3.0")
    sources = IndexSources([first.url, second.url], [str(links)], client)

    foo = sources.files_for("foo")
    assert [f.filename for f in foo] == ["foo-1.0-py3-none-any.whl", extra.name]
    assert foo[0].index_url == first.url
    assert sources.index_for("foo") == first.url
    assert not any("/foo/" in path for path in second.paths())  # never asked

    bar = sources.files_for("bar")
    assert [(f.filename, f.index_url) for f in bar] == [("bar-1.0-py3-none-any.whl", second.url)]
    assert first.paths() == ["/simple/foo/", "/simple/bar/"]

    assert sources.files_for("baz") == []
    reason = sources.unknown_reason("baz")
    assert first.project_url("baz") in reason and second.project_url("baz") in reason

    merged = IndexSources([first.url, second.url], [], client, strategy="unsafe-best-match")
    assert [f.filename for f in merged.files_for("foo")] == [
        "foo-1.0-py3-none-any.whl", "foo-2.0-py3-none-any.whl"]


def test_an_error_on_an_index_stops_the_search(make_index: MakeIndex, wheelhouse: Wheelhouse,
                                               client: HttpClient) -> None:
    broken = make_index([], fail={"/simple/": 500})
    good = make_index([wheelhouse.wheel("foo", "1.0")])
    sources = IndexSources([broken.url, good.url], [], client)
    with pytest.raises(HttpStatusError) as caught:
        sources.files_for("foo")
    assert caught.value.status == 500
    with pytest.raises(HttpStatusError):  # memoised: not asked again
        sources.files_for("foo")
    assert len(broken.requests) == 2  # one attempt and one retry
    assert good.requests == []


def test_lookups_are_memoised_and_shared_between_threads(
        make_index: MakeIndex, wheelhouse: Wheelhouse, client: HttpClient) -> None:
    server = make_index([wheelhouse.wheel("foo", "1.0"), wheelhouse.wheel("bar", "1.0")],
                        latency=0.1)
    sources = IndexSources([server.url], [], client)
    results = client.map(lambda _: len(sources.files_for("foo")), range(8))
    assert results == [1] * 8
    sources.prefetch(["bar", "Bar", "foo", "baz"])
    assert len(sources.files_for("BAR")) == 1
    assert sources.files_for("baz") == []
    assert sorted(server.paths()) == ["/simple/bar/", "/simple/baz/", "/simple/foo/"]


def test_unknown_strategy(client: HttpClient) -> None:
    with pytest.raises(UsageError, match="strategy"):
        IndexSources([], [], client, strategy="best")


# -- wheel metadata ------------------------------------------------------------------------

def _file_of(server: IndexServer, client: HttpClient, name: str, filename: str) -> DistFile:
    files = IndexSources([server.url], [], client).files_for(name)
    return next(f for f in files if f.filename == filename)


def _file_gets(server: IndexServer, filename: str) -> list[str | None]:
    """The Range header of every GET of the wheel itself (None: a whole-file GET)."""
    return [r.headers.get("range") for r in server.requests
            if r.method == "GET" and r.path == f"/files/{filename}"]


def test_metadata_pep658(make_index: MakeIndex, wheelhouse: Wheelhouse, client: HttpClient,
                         cache: Cache) -> None:
    wheel = wheelhouse.wheel("foo", "1.0", requires=["bar>=2"])
    server = make_index([wheel], metadata_files=True)
    file = _file_of(server, client, "foo", wheel.name)
    assert isinstance(file.core_metadata, dict)
    server.reset_log()
    metadata = wheel_metadata(file, client, cache)
    assert b"Requires-Dist: bar>=2" in metadata
    assert server.paths() == [f"/files/{wheel.name}.metadata"]

    bad = DistFile(filename=wheel.name, url=file.url, index_url=file.index_url,
                   core_metadata={"sha256": "0" * 64})
    with pytest.raises(HashMismatch, match=r"\.metadata"):
        wheel_metadata(bad, client, cache)


def test_metadata_by_range_requests(make_index: MakeIndex, wheelhouse: Wheelhouse,
                                    client: HttpClient, cache: Cache) -> None:
    wheel = wheelhouse.wheel("foo", "1.0", requires=["bar"],
                             files={"foo/blob.bin": os.urandom(400_000)})
    server = make_index([wheel])
    file = _file_of(server, client, "foo", wheel.name)
    assert file.core_metadata is False
    server.reset_log()
    metadata = wheel_metadata(file, client, cache)
    assert b"Requires-Dist: bar" in metadata
    ranges = _file_gets(server, wheel.name)
    assert ranges == ["bytes=-65536"]  # the tail held the directory and METADATA
    assert None not in ranges

    server.reset_log()  # cached forever, keyed by the file's sha256
    with HttpClient() as fresh:
        assert wheel_metadata(file, fresh, cache) == metadata
    assert server.requests == []


def test_metadata_by_ranges_with_a_big_central_directory(
        make_index: MakeIndex, wheelhouse: Wheelhouse, client: HttpClient,
        cache: Cache) -> None:
    files = {f"foo/{'m' * 60}_{i:04d}.py": f"# {i}\n" for i in range(1000)}
    wheel = wheelhouse.wheel("foo", "1.0", requires=["bar"], files=files)
    server = make_index([wheel])
    file = _file_of(server, client, "foo", wheel.name)
    server.reset_log()
    assert b"Requires-Dist: bar" in wheel_metadata(file, client, cache)
    ranges = _file_gets(server, wheel.name)
    assert None not in ranges and 2 <= len(ranges) <= 3
    assert ranges[0] == "bytes=-65536"


def test_metadata_when_suffix_ranges_are_refused(
        make_index: MakeIndex, wheelhouse: Wheelhouse, client: HttpClient, cache: Cache,
        monkeypatch: pytest.MonkeyPatch) -> None:
    wheel = wheelhouse.wheel("foo", "1.0", requires=["bar"],
                             files={"foo/blob.bin": os.urandom(100_000)})
    server = make_index([wheel])
    file = _file_of(server, client, "foo", wheel.name)
    real = client.get_range

    def no_suffix(url: str, start: int, end: int | None) -> Response | None:
        if start < 0:
            raise HttpStatusError(url, 416)
        return real(url, start, end)

    monkeypatch.setattr(client, "get_range", no_suffix)
    server.reset_log()
    assert b"Requires-Dist: bar" in wheel_metadata(file, client, cache)
    assert [r.method for r in server.requests] == ["HEAD", "GET"]
    size = wheel.stat().st_size
    assert server.requests[1].headers["range"] == f"bytes={size - 65536}-{size - 1}"


def _wheel_with_metadata_first(folder: Path) -> Path:
    """A wheel whose METADATA sits at the start, far from the 64 KiB tail."""
    path = folder / "foo-2.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("foo-2.0.dist-info/METADATA",
                         "Metadata-Version: 2.1\nName: foo\nVersion: 2.0\nRequires-Dist: far\n")
        archive.writestr("foo/blob.bin", os.urandom(200_000))
        archive.writestr("foo-2.0.dist-info/WHEEL", "Wheel-Version: 1.0\n")
        archive.writestr("foo-2.0.dist-info/RECORD", "")
    return path


def test_metadata_by_ranges_far_from_the_tail(make_index: MakeIndex, client: HttpClient,
                                              cache: Cache, tmp_path: Path) -> None:
    wheel = _wheel_with_metadata_first(tmp_path)
    server = make_index([wheel])
    file = _file_of(server, client, "foo", wheel.name)
    server.reset_log()
    assert b"Requires-Dist: far" in wheel_metadata(file, client, cache)
    ranges = _file_gets(server, wheel.name)
    assert len(ranges) == 2 and ranges[1] is not None and ranges[1].startswith("bytes=0-")


def test_metadata_by_full_download_without_ranges(
        make_index: MakeIndex, wheelhouse: Wheelhouse, client: HttpClient,
        cache: Cache) -> None:
    one = wheelhouse.wheel("foo", "1.0", requires=["bar"])
    two = wheelhouse.wheel("foo", "2.0", requires=["baz"])
    server = make_index([one, two], ranges=False)
    files = {f.filename: f for f in IndexSources([server.url], [], client).files_for("foo")}
    server.reset_log()
    assert b"Requires-Dist: bar" in wheel_metadata(files[one.name], client, cache)
    assert _file_gets(server, one.name) == ["bytes=-65536", None]
    assert b"Requires-Dist: baz" in wheel_metadata(files[two.name], client, cache)
    assert _file_gets(server, two.name) == [None]  # the host is known to ignore ranges
    assert list((cache.root / ".tmp").rglob("*.whl")) == []

    tampered = DistFile(filename=one.name, url=files[one.name].url, index_url=server.url,
                        hashes={"sha256": "1" * 64})
    with pytest.raises(HashMismatch):
        wheel_metadata(tampered, client, cache)


def test_metadata_must_match_the_filename(make_index: MakeIndex, wheelhouse: Wheelhouse,
                                          client: HttpClient, cache: Cache,
                                          tmp_path: Path) -> None:
    folder = tmp_path / "files"
    folder.mkdir()
    liar = folder / "bar-1.0-py3-none-any.whl"
    liar.write_bytes(wheelhouse.wheel("foo", "1.0").read_bytes())
    server = make_index(folder)
    file = _file_of(server, client, "bar", liar.name)
    with pytest.raises(WheelError, match=r"describes foo 1\.0"):
        wheel_metadata(file, client, cache)
    local = DistFile(filename=liar.name, url=liar.as_uri(), index_url="x")
    with pytest.raises(WheelError, match=r"describes foo 1\.0"):
        wheel_metadata(local, client, cache)


def test_metadata_of_an_sdist_is_a_clear_error(client: HttpClient, cache: Cache) -> None:
    sdist = DistFile(filename="foo-1.0.tar.gz", url="http://127.0.0.1:9/foo-1.0.tar.gz",
                     index_url="x")
    with pytest.raises(WheelError, match="needs a build; not supported yet"):
        wheel_metadata(sdist, client, cache)


# -- the zip reader, without a server ------------------------------------------------------

def _reader(data: bytes) -> lazy_wheel.ReadFn:
    return lambda start, end: data[start:end]


def _metadata_from_bytes(data: bytes, tail: int = 4096) -> bytes:
    start = max(len(data) - tail, 0)
    read = _reader(data)
    location = lazy_wheel.central_directory(data[start:], start, read)
    members = lazy_wheel.parse_central_directory(
        read(location.offset, location.offset + location.size), location.prefix)
    member = lazy_wheel.metadata_member(members, "foo", "foo-2.0-py3-none-any.whl")
    begin = lazy_wheel.local_data_offset(read(member.header_offset, member.header_offset + 512),
                                         member)
    return lazy_wheel.extract(member, read(begin, begin + member.compressed_size))


def test_zip_reader_handles_zip64_and_prepended_data(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    plain = _wheel_with_metadata_first(tmp_path).read_bytes()
    assert b"Requires-Dist: far" in _metadata_from_bytes(plain)
    assert b"Requires-Dist: far" in _metadata_from_bytes(b"#!/bin/sh\n" * 100 + plain)

    (tmp_path / "64").mkdir()
    monkeypatch.setattr(zipfile, "ZIP64_LIMIT", 1000)  # force zip64 records and extras
    zip64 = _wheel_with_metadata_first(tmp_path / "64").read_bytes()
    monkeypatch.undo()
    assert b"PK\x06\x06" in zip64[-200:]
    assert b"Requires-Dist: far" in _metadata_from_bytes(zip64)


def test_zip_reader_errors() -> None:
    with pytest.raises(lazy_wheel.Unsupported):
        lazy_wheel.find_eocd(b"no zip here", 0)
    assert lazy_wheel.parse_content_range("bytes 10-19/100") == (10, 20, 100)
    assert lazy_wheel.parse_content_range("bytes 0-0/*") == (0, 1, None)


# -- URL joining matches urljoin -----------------------------------------------------------

_SEGMENTS = st.sampled_from(["..", ".", "a", "b.whl", "", "x%20y", "c:d", "?q=1", "#sha256=ab"])


@given(base=st.lists(_SEGMENTS, max_size=5), link=st.lists(_SEGMENTS, max_size=6),
       lead=st.sampled_from(["", "/", "//host/", "./", "../", "https://o/"]),
       scheme=st.sampled_from(["https://h", "http://u:p@h:8", "file://"]))
def test_fast_join_agrees_with_urljoin(base: list[str], link: list[str], lead: str,
                                       scheme: str) -> None:
    base_url = scheme + "/" + "/".join(base)
    url = lead + "/".join(link)
    assert _Joiner(base_url)(url) == urljoin(base_url, url)
