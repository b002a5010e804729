"""RFC 9111 private-cache decisions for one cached GET, driven by hishel 2.0's sans-IO core.

hishel's public state classes (`IdleClient` → `FromCache` / `NeedRevalidation` /
`CacheMiss` → `StoreAndUse` / `CouldNotBeStored` / `NeedToBeUpdated` / `InvalidateEntries`)
decide freshness, `no-cache`, `no-store`, `Vary`, conditional requests and 304 handling. We
run their loop ourselves (its own loop lives in a private module and wants a body-storing
storage), send the requests with wherry's `HttpClient`, and store only a small
`CachePolicy` beside whatever *processed* payload the caller keeps (a parsed simple page,
not its body), as uv does (reference/uv.md section 3).

What hishel cannot express is written here by hand, each in `CachePolicy.entry`:

* **Heuristic freshness.** hishel gives a response with only `Last-Modified` 10 % of its
  age (up to a week); uv uses a fixed 10 minutes (the 10 % rule caused uv#5351), and we
  follow uv. hishel has no option for this, so the view of the stored response handed to
  it carries an explicit `max-age=600` when the response has neither `max-age` nor
  `Expires` but has `Last-Modified`. A response with no freshness information and no
  validators gets nothing, so hishel finds it stale and it is fetched again every time.
* **Age.** hishel's age is `now - Date`: it ignores the `Age` header, the request delay and
  a server clock ahead of ours, and a response without `Date` would stay fresh forever.
  RFC 9111 section 4.2.3 says age is `corrected_initial_age + resident_time`; we compute
  that from the stored request/response times and hand hishel a `Date` (and an `Expires`
  moved by the same amount, so `Expires - Date` is unchanged) that makes its arithmetic
  give exactly that age. A response without a usable `Date` is given the time it arrived
  (RFC 9110 section 6.6.1 allows this).
* **Offline.** `--offline` is handled by the caller without hishel: uv's `AllowStale`
  serves any stored entry, even one marked `must-revalidate`, because the user asked for
  no network at all (hishel's `allow_stale` would refuse those).

Only what the decisions need is stored: the status, the response headers (minus
hop-by-hop ones, which hishel strips), the request headers named by `Vary`, and when the
request was sent and the response arrived. hishel is imported on first use (about 7 ms
on top of what resolving imports anyway), never on the no-op path, and not at all while
every response seen is "inert" (no caching headers: see `cached_get`).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import msgspec

from wherry.http.urls import redact_url
from wherry.output import trace

if TYPE_CHECKING:
    import hishel

    from wherry.http.client import HttpClient, Response

#: uv's fixed heuristic lifetime for a response with only `Last-Modified` (seconds).
HEURISTIC_LIFETIME = 600
#: `Cache-Control` sent on the request for `--refresh` / `--refresh-package`.
REFRESH = "no-cache"
#: Response headers `CachePolicy.entry` rewrites for hishel; never stored as rewritten.
_ADJUSTED = ("date", "expires", "cache-control", "age")


class CachePolicy(msgspec.Struct, omit_defaults=True):
    """What a stored response said about its own reuse; a self-describing msgpack map.

    `response_headers` has lower-cased names; `request_headers` holds the request values
    of the headers the response's `Vary` names. Times are seconds since the epoch.
    Unknown keys are ignored on decode, so later wherry versions may add fields.
    """

    url: str
    status: int
    response_headers: dict[str, str]
    request_headers: dict[str, str] = {}
    request_time: float = 0.0
    response_time: float = 0.0

    @classmethod
    def from_response(cls, url: str, status: int, response_headers: Mapping[str, str],
                      request_headers: Mapping[str, str], request_time: float,
                      response_time: float) -> CachePolicy:
        headers = {key.lower(): value for key, value in response_headers.items()}
        if _parse_date(headers.get("date")) is None:
            headers["date"] = _http_date(response_time)
        sent = {key.lower(): value for key, value in request_headers.items()}
        varied = {}
        for name in headers.get("vary", "").split(","):
            name = name.strip().lower()
            if name and name != "*" and name in sent:
                varied[name] = sent[name]
        return cls(url, status, headers, varied, request_time, response_time)

    def age(self, now: float) -> float:
        """RFC 9111 section 4.2.3: corrected initial age plus resident time."""
        date = _parse_date(self.response_headers.get("date"))
        if date is None:
            date = self.response_time
        apparent_age = max(0.0, self.response_time - date)
        age_value = _parse_seconds(self.response_headers.get("age")) or 0
        response_delay = max(0.0, self.response_time - self.request_time)
        corrected_initial_age = max(apparent_age, age_value + response_delay)
        return corrected_initial_age + max(0.0, now - self.response_time)

    def has_validators(self) -> bool:
        return "etag" in self.response_headers or "last-modified" in self.response_headers

    def entry(self, now: float) -> hishel.Entry:
        """The stored response as hishel sees it (see the module docstring for why it is
        adjusted): `Date`/`Expires` shifted so hishel's `time.time() - Date` is our age at
        `now`, and uv's 10-minute heuristic made explicit.
        """
        import uuid

        import hishel

        headers = dict(self.response_headers)
        date = _parse_date(headers.get("date"))
        shown_date = time.time() - self.age(now)
        if date is not None and "expires" in headers:
            expires = _parse_date(headers["expires"])
            if expires is not None:
                headers["expires"] = _http_date(shown_date + (expires - date))
        headers["date"] = _http_date(shown_date)
        control = headers.get("cache-control", "")
        if ("max-age" not in control and "expires" not in headers
                and "last-modified" in headers):
            control = f"{control}, max-age={HEURISTIC_LIFETIME}" if control else (
                f"max-age={HEURISTIC_LIFETIME}")
            headers["cache-control"] = control
        request = hishel.Request("GET", self.url, hishel.Headers(self.request_headers))
        response = hishel.Response(self.status, hishel.Headers(headers))
        return hishel.Entry(uuid.UUID(int=0), request, response)


class CachedGet(msgspec.Struct):
    """The outcome of `cached_get`.

    * `fresh`: the stored entry answers without any request; the caller uses its payload.
    * `not_modified`: the server answered 304; the caller uses its stored payload and
      stores `policy` (freshened) beside it.
    * otherwise `response` is new: the caller processes it and stores the result with
      `policy`, or, when `policy` is None (`no-store`, not storable), removes any stored
      entry.
    * `plain`: `response` answers the request exactly as given (no condition, no
      `no-cache`), sent because the stored entry (if any) was inert, and it is inert
      too: so the entry left behind can answer no later request either, and the same
      request will be sent next time (the command replay's install relies on this:
      cli/replay_install.py).
    """

    response: Response | None
    policy: CachePolicy | None
    fresh: bool = False
    not_modified: bool = False
    revalidated: bool = False
    plain: bool = False


#: Response headers that can make a stored response fresh, revalidatable or special
#: (RFC 9111 sections 4.2, 4.3, 4.1 and 5). A response with none of them is "inert".
_CACHING_HEADERS = frozenset(
    ("cache-control", "expires", "etag", "last-modified", "pragma", "vary", "age"))
#: Connection-specific headers a cache never stores (RFC 9110 section 7.6.1; hishel's list).
_HOP_BY_HOP = frozenset(("connection", "keep-alive", "te", "transfer-encoding", "upgrade",
                         "proxy-connection", "proxy-authenticate",
                         "proxy-authentication-info", "proxy-authorization"))
#: Statuses an inert response is stored with: heuristically cacheable (RFC 9110 section
#: 15.1) and the only ones page callers accept.
_INERT_STORABLE = (200, 404)


def _inert(headers: Mapping[str, str]) -> bool:
    return not any(name.lower() in _CACHING_HEADERS for name in headers)


class _Sent(msgspec.Struct):
    """One request sent for `cached_get`, with the response headers it got."""

    response: Response
    answer: dict[str, str]
    request_time: float
    response_time: float


def cached_get(client: HttpClient, url: str, *, headers: Mapping[str, str],
               stored: CachePolicy | None, refresh: bool = False,
               allow_status: Collection[int] = (200,),
               clock: Callable[[], float] = time.time) -> CachedGet:
    """GET `url` through the RFC 9111 rules, given the policy of the stored entry (if any).

    `refresh` adds `Cache-Control: no-cache` to the request, so a stored entry is always
    revalidated (a conditional request when it has validators), never deleted.

    The common case on an index that sends no caching headers takes a short path: when
    the stored entry (if any) is inert it can be neither fresh nor revalidated, so the
    request hishel would make is the request as given, and it is sent at once; when the
    answer is inert too, the outcome is hishel's (stored as a heuristically cacheable
    response, never fresh later) without importing hishel (~10 ms of CPU at start-up,
    on the path of every first request). Anything else goes through hishel's states,
    with the response already received when there is one.
    """
    sent_headers = dict(headers)
    if refresh:
        sent_headers["Cache-Control"] = REFRESH
    bare = strip_userinfo(url)  # the key, and what is stored: never credentials
    usable = stored if stored is not None and stored.url == bare else None
    first = None
    if not refresh and (usable is None or _inert(usable.response_headers)):
        first = _send(client, url, sent_headers, allow_status, clock)
        if first.response.status in _INERT_STORABLE and _inert(first.answer):
            trace("%s %s: HTTP %d", "Revalidated" if usable is not None else "Fetched",
                  redact_url(url), first.response.status)
            kept = {k: v for k, v in first.answer.items() if k.lower() not in _HOP_BY_HOP}
            policy = CachePolicy.from_response(bare, first.response.status, kept,
                                               sent_headers, first.request_time,
                                               first.response_time)
            return CachedGet(first.response, policy, revalidated=usable is not None,
                             plain=True)
    return _hishel_get(client, url, bare, sent_headers, usable, allow_status, clock, first)


def _lowered(headers: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def _send(client: HttpClient, url: str, headers: Mapping[str, str],
          allow_status: Collection[int], clock: Callable[[], float]) -> _Sent:
    request_time = clock()
    response = client.get(url, headers=headers, allow_status=allow_status, digest=True)
    response_time = clock()
    answer = dict(response.headers)
    if _parse_date(answer.get("date")) is None:
        answer["date"] = _http_date(response_time)
    return _Sent(response, answer, request_time, response_time)


def _hishel_get(client: HttpClient, url: str, bare: str, sent_headers: dict[str, str],
                stored: CachePolicy | None, allow_status: Collection[int],
                clock: Callable[[], float], first: _Sent | None) -> CachedGet:
    """`cached_get` through hishel's state machine. `first` is the answer to a request
    already sent as given (the entry could not answer it): it is fed to the state that
    would have sent that same request instead of sending it again."""
    import hishel

    options = hishel.CacheOptions(shared=False, supported_methods=["GET"], allow_stale=False)
    request = hishel.Request("GET", bare, hishel.Headers(sent_headers))
    entries = [stored.entry(clock())] if stored is not None else []
    state: hishel.AnyState = hishel.IdleClient(options=options).next(request, entries)
    response: Response | None = None
    answer: dict[str, str] = {}
    request_time = response_time = 0.0
    revalidated = False
    while True:
        if isinstance(state, hishel.FromCache):
            if response is None:
                trace("Found fresh response for %s", redact_url(url))
                return CachedGet(None, stored, fresh=True)
            # Reached through NeedToBeUpdated: a 304 freshened the stored entry. hishel
            # merged the 304's headers into our adjusted view; the fields we adjusted go
            # back to what the servers really sent (the 304's value, else the stored one;
            # `Date` and `Age` describe the 304 alone, since the times are the 304's now).
            assert stored is not None
            merged = dict(state.entry.response.headers)
            for name in _ADJUSTED:
                value = answer.get(name)
                if value is None and name not in ("date", "age"):
                    value = stored.response_headers.get(name)
                if value is None:
                    merged.pop(name, None)
                else:
                    merged[name] = value
            policy = CachePolicy.from_response(
                bare, stored.status, merged, sent_headers, request_time, response_time)
            return CachedGet(None, policy, not_modified=True, revalidated=True)
        if isinstance(state, (hishel.CacheMiss, hishel.NeedRevalidation)):
            revalidated = isinstance(state, hishel.NeedRevalidation)
            send = dict(state.request.headers)
            if first is not None and _lowered(send) == _lowered(sent_headers):
                sent, first = first, None
            else:
                conditional = any(k.lower() in ("if-none-match", "if-modified-since")
                                  for k in send)
                allowed = (*allow_status, 304) if conditional else tuple(allow_status)
                sent = _send(client, url, send, allowed, clock)
            response, answer = sent.response, sent.answer
            request_time, response_time = sent.request_time, sent.response_time
            trace("%s %s: HTTP %d", "Revalidated" if revalidated else "Fetched",
                  redact_url(url), response.status)
            state = state.next(hishel.Response(response.status, hishel.Headers(answer)))
        elif isinstance(state, (hishel.NeedToBeUpdated, hishel.InvalidateEntries)):
            # What to store or delete is decided when the loop ends: one entry per key.
            state = state.next()
        elif isinstance(state, hishel.StoreAndUse):
            assert response is not None
            policy = CachePolicy.from_response(
                bare, response.status, dict(state.response.headers), sent_headers,
                request_time, response_time)
            return CachedGet(response, policy, revalidated=revalidated)
        elif isinstance(state, hishel.CouldNotBeStored):
            assert response is not None
            return CachedGet(response, None, revalidated=revalidated)
        else:  # pragma: no cover - hishel grew a state
            raise AssertionError(f"unexpected cache state {type(state).__name__}")


def strip_userinfo(url: str) -> str:
    """`https://user:pw@host/x` → `https://host/x`."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
           "Dec")
# RFC 9110's preferred form, which servers send: `Sun, 06 Nov 1994 08:49:37 GMT`.
_IMF_FIXDATE = re.compile(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d\d) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov"
    r"|Dec) (\d{4}) (\d\d):(\d\d):(\d\d) GMT")


def _http_date(seconds: float) -> str:
    """`Sun, 06 Nov 1994 08:49:37 GMT`, as `email.utils.formatdate(usegmt=True)` writes it
    (restated: `email.utils` costs 5-10 ms to import, and the first response of a run
    waited for it, with every other request thread queued on the import lock)."""
    t = time.gmtime(math.floor(round(seconds, 6)))  # datetime's microsecond rounding
    return (f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year:04d} "
            f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT")


def _parse_date(value: str | None) -> float | None:
    """An HTTP date as seconds since the epoch, None when it is not one. The usual form
    is read here, as `email.utils.parsedate_tz` reads it; the obsolete forms (RFC 850,
    asctime, numeric zones) go to `email.utils` itself."""
    if not value:
        return None
    match = _IMF_FIXDATE.fullmatch(value.strip())
    if match is not None and not match.group(3).startswith("00"):  # 00xx: read as 20xx
        day, month, year, hour, minute, second = match.groups()
        days = _days_before(int(year), _MONTHS.index(month) + 1) + int(day) - 1
        return float(((days * 24 + int(hour)) * 60 + int(minute)) * 60 + int(second))
    import calendar
    from email.utils import parsedate_tz

    try:
        parsed = parsedate_tz(value)
        if parsed is None:
            return None
        return float(calendar.timegm(parsed[:6]) - (parsed[9] or 0))
    except (ValueError, OverflowError):
        return None


def _days_before(year: int, month: int) -> int:
    """Days from 1970-01-01 to the first of `month` in `year` (proleptic Gregorian), as
    `calendar.timegm` counts them."""
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _parse_seconds(value: str | None) -> int | None:
    if value is None:
        return None
    value = value.strip()
    return int(value) if value.isdigit() else None
