"""Tests of the loopback index server, with the stdlib's own HTTP clients.

wherry's HTTP tests will blame wherry for whatever this server does, so each switch is
checked here against urllib/http.client, which are independent of wherry's stack.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import http.client
import json
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from datetime import datetime, timezone
from email.message import Message
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest

from tests.support import MakeIndex
from tests.support.index_server import HTML_V1, JSON_V1, IndexServer
from tests.support.packages import Wheelhouse, sha256_of, wheel_metadata


class Response:
    """What a test needs from one HTTP exchange, errors included."""

    def __init__(self, status: int, headers: Message, body: bytes, url: str) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.url = url

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def fetch(
    url: str,
    headers: Mapping[str, str] | None = None,
    *,
    method: str = "GET",
    follow: bool = True,
) -> Response:
    """One request with urllib; HTTP errors come back as responses, not exceptions."""
    request = urllib.request.Request(url, headers=dict(headers or {}), method=method)
    handlers = [] if follow else [_NoRedirect()]
    opener = urllib.request.build_opener(*handlers)
    try:
        with opener.open(request, timeout=10) as response:
            return Response(response.status, response.headers, response.read(), response.url)
    except urllib.error.HTTPError as error:
        with error:
            return Response(error.code, error.headers, error.read(), url)


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A small catalogue: two versions of foo-bar (one with Requires-Python), an sdist, baz."""
    house = Wheelhouse(tmp_path_factory.mktemp("index-dists"))
    return {
        "foo1": house.wheel("Foo_Bar", "1.0"),
        "foo2": house.wheel("Foo_Bar", "2.0", requires_python=">=3.8,<4", requires=["baz"]),
        "foo2-sdist": house.sdist("Foo_Bar", "2.0"),
        "baz": house.wheel("baz", "0.1", tag="py2.py3-none-any"),
    }


@pytest.fixture
def index(make_index: MakeIndex, dists: dict[str, Path]) -> IndexServer:
    return make_index(dists.values())


def _file_entry(page: dict[str, Any], filename: str) -> dict[str, Any]:
    entries: list[dict[str, Any]] = [f for f in page["files"] if f["filename"] == filename]
    assert len(entries) == 1, entries
    return entries[0]


# ------------------------------------------------------------------ pages


def test_project_list_json_and_html(index: IndexServer) -> None:
    listing = fetch(index.url + "/", {"Accept": JSON_V1})
    assert listing.headers["Content-Type"] == JSON_V1
    assert listing.json() == {
        "meta": {"api-version": "1.1"},
        "projects": [{"name": "baz"}, {"name": "foo-bar"}],
    }
    html = fetch(index.url + "/")
    assert html.headers["Content-Type"].startswith("text/html")
    assert '<a href="foo-bar/">foo-bar</a>' in html.text
    assert 'name="pypi:repository-version" content="1.1"' in html.text
    redirected = fetch(index.url, follow=False)
    assert (redirected.status, redirected.headers["Location"]) == (301, "/simple/")


def test_project_page_json(index: IndexServer, dists: dict[str, Path]) -> None:
    response = fetch(index.project_url("foo-bar"), {"Accept": JSON_V1})
    assert response.status == 200
    assert response.headers["Content-Type"] == JSON_V1
    assert "Accept" in response.headers["Vary"]
    page = response.json()
    assert page["meta"] == {"api-version": "1.1"}
    assert page["name"] == "foo-bar"
    assert page["versions"] == ["1.0", "2.0"]
    assert sorted(f["filename"] for f in page["files"]) == sorted(
        p.name for k, p in dists.items() if k.startswith("foo")
    )
    entry = _file_entry(page, dists["foo2"].name)
    assert entry["hashes"] == {"sha256": sha256_of(dists["foo2"])}
    assert entry["requires-python"] == ">=3.8,<4"
    assert entry["yanked"] is False
    assert entry["core-metadata"] is False
    assert entry["size"] == dists["foo2"].stat().st_size
    assert entry["upload-time"].endswith("Z")
    assert _file_entry(page, dists["foo1"].name)["requires-python"] is None
    # Relative URLs resolve to the served file, whose bytes match the advertised hash.
    file_url = urljoin(response.url, entry["url"])
    assert urlsplit(file_url).path == f"/files/{dists['foo2'].name}"
    body = fetch(file_url).body
    assert hashlib.sha256(body).hexdigest() == entry["hashes"]["sha256"]


def test_project_page_html(index: IndexServer, dists: dict[str, Path]) -> None:
    for accept, content_type in [
        (None, "text/html; charset=utf-8"),
        ("text/html", "text/html; charset=utf-8"),
        (HTML_V1, HTML_V1),
        ("application/vnd.pypi.simple.latest+html", HTML_V1),
    ]:
        response = fetch(index.project_url("foo-bar"), {"Accept": accept} if accept else {})
        assert response.headers["Content-Type"] == content_type, accept
    page = response.text
    foo2 = dists["foo2"]
    assert f'href="../../files/{foo2.name}#sha256={sha256_of(foo2)}"' in page
    assert 'data-requires-python="&gt;=3.8,&lt;4"' in page
    assert "data-yanked" not in page and "data-core-metadata" not in page
    assert f">{dists['foo2-sdist'].name}</a>" in page


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (f"{JSON_V1}, {HTML_V1};q=0.1", JSON_V1),
        (f"{JSON_V1};q=0.5, {HTML_V1}", HTML_V1),
        (f"{HTML_V1};q=0.2, {JSON_V1};q=0.9, text/html;q=0.01", JSON_V1),
        ("application/vnd.pypi.simple.latest+json", JSON_V1),
        ("*/*", "text/html; charset=utf-8"),
        (f"{JSON_V1};q=0, text/html", "text/html; charset=utf-8"),
    ],
)
def test_negotiation_honours_quality(index: IndexServer, accept: str, expected: str) -> None:
    assert (
        fetch(index.project_url("foo-bar"), {"Accept": accept}).headers["Content-Type"] == expected
    )


def test_json_off_and_html_off(index: IndexServer) -> None:
    index.json = False
    response = fetch(index.project_url("foo-bar"), {"Accept": JSON_V1})
    assert response.status == 200 and response.headers["Content-Type"].startswith("text/html")
    index.json, index.html = True, False
    assert fetch(index.project_url("foo-bar"), {"Accept": "text/html"}).status == 406
    assert fetch(index.project_url("foo-bar")).headers["Content-Type"] == JSON_V1


def test_non_normalised_name_redirects(index: IndexServer) -> None:
    for raw in ("Foo_Bar", "FOO.bar", "foo-bar"):
        if raw == "foo-bar":
            response = fetch(f"{index.url}/{raw}", follow=False)  # missing slash
        else:
            response = fetch(f"{index.url}/{raw}/", follow=False)
        assert response.status == 301
        assert response.headers["Location"] == "/simple/foo-bar/"
    followed = fetch(f"{index.url}/Foo_Bar/", {"Accept": JSON_V1})
    assert followed.status == 200 and followed.url == index.project_url("foo-bar")
    assert followed.json()["name"] == "foo-bar"


def test_unknown_project_and_file_are_404(index: IndexServer) -> None:
    assert fetch(index.project_url("nope")).status == 404
    assert fetch(index.file_url("nope-1.0-py3-none-any.whl")).status == 404
    assert fetch(index.base_url + "/files/../secret").status == 404
    assert fetch(index.base_url + "/elsewhere").status == 404


def test_find_links_page_lists_every_file(index: IndexServer, dists: dict[str, Path]) -> None:
    page = fetch(index.find_links_url).text
    for path in dists.values():
        assert f'href="{path.name}#sha256={sha256_of(path)}"' in page


def test_files_added_while_running_are_served(
    make_index: MakeIndex, tmp_path: Path, wheelhouse: Wheelhouse
) -> None:
    server = make_index(tmp_path)
    assert fetch(server.project_url("late")).status == 404
    wheel = wheelhouse.wheel("late", "1.0")
    (tmp_path / wheel.name).write_bytes(wheel.read_bytes())
    assert fetch(server.project_url("late")).status == 200


# ------------------------------------------------------------- switches


def test_yanked(make_index: MakeIndex, dists: dict[str, Path]) -> None:
    foo1, foo2 = dists["foo1"].name, dists["foo2"].name
    server = make_index(dists.values(), yanked={foo1: "", foo2: 'broken <"badly">'})
    page = fetch(server.project_url("foo-bar"), {"Accept": JSON_V1}).json()
    assert _file_entry(page, foo1)["yanked"] is True
    assert _file_entry(page, foo2)["yanked"] == 'broken <"badly">'
    assert _file_entry(page, dists["foo2-sdist"].name)["yanked"] is False
    html = fetch(server.project_url("foo-bar")).text
    assert "data-yanked>" in html or "data-yanked " in html
    assert 'data-yanked="broken &lt;&quot;badly&quot;&gt;"' in html


def test_requires_python_override(make_index: MakeIndex, dists: dict[str, Path]) -> None:
    foo1, foo2 = dists["foo1"].name, dists["foo2"].name
    server = make_index(dists.values(), requires_python={foo1: ">=3.12", foo2: ""})
    page = fetch(server.project_url("foo-bar"), {"Accept": JSON_V1}).json()
    assert _file_entry(page, foo1)["requires-python"] == ">=3.12"
    assert _file_entry(page, foo2)["requires-python"] is None
    html = fetch(server.project_url("foo-bar")).text
    assert html.count("data-requires-python") == 1


def test_upload_times(make_index: MakeIndex, dists: dict[str, Path]) -> None:
    foo1 = dists["foo1"].name
    when = datetime(2023, 5, 6, 7, 8, 9, tzinfo=timezone.utc)
    server = make_index(dists.values(), upload_times={foo1: when})
    page = fetch(server.project_url("foo-bar"), {"Accept": JSON_V1}).json()
    assert _file_entry(page, foo1)["upload-time"] == "2023-05-06T07:08:09.000000Z"


def test_metadata_files(make_index: MakeIndex, dists: dict[str, Path]) -> None:
    foo2 = dists["foo2"]
    server = make_index(dists.values())
    assert fetch(server.file_url(foo2.name + ".metadata")).status == 404
    server.metadata_files = True
    metadata = fetch(server.file_url(foo2.name + ".metadata"))
    assert metadata.status == 200
    assert metadata.body == wheel_metadata(foo2)
    digest = hashlib.sha256(metadata.body).hexdigest()
    page = fetch(server.project_url("foo-bar"), {"Accept": JSON_V1}).json()
    entry = _file_entry(page, foo2.name)
    assert entry["core-metadata"] == entry["dist-info-metadata"] == {"sha256": digest}
    # Only wheels have PEP 658 metadata; the sdist has none.
    sdist = dists["foo2-sdist"].name
    assert _file_entry(page, sdist)["core-metadata"] is False
    assert fetch(server.file_url(sdist + ".metadata")).status == 404
    html = fetch(server.project_url("foo-bar")).text
    assert f'data-core-metadata="sha256={digest}"' in html
    assert f'data-dist-info-metadata="sha256={digest}"' in html


def test_ranges(index: IndexServer, dists: dict[str, Path]) -> None:
    data = dists["foo2"].read_bytes()
    url = index.file_url(dists["foo2"].name)
    full = fetch(url)
    assert (full.status, full.body, full.headers["Accept-Ranges"]) == (200, data, "bytes")
    assert full.headers["Content-Length"] == str(len(data))
    head = fetch(url, method="HEAD")
    assert (head.status, head.body, head.headers["Content-Length"]) == (200, b"", str(len(data)))
    part = fetch(url, {"Range": "bytes=10-19"})
    assert (part.status, part.body) == (206, data[10:20])
    assert part.headers["Content-Range"] == f"bytes 10-19/{len(data)}"
    suffix = fetch(url, {"Range": "bytes=-22"})
    assert (suffix.status, suffix.body) == (206, data[-22:])
    assert suffix.headers["Content-Range"] == f"bytes {len(data) - 22}-{len(data) - 1}/{len(data)}"
    open_ended = fetch(url, {"Range": f"bytes={len(data) - 5}-"})
    assert (open_ended.status, open_ended.body) == (206, data[-5:])
    past_end = fetch(url, {"Range": f"bytes={len(data)}-"})
    assert (past_end.status, past_end.headers["Content-Range"]) == (416, f"bytes */{len(data)}")
    index.ranges = False
    ignored = fetch(url, {"Range": "bytes=10-19"})
    assert (ignored.status, ignored.body) == (200, data)
    assert "Accept-Ranges" not in ignored.headers
    assert "Content-Range" not in ignored.headers


@pytest.mark.parametrize("target", ["page", "file"])
def test_cache_headers_and_revalidation(
    index: IndexServer, dists: dict[str, Path], target: str
) -> None:
    url = index.project_url("foo-bar") if target == "page" else index.file_url(dists["foo1"].name)
    plain = fetch(url, {"Accept": JSON_V1})
    for header in ("Cache-Control", "ETag", "Last-Modified"):
        assert header not in plain.headers
    assert fetch(url, {"If-None-Match": "*"}).status == 200  # switch off: never 304

    index.cache_headers = True
    first = fetch(url, {"Accept": JSON_V1})
    assert first.status == 200
    assert first.headers["Cache-Control"] == "max-age=600"
    etag, last_modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert etag.startswith('"') and etag.endswith('"')
    not_modified = fetch(url, {"Accept": JSON_V1, "If-None-Match": etag})
    assert (not_modified.status, not_modified.body) == (304, b"")
    assert not_modified.headers["ETag"] == etag
    assert fetch(url, {"Accept": JSON_V1, "If-None-Match": f'"other", W/{etag}'}).status == 304
    assert fetch(url, {"Accept": JSON_V1, "If-None-Match": '"other"'}).status == 200
    assert fetch(url, {"Accept": JSON_V1, "If-Modified-Since": last_modified}).status == 304
    stale = "Mon, 01 Jan 2001 00:00:00 GMT"
    assert fetch(url, {"Accept": JSON_V1, "If-Modified-Since": stale}).status == 200


def test_page_etag_depends_on_representation(index: IndexServer) -> None:
    index.cache_headers = True
    as_json = fetch(index.project_url("foo-bar"), {"Accept": JSON_V1})
    as_html = fetch(index.project_url("foo-bar"), {"Accept": HTML_V1})
    assert as_json.headers["ETag"] != as_html.headers["ETag"]
    revalidated = fetch(
        index.project_url("foo-bar"), {"Accept": HTML_V1, "If-None-Match": as_json.headers["ETag"]}
    )
    assert revalidated.status == 200


def test_basic_auth(make_index: MakeIndex, dists: dict[str, Path]) -> None:
    server = make_index(dists.values(), auth=("alice", "s3cret"))
    denied = fetch(server.project_url("foo-bar"))
    assert denied.status == 401
    assert denied.headers["WWW-Authenticate"].startswith("Basic realm=")

    def basic(user: str, password: str) -> dict[str, str]:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    assert fetch(server.project_url("foo-bar"), basic("alice", "wrong")).status == 401
    assert fetch(server.project_url("foo-bar"), {"Authorization": "Basic !!"}).status == 401
    assert fetch(server.project_url("foo-bar"), basic("alice", "s3cret")).status == 200
    assert fetch(server.file_url(dists["foo1"].name)).status == 401
    assert fetch(server.file_url(dists["foo1"].name), basic("alice", "s3cret")).status == 200


def test_fail_injection(make_index: MakeIndex, dists: dict[str, Path]) -> None:
    server = make_index(dists.values(), fail={"/simple/foo-bar/": 500, "/files/": 503})
    assert fetch(server.project_url("foo-bar")).status == 500
    assert fetch(server.project_url("baz")).status == 200
    assert fetch(server.file_url(dists["baz"].name)).status == 503
    # fail_times: fail a given number of times, then recover (for retry tests).
    server.fail = {"/simple/baz/": 502}
    server.fail_times = {"/simple/baz/": 2}
    statuses = [fetch(server.project_url("baz")).status for _ in range(3)]
    assert statuses == [502, 502, 200]
    server.fail.clear()
    assert fetch(server.project_url("foo-bar")).status == 200


def test_truncated_bodies(make_index: MakeIndex, dists: dict[str, Path]) -> None:
    name = dists["foo1"].name
    server = make_index(dists.values(), truncate={name, "/simple/baz/"})
    with pytest.raises(http.client.IncompleteRead) as excinfo:
        urllib.request.urlopen(server.file_url(name), timeout=10).read()
    assert 0 < len(excinfo.value.partial) < dists["foo1"].stat().st_size
    with pytest.raises(http.client.IncompleteRead):
        urllib.request.urlopen(server.project_url("baz"), timeout=10).read()
    server.truncate.clear()
    assert fetch(server.file_url(name)).body == dists["foo1"].read_bytes()


def test_latency(make_index: MakeIndex, dists: dict[str, Path]) -> None:
    server = make_index(dists.values(), latency=0.2)
    started = time.monotonic()
    assert fetch(server.project_url("baz")).status == 200
    assert time.monotonic() - started >= 0.2
    server.latency = 0  # flipping the switch takes effect on the next request
    assert fetch(server.project_url("baz")).status == 200


def test_gzip_only_when_asked(index: IndexServer) -> None:
    plain = fetch(index.project_url("foo-bar"), {"Accept": JSON_V1})
    assert "Content-Encoding" not in plain.headers
    packed = fetch(index.project_url("foo-bar"), {"Accept": JSON_V1, "Accept-Encoding": "gzip"})
    assert packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.body) == plain.body
    refused = fetch(index.project_url("foo-bar"), {"Accept-Encoding": "gzip;q=0"})
    assert "Content-Encoding" not in refused.headers


def test_keep_alive_and_request_log(index: IndexServer, dists: dict[str, Path]) -> None:
    """Two requests on one HTTP/1.1 connection, both logged with their headers."""
    index.reset_log()
    conn = http.client.HTTPConnection("127.0.0.1", index.port, timeout=10)
    try:
        conn.request("GET", "/simple/baz/", headers={"Accept": JSON_V1, "X-Probe": "one"})
        first = conn.getresponse()
        assert first.version == 11 and first.status == 200
        assert len(first.read()) == int(first.headers["Content-Length"])
        sock = conn.sock
        conn.request("HEAD", f"/files/{dists['baz'].name}")
        second = conn.getresponse()
        second.read()
        assert second.status == 200 and conn.sock is sock  # same socket reused
    finally:
        conn.close()
    log = index.requests
    assert [(r.method, r.path) for r in log] == [
        ("GET", "/simple/baz/"),
        ("HEAD", f"/files/{dists['baz'].name}"),
    ]
    assert log[0].headers["x-probe"] == "one"
    assert log[0].headers["accept"] == JSON_V1
    assert index.paths("HEAD") == [f"/files/{dists['baz'].name}"]
    index.reset_log()
    assert index.requests == []


def test_context_manager_releases_port(tmp_path: Path) -> None:
    with IndexServer(tmp_path) as server:
        url = server.url
        assert url.startswith("http://127.0.0.1:") and url.endswith("/simple")
        assert fetch(url + "/").status == 200
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url + "/", timeout=2)


def test_stop_hangs_up_keep_alive_connections(tmp_path: Path) -> None:
    """A pooled connection must not keep talking to a stopped index."""
    server = IndexServer(tmp_path).start()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        conn.request("GET", "/simple/")
        conn.getresponse().read()
        server.stop()
        with pytest.raises((http.client.HTTPException, OSError)):
            conn.request("GET", "/simple/")
            conn.getresponse().read()
    finally:
        conn.close()
        server.stop()
