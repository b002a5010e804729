"""Simple-API parsers under hypothesis: JSON and HTML agree, and bad pages fail cleanly.

1. The same file set rendered as a PEP 691 JSON page and as a PEP 503 HTML page (by the
   test itself, escaping what HTML needs escaped) parses to identical `DistFile` lists and
   identical candidates; plus one check of the real `IndexServer` in both formats.
2. Arbitrary bytes, malformed JSON shapes and broken HTML make `parse_json_page`,
   `parse_html_page` and find-links parsing raise nothing but `IndexError_`, whose
   message is one line naming the page.
"""

from __future__ import annotations

import html
import json
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from packaging.tags import Tag
from packaging.version import Version

from tests.support import MakeIndex
from tests.support.packages import Wheelhouse
from wherry.errors import IndexError_
from wherry.http.client import HttpClient, Response
from wherry.index.find_links import find_links_files
from wherry.index.models import DistFile
from wherry.index.simple import parse_html_page, parse_json_page, parse_page
from wherry.platform.tags import TargetTags
from wherry.resolve.candidates import build_versions

PAGE = "https://index.example/simple/demo-pkg/"
INDEX = "https://index.example/simple"
TAGS = TargetTags([Tag("cp312", "cp312", "manylinux_2_17_x86_64"), Tag("py3", "none", "any")])
PY = Version("3.12.1")
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- 1. the same files as JSON and as HTML -------------------------------------------------


@dataclass(frozen=True)
class FileSpec:
    """One file as an index knows it, before rendering."""

    filename: str
    url: str
    sha256: str | None
    requires_python: str | None
    yanked: bool | str
    core_metadata: bool | str  # False, True, or a sha256 digest
    size: int | None
    upload_time: str | None


# Names the filename may spell the project with (all normalise to `demo-pkg`, or not).
_SPELLINGS = st.sampled_from(["demo_pkg", "Demo_Pkg", "demo.pkg", "demo-pkg", "other_pkg"])
_VERSIONS = st.sampled_from(
    ["1.0", "1.0.post1", "2.0rc1", "2.0", "1!0.5", "3.0+local.1", "0.1.dev3", "not_a_version"]
)
_TAGS = st.sampled_from(
    ["py3-none-any", "cp312-cp312-manylinux_2_17_x86_64", "cp39-cp39-win_amd64",
     "py2.py3-none-any", "1-py3-none-any"]
)
_SUFFIXES = st.sampled_from([".tar.gz", ".zip", ".egg", ".exe"])
_HEX = st.text("0123456789abcdefABCDEF", min_size=64, max_size=64)
# Text that needs HTML escaping, quotes, non-ASCII, whitespace at the ends.
_AWKWARD = st.lists(
    st.sampled_from([*"ab <>&\"'=#/é😀\t\u00a0", "&amp;", "&lt;", "&#62;"]), max_size=8
).map("".join)
_REQUIRES_PYTHON = st.one_of(
    st.none(),
    st.sampled_from([">=3.8", "<3", ">=3.8,<4", "> 3.6 , != 3.7.*", " >=3.13", "<3.12 ",
                     "~=3.10", "not a specifier <&>"]),
    _AWKWARD,
)
_UPLOAD_TIMES = st.one_of(
    st.none(),
    st.datetimes(min_value=datetime(2005, 1, 1), max_value=datetime(2030, 1, 1)).map(
        lambda d: d.replace(tzinfo=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    ),
    st.sampled_from(["2024-03-25T00:00:00Z", "2024-03-25T01:00:00+02:00", "garbage"]),
)


@st.composite
def file_specs(draw: st.DrawFn) -> FileSpec:
    spelling = draw(_SPELLINGS)
    version = draw(_VERSIONS)
    if draw(st.booleans()):
        filename = f"{spelling}-{version}-{draw(_TAGS)}.whl"
    else:
        filename = f"{spelling}-{version}{draw(_SUFFIXES)}"
    where = draw(st.sampled_from(["relative", "absolute", "rooted", "other-host"]))
    quoted = quote(filename)
    url = {
        "relative": f"../../files/{quoted}",
        "absolute": f"https://files.example/packages/ab/{quoted}",
        "rooted": f"/files/{quoted}",
        "other-host": f"//cdn.example/x/{quoted}",
    }[where]
    yanked = draw(st.one_of(st.just(False), st.just(True), _AWKWARD))
    core = draw(st.one_of(st.booleans(), _HEX))
    return FileSpec(
        filename=filename,
        url=url,
        sha256=draw(st.one_of(st.none(), _HEX)),
        requires_python=draw(_REQUIRES_PYTHON),
        yanked=yanked,
        core_metadata=core,
        size=draw(st.one_of(st.none(), st.integers(0, 10**12))),
        upload_time=draw(_UPLOAD_TIMES),
    )


def render_json(files: list[FileSpec]) -> bytes:
    """A PEP 691 project page (with PEP 700 and PEP 714 fields)."""
    entries: list[dict[str, Any]] = []
    for f in files:
        entry: dict[str, Any] = {
            "filename": f.filename,
            "url": f.url,
            "hashes": {"sha256": f.sha256} if f.sha256 else {},
        }
        if f.requires_python is not None:
            entry["requires-python"] = f.requires_python
        if f.yanked is not False:
            entry["yanked"] = f.yanked
        if f.core_metadata is not False:
            entry["core-metadata"] = (
                {"sha256": f.core_metadata} if isinstance(f.core_metadata, str) else True
            )
        if f.size is not None:
            entry["size"] = f.size
        if f.upload_time is not None:
            entry["upload-time"] = f.upload_time
        entries.append(entry)
    doc = {"meta": {"api-version": "1.1"}, "name": "demo-pkg", "files": entries,
           "versions": []}
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")


def render_html(files: list[FileSpec]) -> bytes:
    """A PEP 503 project page carrying the same facts as `render_json`."""
    anchors = []
    for f in files:
        href = f.url + (f"#sha256={f.sha256}" if f.sha256 else "")
        attrs = [f'href="{html.escape(href)}"']
        if f.requires_python is not None:
            attrs.append(f'data-requires-python="{html.escape(f.requires_python)}"')
        if f.yanked is True:
            attrs.append("data-yanked")
        elif f.yanked is not False:
            attrs.append(f'data-yanked="{html.escape(f.yanked)}"')
        if f.core_metadata is True:
            attrs.append('data-core-metadata="true"')
        elif isinstance(f.core_metadata, str):
            attrs.append(f'data-core-metadata="sha256={f.core_metadata}"')
        if f.size is not None:
            attrs.append(f'data-size="{f.size}"')
        if f.upload_time is not None:
            attrs.append(f'data-upload-time="{html.escape(f.upload_time)}"')
        anchors.append(f"<a {' '.join(attrs)}>{html.escape(f.filename)}</a><br/>\n")
    page = (
        "<!DOCTYPE html>\n<html><head><meta name=\"pypi:repository-version\" content=\"1.1\">"
        f"<title>Links for demo-pkg</title></head><body>\n{''.join(anchors)}</body></html>\n"
    )
    return page.encode("utf-8")


@FAST
@given(st.lists(file_specs(), max_size=8))
def test_json_and_html_pages_agree(specs: list[FileSpec]) -> None:
    from_json = parse_json_page(render_json(specs), PAGE, INDEX)
    from_html = parse_html_page(render_html(specs), PAGE, INDEX)
    assert from_json == from_html
    assert [f.filename for f in from_json] == [
        s.filename for s in specs if s.filename.endswith((".whl", ".tar.gz", ".zip"))
    ]
    for cutoff in (None, datetime(2024, 3, 25, tzinfo=timezone.utc)):
        assert build_versions("demo-pkg", from_json, TAGS, PY, exclude_newer=cutoff) == \
            build_versions("demo-pkg", from_html, TAGS, PY, exclude_newer=cutoff)


def test_the_real_index_server_agrees_with_itself(
    make_index: MakeIndex, wheelhouse: Wheelhouse,
) -> None:
    files = [
        wheelhouse.wheel("served", "1.0", requires_python=">=3.8,<4"),
        wheelhouse.wheel("served", "2.0", tag="cp312-cp312-manylinux_2_17_x86_64"),
        wheelhouse.wheel("served", "2.1+local"),
    ]
    index = make_index(files, metadata_files=True,
                       yanked={files[1].name: "broken <build> & \"quotes\""},
                       requires_python={files[2].name: "<3.14,>3.7"},
                       upload_times={files[0].name: "2024-01-01T00:00:00Z"})

    def fetch(accept: str) -> tuple[str, list[DistFile]]:
        request = urllib.request.Request(index.project_url("served"), headers={"Accept": accept})
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
            content_type = response.headers.get("Content-Type", "").split(";")[0]
            return content_type, parse_page(body, content_type, response.url, index.url)

    json_type, from_json = fetch("application/vnd.pypi.simple.v1+json")
    index.json = False
    html_type, from_html = fetch("application/vnd.pypi.simple.v1+json")
    assert json_type.endswith("json")
    assert html_type == "text/html"
    assert len(from_json) == 3
    assert from_json == from_html
    assert from_json[1].yanked == "broken <build> & \"quotes\""
    assert from_json[2].requires_python == "<3.14,>3.7"
    assert isinstance(from_json[0].core_metadata, dict)
    assert build_versions("served", from_json, TAGS, PY) == \
        build_versions("served", from_html, TAGS, PY)


# -- 2. bad pages fail cleanly --------------------------------------------------------------


def _assert_clean(error: IndexError_, page_url: str) -> None:
    assert "\n" not in error.message
    assert page_url in error.message


def _json_values() -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False),
        st.text(max_size=10),
        st.sampled_from(["x.whl", "a-1.0-py3-none-any.whl", "http://[::1", "//[", "a-1.tar.gz"]),
    )
    return st.recursive(
        scalars,
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(st.text(max_size=8), children, max_size=4),
        ),
        max_leaves=12,
    )


_FILE_KEYS = ["filename", "url", "hashes", "requires-python", "yanked", "core-metadata",
              "dist-info-metadata", "data-dist-info-metadata", "size", "upload-time"]


@st.composite
def json_shapes(draw: st.DrawFn) -> bytes:
    """Mostly-right PEP 691 pages: the right keys with any JSON value in them."""
    files = draw(st.lists(
        st.dictionaries(st.sampled_from(_FILE_KEYS), _json_values(), max_size=10), max_size=4
    ))
    doc = draw(st.one_of(
        st.just({"meta": {"api-version": "1.0"}, "files": files}),
        st.just(files),
        _json_values(),
    ))
    return json.dumps(doc).encode()


_HTML_PIECES = st.sampled_from([
    "<a href=", '"', "'", ">", "</a>", "<a ", "href", "=", "x-1.0-py3-none-any.whl",
    "#sha256=", "#", "data-yanked", "data-size=", "²", "data-core-metadata=", "<base href=",
    "http://[::1", "//[", "https://", "../", "&#", "&#x110000;", "&amp", "<!", "<![", "<![CDATA[",
    "<!--", "-->", "<?", "</", "<script>", "</script>", "\x00", "\ud800", " ", "\n", "=sha256",
    "data-requires-python=", "&lt;", "<a href='a-1.0.tar.gz#md5=zz'>", "<![if !IE]>", "<!DOCTYPE",
    "data-upload-time=", "%", "%zz", "<a href=x.whl data-size=1e3>",
])


@FAST
@given(st.binary(max_size=300))
@example(b'{"files": [{"filename": "a-1.whl", "url": "http://[::1"}]}')
@example(b'{"files": [{"filename": 1}]}')
@example(b"\xff\xfe")
def test_arbitrary_bytes(body: bytes) -> None:
    for parse in (parse_json_page, parse_html_page):
        try:
            parse(body, PAGE, INDEX)
        except IndexError_ as exc:
            _assert_clean(exc, PAGE)


@FAST
@given(json_shapes())
@example(b'{"files": [{"filename": "a-1.0-py3-none-any.whl", "url": "//[bad"}]}')
@example(b'{"files": [{"filename": "a-1.0-py3-none-any.whl", "url": "x", "size": -1}]}')
def test_malformed_json_shapes(body: bytes) -> None:
    try:
        files = parse_json_page(body, PAGE, INDEX)
    except IndexError_ as exc:
        _assert_clean(exc, PAGE)
    else:
        assert all(isinstance(f, DistFile) for f in files)


@FAST
@given(st.lists(st.one_of(_HTML_PIECES, st.text(max_size=5)), max_size=40).map("".join))
@example('<a href="http://[::1/a-1.0.tar.gz">x</a>')
@example('<base href="http://[::1"><a href="a-1.0.tar.gz">x</a>')
@example('<a href="a-1.0.tar.gz" data-size="²">x</a>')
@example("<![if !IE]><a href='a-1.0.tar.gz'>")
@example("<!x")
def test_broken_html(text: str) -> None:
    body = text.encode("utf-8", errors="surrogatepass")
    try:
        files = parse_html_page(body, PAGE, INDEX)
    except IndexError_ as exc:
        _assert_clean(exc, PAGE)
    else:
        assert all(isinstance(f, DistFile) for f in files)


class _StubClient:
    """Answers every GET with one body, as `HttpClient.get` would after redirects."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def get(self, url: str, **_: object) -> Response:
        return Response(url=url, status=200, headers={"content-type": "text/html"},
                        body=self.body)


@FAST
@given(st.lists(st.one_of(_HTML_PIECES, st.text(max_size=5)), max_size=30).map("".join))
def test_find_links_pages(text: str) -> None:
    location = "https://links.example/wheels/"
    client = cast(HttpClient, _StubClient(text.encode("utf-8", errors="surrogatepass")))
    try:
        files = find_links_files(location, client)
    except IndexError_ as exc:
        _assert_clean(exc, location)
    else:
        assert all(f.index_url == location for f in files)


@pytest.mark.parametrize(
    "location", ["http://[::1/wheels/", "https://[bad", "foo://x", "/no/such/dir/at/all"]
)
def test_find_links_bad_locations(location: str) -> None:
    client = cast(HttpClient, _StubClient(b""))
    with pytest.raises(IndexError_) as caught:
        find_links_files(location, client)
    assert "\n" not in caught.value.message


def test_find_links_html_file(tmp_path: Path) -> None:
    page = tmp_path / "links.html"
    page.write_bytes(b'<a href="http://[::1/a-1.0.tar.gz">x</a><a href="b-1.0.tar.gz">b</a>')
    client = cast(HttpClient, _StubClient(page.read_bytes()))
    files = find_links_files(str(page), client)
    assert [f.filename for f in files] == ["b-1.0.tar.gz"]
