"""The simple-page cache: RFC 9111 policy (hishel's core), --refresh, --offline, damage.

Policy details are tested with a scripted client and a fake clock (`cached_get`); the
page cache itself against the loopback index, counting requests in its log; --offline
end to end through the CLI.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from typing import Any, cast

import msgspec
import pytest

from tests.support import MakeIndex, Result, RunWherry
from tests.support.environments import make_venv, tree_state
from tests.support.index_server import IndexServer
from tests.support.packages import Wheelhouse
from wherry.cache.layout import Cache
from wherry.errors import NetworkError
from wherry.http.cache_policy import HEURISTIC_LIFETIME, CachedGet, CachePolicy, cached_get
from wherry.http.client import HttpClient, HttpStatusError, Response
from wherry.index.page_cache import PageCache, PageEntry
from wherry.index.sources import IndexSources
from wherry.settings import NetworkSettings

URL = "https://example.test/simple/foo/"
T0 = 1_800_000_000.0


# -- a scripted client and clock -----------------------------------------------------------

class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


class Scripted:
    """Answers GETs from a queue of `(status, headers)`; records the headers sent."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.queue: list[tuple[int, dict[str, str]]] = []
        self.sent: list[dict[str, str]] = []

    def answer(self, status: int, **headers: str) -> None:
        self.queue.append((status, {k.replace("_", "-").lower(): v for k, v in headers.items()}))

    def get(self, url: str, *, headers: Mapping[str, str] | None = None,
            allow_status: tuple[int, ...] = (200,), digest: bool = False) -> Response:
        self.sent.append({k.lower(): v for k, v in (headers or {}).items()})
        status, answer = self.queue.pop(0)
        answer = {"date": formatdate(self.clock.now, usegmt=True), **answer}
        if answer["date"] == "":
            del answer["date"]
        if status not in allow_status:
            raise HttpStatusError(url, status)
        body = json.dumps({"meta": {"api-version": "1.1"}, "name": "foo", "files": [
            {"filename": "foo-1.0-py3-none-any.whl", "url": "foo-1.0-py3-none-any.whl",
             "hashes": {}}]}).encode() if status == 200 else b""
        answer.setdefault("content-type", "application/vnd.pypi.simple.v1+json")
        return Response(url, status, answer, body)


class Policy:
    """A `cached_get` loop that keeps one stored policy, as the page cache does."""

    def __init__(self) -> None:
        self.clock = Clock()
        self.client = Scripted(self.clock)
        self.stored: CachePolicy | None = None

    def get(self, *, refresh: bool = False, accept: str = "json") -> CachedGet:
        result = cached_get(cast(HttpClient, self.client), URL, headers={"Accept": accept},
                            stored=self.stored, refresh=refresh, allow_status=(200, 404),
                            clock=self.clock)
        if result.policy is not None:
            self.stored = result.policy
        elif result.response is not None:
            self.stored = None
        return result

    def later(self, seconds: float) -> Policy:
        self.clock.now += seconds
        return self

    def requests(self) -> int:
        return len(self.client.sent)


@pytest.fixture
def policy() -> Policy:
    return Policy()


def test_max_age_then_conditional_revalidation(policy: Policy) -> None:
    policy.client.answer(200, cache_control="max-age=600", etag='"v1"')
    first = policy.get()
    assert first.response is not None and first.policy is not None
    assert policy.later(599).get().fresh and policy.requests() == 1
    policy.client.answer(304, etag='"v1"')
    second = policy.later(2).get()
    assert second.not_modified and second.response is None
    assert policy.client.sent[-1]["if-none-match"] == '"v1"'
    # The 304 restarted the clock, and the stored policy is what the server said.
    assert policy.stored is not None
    assert policy.stored.response_headers["cache-control"] == "max-age=600"
    assert policy.later(599).get().fresh and policy.requests() == 2


def test_no_freshness_and_no_validators_refetches_every_time(policy: Policy) -> None:
    for _ in range(3):
        policy.client.answer(200)
        result = policy.get()
        assert result.response is not None and result.response.status == 200
        assert result.policy is not None  # stored, for --offline, but never fresh
    assert policy.requests() == 3
    assert not any(k.startswith("if-") for sent in policy.client.sent for k in sent)


@pytest.mark.parametrize("stored_headers", [None, {}, {"x-cache-status": "BYPASS"}])
@pytest.mark.parametrize("status,headers", [
    (200, {}),
    (404, {}),
    (200, {"connection": "keep-alive", "transfer-encoding": "chunked", "x-served-by": "a"}),
    (200, {"cache-control": "no-store"}),
    (200, {"cache-control": "max-age=60"}),
    (200, {"etag": '"v2"'}),
    (200, {"last-modified": "Mon, 01 Jan 2024 00:00:00 GMT"}),
    (200, {"vary": "Accept"}),
    (200, {"pragma": "no-cache"}),
])
def test_short_path_decides_as_hishel_does(
    monkeypatch: pytest.MonkeyPatch, stored_headers: dict[str, str] | None, status: int,
    headers: dict[str, str],
) -> None:
    """`cached_get` answers inert entries and responses without hishel; every outcome
    (request sent, policy stored, flags) must be the one hishel's states give."""
    import wherry.http.cache_policy as cache_policy

    def run(short: bool) -> tuple[CachedGet, list[dict[str, str]]]:
        if not short:  # every request through hishel's states, as before the short path
            monkeypatch.setattr(cache_policy, "_inert", lambda headers: False)
        clock = Clock()
        client = Scripted(clock)
        client.queue.append((status, dict(headers)))
        stored = None
        if stored_headers is not None:
            stored = CachePolicy.from_response(URL, 200, stored_headers, {"accept": "json"},
                                               T0 - 10, T0 - 10)
        result = cached_get(cast(HttpClient, client), URL, headers={"Accept": "json"},
                            stored=stored, allow_status=(200, 404), clock=clock)
        monkeypatch.undo()
        return result, client.sent

    short, sent_short = run(True)
    slow, sent_slow = run(False)
    assert sent_short == sent_slow and len(sent_short) == 1
    assert (short.fresh, short.not_modified, short.revalidated) == (
        slow.fresh, slow.not_modified, slow.revalidated)
    assert (short.response is None) == (slow.response is None)
    assert (short.policy is None) == (slow.policy is None)
    if short.policy is not None and slow.policy is not None:
        assert msgspec.to_builtins(short.policy) == msgspec.to_builtins(slow.policy)


def test_last_modified_only_is_fresh_for_uvs_ten_minutes(policy: Policy) -> None:
    # hishel alone would give a page modified a year ago a week (10 % of its age).
    modified = formatdate(T0 - 365 * 86400, usegmt=True)
    policy.client.answer(200, last_modified=modified)
    policy.get()
    assert policy.later(HEURISTIC_LIFETIME - 1).get().fresh
    policy.client.answer(304, last_modified=modified)
    assert policy.later(2).get().not_modified
    assert policy.client.sent[-1]["if-modified-since"] == modified
    assert policy.stored is not None
    assert "cache-control" not in policy.stored.response_headers  # the heuristic is not stored


def test_no_store_is_not_stored_and_replaces_an_entry(policy: Policy) -> None:
    policy.client.answer(200, cache_control="max-age=0", etag='"v1"')
    policy.get()
    assert policy.stored is not None
    policy.client.answer(200, cache_control="no-store")
    result = policy.later(1).get()
    assert result.response is not None and result.policy is None
    assert policy.stored is None


@pytest.mark.parametrize("control", ["no-cache, max-age=600", "max-age=0, must-revalidate"])
def test_no_cache_and_must_revalidate_revalidate(policy: Policy, control: str) -> None:
    policy.client.answer(200, cache_control=control, etag='"v1"')
    policy.get()
    policy.client.answer(304, etag='"v1"')
    assert policy.later(1).get().not_modified
    assert policy.client.sent[-1]["if-none-match"] == '"v1"'


def test_vary_mismatch_revalidates(policy: Policy) -> None:
    policy.client.answer(200, cache_control="max-age=600", vary="Accept", etag='"j"')
    policy.get(accept="json")
    assert policy.stored is not None and policy.stored.request_headers == {"accept": "json"}
    assert policy.later(1).get(accept="json").fresh
    policy.client.answer(200, cache_control="max-age=600", vary="Accept", etag='"h"')
    result = policy.get(accept="html")
    assert result.response is not None and result.response.status == 200
    assert policy.client.sent[-1]["accept"] == "html"


def test_age_header_date_and_expires(policy: Policy) -> None:
    policy.client.answer(200, cache_control="max-age=600", age="590", etag='"a"')
    policy.get()
    policy.client.answer(304, etag='"a"')
    assert policy.later(20).get().not_modified  # 590 + 20 > 600

    fresh = Policy()  # no Date from the server: the arrival time stands in for it
    fresh.client.answer(200, cache_control="max-age=600", date="", etag='"a"')
    fresh.get()
    assert fresh.stored is not None and "date" in fresh.stored.response_headers
    assert fresh.later(599).get().fresh
    fresh.client.answer(304, etag='"a"')
    assert fresh.later(2).get().not_modified

    expiring = Policy()
    expiring.client.answer(200, expires=formatdate(T0 + 300, usegmt=True), etag='"e"')
    expiring.get()
    assert expiring.later(299).get().fresh
    expiring.client.answer(304, etag='"e"')
    assert expiring.later(2).get().not_modified


def test_refresh_forces_a_conditional_request(policy: Policy) -> None:
    policy.client.answer(200, cache_control="max-age=600", etag='"v1"')
    policy.get()
    policy.client.answer(304, etag='"v1"')
    assert policy.later(1).get(refresh=True).not_modified
    assert policy.client.sent[-1]["if-none-match"] == '"v1"'
    assert policy.client.sent[-1]["cache-control"] == "no-cache"
    # A changed page replaces the stored one.
    policy.client.answer(200, cache_control="max-age=600", etag='"v2"')
    changed = policy.get(refresh=True)
    assert changed.response is not None and changed.response.status == 200
    assert policy.stored is not None and policy.stored.response_headers["etag"] == '"v2"'


# -- the page cache against the loopback index ----------------------------------------------

@pytest.fixture
def two(wheelhouse: Wheelhouse, make_index: MakeIndex) -> IndexServer:
    return make_index([wheelhouse.wheel("x", "1.0"), wheelhouse.wheel("y", "1.0"),
                       wheelhouse.wheel("y", "2.0")], cache_headers=True)


def lookup(server: IndexServer, client: HttpClient, cache: Cache, *names: str,
           **network: bool | frozenset[str]) -> list[list[str]]:
    """One "run": a fresh IndexSources over the same cache, as each wherry process has."""
    sources = IndexSources([server.url], [], client, cache=cache,
                           network=NetworkSettings(**network))  # type: ignore[arg-type]
    return [sorted(f.filename for f in sources.files_for(name)) for name in names]


def page_requests(server: IndexServer) -> list[tuple[str, str]]:
    """`(path, kind)` per project-page request: kind is "conditional" or "plain"."""
    return [(r.path, "conditional" if "if-none-match" in r.headers else "plain")
            for r in server.requests if r.path.startswith("/simple/")]


def age_entry(cache: Cache, index_url: str, name: str, seconds: float) -> None:
    """Make a stored page `seconds` older (its clock times and its `Date`)."""
    path = PageCache(cache).path(index_url, name)
    entry = msgspec.msgpack.decode(path.read_bytes(), type=PageEntry)
    policy = entry.policy
    date = parsedate_to_datetime(policy.response_headers["date"]).timestamp()
    policy.response_headers["date"] = formatdate(date - seconds, usegmt=True)
    policy.request_time -= seconds
    policy.response_time -= seconds
    path.write_bytes(msgspec.msgpack.encode(entry))


def test_fresh_page_makes_no_request_then_revalidates_with_304(
        two: IndexServer, client: HttpClient, cache: Cache) -> None:
    first = lookup(two, client, cache, "x", "y")
    assert page_requests(two) == [("/simple/x/", "plain"), ("/simple/y/", "plain")]
    two.reset_log()
    assert lookup(two, client, cache, "x", "y") == first
    assert two.requests == []  # within max-age: no request at all

    age_entry(cache, two.url, "x", 601)
    two.reset_log()
    assert lookup(two, client, cache, "x", "y") == first
    assert page_requests(two) == [("/simple/x/", "conditional")]
    # The 304 freshened the entry: the next run asks nothing again.
    two.reset_log()
    assert lookup(two, client, cache, "x") == first[:1]
    assert two.requests == []


def test_revalidation_sees_a_changed_page(two: IndexServer, client: HttpClient, cache: Cache,
                                          wheelhouse: Wheelhouse) -> None:
    assert lookup(two, client, cache, "x") == [["x-1.0-py3-none-any.whl"]]
    new = wheelhouse.wheel("x", "2.0")
    os.link(new, two.files_dir / new.name)
    assert lookup(two, client, cache, "x") == [["x-1.0-py3-none-any.whl"]]  # still fresh
    two.reset_log()
    assert lookup(two, client, cache, "x", refresh=True) == [
        ["x-1.0-py3-none-any.whl", "x-2.0-py3-none-any.whl"]]
    assert page_requests(two) == [("/simple/x/", "conditional")]
    assert two.requests[0].headers["cache-control"] == "no-cache"


def test_refresh_and_refresh_package(two: IndexServer, client: HttpClient, cache: Cache) -> None:
    first = lookup(two, client, cache, "x", "y")
    two.reset_log()
    assert lookup(two, client, cache, "x", "y", refresh=True) == first
    assert page_requests(two) == [("/simple/x/", "conditional"), ("/simple/y/", "conditional")]
    two.reset_log()
    assert lookup(two, client, cache, "x", "y", refresh_packages=frozenset({"x"})) == first
    assert page_requests(two) == [("/simple/x/", "conditional")]


def test_without_cache_headers_every_run_refetches(
        two: IndexServer, client: HttpClient, cache: Cache) -> None:
    two.cache_headers = False
    first = lookup(two, client, cache, "x")
    for _ in range(2):
        assert lookup(two, client, cache, "x") == first
    assert page_requests(two) == [("/simple/x/", "plain")] * 3
    assert not any("if-modified-since" in r.headers for r in two.requests)
    # ... yet the page is kept for --offline.
    two.reset_log()
    assert lookup(two, client, cache, "x", offline=True) == first
    assert two.requests == []


def test_no_store_page_is_not_stored(cache: Cache) -> None:
    scripted = Scripted(Clock())
    index = URL.rsplit("/foo/", 1)[0]
    stored = PageCache(cache).path(index, "foo")

    def run() -> list[str]:
        sources = IndexSources([index], [], cast(HttpClient, scripted), cache=cache)
        return [f.filename for f in sources.files_for("foo")]

    scripted.answer(200, cache_control="no-store")
    assert run() == ["foo-1.0-py3-none-any.whl"]
    assert not stored.exists()
    scripted.answer(200, cache_control="max-age=0", etag='"v1"')
    run()
    assert stored.exists()
    scripted.answer(200, cache_control="no-store")  # the page changed to no-store
    assert run() == ["foo-1.0-py3-none-any.whl"]
    assert scripted.sent[-1]["if-none-match"] == '"v1"'
    assert not stored.exists()


def test_a_404_is_cached_like_a_page(two: IndexServer, client: HttpClient, cache: Cache) -> None:
    assert lookup(two, client, cache, "nothing") == [[]]
    two.reset_log()
    assert lookup(two, client, cache, "nothing", offline=True) == [[]]
    assert two.requests == []


def test_corrupt_entry_is_replaced(two: IndexServer, client: HttpClient, cache: Cache) -> None:
    first = lookup(two, client, cache, "x")
    path = PageCache(cache).path(two.url, "x")
    for garbage in (b"\x93not msgpack", msgspec.msgpack.encode({"policy": 1, "files": "x"}), b""):
        path.write_bytes(garbage)
        two.reset_log()
        assert lookup(two, client, cache, "x") == first
        assert page_requests(two) == [("/simple/x/", "plain")]
        entry = msgspec.msgpack.decode(path.read_bytes(), type=PageEntry)
        assert entry.files is not None and entry.files.count == 1


def test_entry_of_another_shape_is_a_miss(two: IndexServer, client: HttpClient,
                                          cache: Cache) -> None:
    """A readable entry whose files have a shape this wherry does not know (an older
    layout under the same bucket) is refetched, never an error."""
    first = lookup(two, client, cache, "x")
    path = PageCache(cache).path(two.url, "x")
    entry = msgspec.msgpack.decode(path.read_bytes(), type=PageEntry)
    older = {"policy": entry.policy, "body_sha256": entry.body_sha256,
             "files": {"count": 1, "versions": [], "other": []}}  # no `base`
    path.write_bytes(msgspec.msgpack.encode(older))
    two.reset_log()
    assert lookup(two, client, cache, "x") == first
    assert page_requests(two) == [("/simple/x/", "plain")]
    assert msgspec.msgpack.decode(path.read_bytes(), type=PageEntry).files is not None


def test_credentials_are_not_written_to_the_cache(make_index: MakeIndex, wheelhouse: Wheelhouse,
                                                  client: HttpClient, cache: Cache) -> None:
    server = make_index([wheelhouse.wheel("x", "1.0")], auth=("me", "s3cret"),
                        cache_headers=True)
    index = server.url.replace("://", "://me:s3cret@")
    for _ in range(2):
        sources = IndexSources([index], [], client, cache=cache)
        [wheel] = sources.files_for("x")
        assert wheel.url.startswith("http://me:s3cret@") and wheel.index_url == index
    stored = PageCache(cache).path(index, "x")
    assert stored == PageCache(cache).path(server.url, "x")
    assert b"s3cret" not in stored.read_bytes()


def test_offline_uses_stale_pages_and_fails_clearly_when_missing(
        two: IndexServer, client: HttpClient, cache: Cache, tmp_path: Path,
        wheelhouse: Wheelhouse) -> None:
    first = lookup(two, client, cache, "x")
    age_entry(cache, two.url, "x", 10 * 86400)
    two.reset_log()
    assert lookup(two, client, cache, "x", offline=True) == first
    with pytest.raises(NetworkError) as caught:
        lookup(two, client, cache, "y", offline=True)
    assert "is not in the cache and --offline was given" in caught.value.message
    assert caught.value.hint is not None and "without --offline" in caught.value.hint
    assert two.requests == []

    # file:// indexes and local find-links need no network.
    wheel = wheelhouse.wheel("z", "1.0")
    links = tmp_path / "links"
    (links / "simple" / "z").mkdir(parents=True)
    (links / wheel.name).write_bytes(wheel.read_bytes())
    (links / "simple" / "z" / "index.html").write_text(
        f'<a href="../../{wheel.name}">{wheel.name}</a>')
    with HttpClient(offline=True) as offline:
        sources = IndexSources([(links / "simple").as_uri()], [str(links)], offline,
                               cache=cache, network=NetworkSettings(offline=True))
        assert [f.filename for f in sources.files_for("z")] == [wheel.name] * 2
        with pytest.raises(NetworkError, match="--offline"):
            offline.get(two.file_url(wheel.name))
    assert two.requests == []


# -- --offline end to end ------------------------------------------------------------------





def _install(run_wherry: RunWherry, venv: Path, index_url: str, *args: str) -> Result:
    return run_wherry("pip", "install", "--python", venv, "--index-url", index_url, *args, "-v")


@pytest.fixture
def served(wheelhouse: Wheelhouse, make_index: MakeIndex) -> IndexServer:
    return make_index([wheelhouse.wheel("alpha", "1.0", requires=["beta"]),
                       wheelhouse.wheel("beta", "1.0")])


def test_offline_install_from_a_warm_cache(run_wherry: RunWherry, tmp_path: Path,
                                           served: IndexServer) -> None:
    warm = _install(run_wherry, make_venv(run_wherry, tmp_path / "one"), served.url, "alpha")
    assert warm.ok, warm
    index_url = served.url
    served.stop()  # any request now fails
    venv = make_venv(run_wherry, tmp_path / "two")
    result = _install(run_wherry, venv, index_url, "alpha", "--offline")
    assert result.ok, result
    assert " + alpha==1.0" in result.stderr and " + beta==1.0" in result.stderr
    assert "cached, --offline" in result.stderr


def test_offline_install_with_a_cold_cache_fails_cleanly(
        run_wherry: RunWherry, tmp_path: Path, served: IndexServer) -> None:
    venv = make_venv(run_wherry, tmp_path / "env")
    before = tree_state(venv)
    result = run_wherry("pip", "install", "--python", venv, "--index-url", served.url,
                        "alpha", "--offline")
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr, result
    assert ("\n" + result.stderr).count("\nerror: ") == 1, result
    assert "is not in the cache and --offline was given" in result.stderr, result
    assert "hint: run the command once without --offline" in result.stderr, result
    assert served.requests == []
    assert tree_state(venv) == before


def test_refresh_package_on_the_command_line(run_wherry: RunWherry, tmp_path: Path,
                                             served: IndexServer) -> None:
    served.cache_headers = True
    warm = _install(run_wherry, make_venv(run_wherry, tmp_path / "one"), served.url, "alpha")
    assert warm.ok, warm
    served.reset_log()
    again = _install(run_wherry, make_venv(run_wherry, tmp_path / "two"), served.url, "alpha",
                     "--refresh-package", "Alpha")
    assert again.ok, again
    assert page_requests(served) == [("/simple/alpha/", "conditional")]


def test_unchanged_bytes_are_not_parsed_again(
        two: IndexServer, client: HttpClient, cache: Cache,
        monkeypatch: pytest.MonkeyPatch, wheelhouse: Wheelhouse) -> None:
    """Without validators the page is refetched, but identical bytes are not reparsed."""
    import wherry.index.sources as sources_module

    two.cache_headers = False
    first = lookup(two, client, cache, "y")
    parsed: list[str] = []
    # JSON pages are split (`split_json_page`), HTML pages parsed (`parse_rows`).
    for parser in ("parse_rows", "split_json_page"):
        real = getattr(sources_module, parser)

        def counting(*args: object, _real: Any = real, **kwargs: object) -> object:
            parsed.append(str(args[-1]))
            return _real(*args, **kwargs)

        monkeypatch.setattr(sources_module, parser, counting)
    assert lookup(two, client, cache, "y") == first
    assert parsed == []
    # A changed page is parsed, and the answer follows it.
    (two.files_dir / "y-3.0-py3-none-any.whl").write_bytes(
        wheelhouse.wheel("y", "3.0").read_bytes())
    changed = lookup(two, client, cache, "y")
    assert "y-3.0-py3-none-any.whl" in changed[0] and len(parsed) == 1
    assert lookup(two, client, cache, "y", offline=True) == changed


# -- remote find-links pages ---------------------------------------------------------------

def _find_links_lookup(server: IndexServer, client: HttpClient, cache: Cache, name: str,
                       **network: bool) -> list[str]:
    sources = IndexSources([], [server.find_links_url], client, cache=cache,
                           network=NetworkSettings(**network))  # type: ignore[arg-type]
    return sorted(f.filename for f in sources.files_for(name))


def _find_links_requests(server: IndexServer) -> list[str]:
    return ["conditional" if "if-none-match" in r.headers else "plain"
            for r in server.requests if r.path == "/files/"]


def test_remote_find_links_pages_are_cached_and_revalidated(
        two: IndexServer, client: HttpClient, cache: Cache) -> None:
    first = _find_links_lookup(two, client, cache, "y")
    assert first == ["y-1.0-py3-none-any.whl", "y-2.0-py3-none-any.whl"]
    assert _find_links_requests(two) == ["plain"]
    two.reset_log()
    # Fresh (max-age=600): answered from the cache without a request.
    assert _find_links_lookup(two, client, cache, "y") == first
    assert _find_links_requests(two) == []
    # --refresh revalidates: a conditional request, answered 304, same files.
    assert _find_links_lookup(two, client, cache, "y", refresh=True) == first
    assert _find_links_requests(two) == ["conditional"]
    # --offline serves the stored page without touching the network.
    two.reset_log()
    age_entry(cache, two.find_links_url, "_find-links", 10 * 86400)
    assert _find_links_lookup(two, client, cache, "x", offline=True) == [
        "x-1.0-py3-none-any.whl"]
    assert two.requests == []


def test_remote_find_links_page_offline_without_cache_fails_clearly(
        two: IndexServer, client: HttpClient, cache: Cache) -> None:
    with pytest.raises(NetworkError) as caught:
        _find_links_lookup(two, client, cache, "x", offline=True)
    assert "/files/" in caught.value.message and "--offline" in caught.value.message
    assert two.requests == []


def test_remote_find_links_page_without_validators_is_refetched(
        wheelhouse: Wheelhouse, make_index: MakeIndex, client: HttpClient,
        cache: Cache) -> None:
    server = make_index([wheelhouse.wheel("x", "1.0")])
    assert _find_links_lookup(server, client, cache, "x") == ["x-1.0-py3-none-any.whl"]
    assert _find_links_lookup(server, client, cache, "x") == ["x-1.0-py3-none-any.whl"]
    assert _find_links_requests(server) == ["plain", "plain"]


# -- HTTP dates (restated from email.utils, which is too slow to import on this path) ------

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@given(st.integers(min_value=0, max_value=253402300000),
       st.sampled_from([0.0, 0.25, 0.5, 0.999, 0.9999999]))
def test_http_dates_are_written_as_email_utils_writes_them(whole: int, part: float) -> None:
    from wherry.http.cache_policy import _http_date

    assert _http_date(whole + part) == formatdate(whole + part, usegmt=True)


_DAY = st.sampled_from(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun", "Foo", "mon"])
_MONTH = st.sampled_from(["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep",
                          "Oct", "Nov", "Dec", "Xyz", "jan"])


@given(_DAY, st.integers(0, 99), _MONTH, st.integers(1, 9999), st.integers(0, 99),
       st.integers(0, 99), st.integers(0, 99),
       st.sampled_from(["GMT", "UTC", "+0200", "-0130", "gmt", "EST", ""]),
       st.sampled_from([" ", "  ", ", "]))
def test_http_dates_are_read_as_email_utils_reads_them(
        day: str, mday: int, month: str, year: int, hour: int, minute: int, second: int,
        zone: str, gap: str) -> None:
    import calendar
    from email.utils import parsedate_tz

    from wherry.http.cache_policy import _parse_date

    text = f"{day},{gap}{mday:02d} {month} {year:04d} {hour:02d}:{minute:02d}:{second:02d} {zone}"
    try:
        parsed = parsedate_tz(text)
        expected = (None if parsed is None
                    else float(calendar.timegm(parsed[:6]) - (parsed[9] or 0)))
    except (ValueError, OverflowError):
        expected = None
    assert _parse_date(text) == expected


def test_http_date_forms() -> None:
    from wherry.http.cache_policy import _parse_date

    assert _parse_date("Sun, 06 Nov 1994 08:49:37 GMT") == 784111777.0
    assert _parse_date("Sunday, 06-Nov-94 08:49:37 GMT") == 784111777.0  # RFC 850
    assert _parse_date("Sun Nov  6 08:49:37 1994") == 784111777.0  # asctime
    assert _parse_date("") is None and _parse_date(None) is None
    assert _parse_date("yesterday") is None
