"""Credentials for HTTP requests: URL userinfo, `.netrc` and the `keyring` command.

This follows uv's `uv-auth` middleware (reference/uv.md section 3):

* A **realm** is scheme + host + port. Credentials given in an index URL
  (`https://user:pass@host/simple`) apply to every URL of that realm once a request with
  them was accepted, so file links without userinfo on the same host get them too.
* Known credentials (from the URL or learned earlier in the run) are sent
  **proactively**. Otherwise the request goes out bare; on 401, 403 or 404 the realm
  cache, then `.netrc` (`NETRC`, else `~/.netrc`), then the keyring are consulted, and the
  request is retried once with what was found. Credentials that got a non-error answer
  are cached for the realm for the rest of the run.
* A URL carrying a username but no password (`https://user@host/simple`, or a lone
  token) has its password looked up before the first request: `.netrc` with a matching
  login, then `keyring get <index-url> <user>`, then `keyring get <host[:port]> <user>`
  (keyring only with `--keyring-provider subprocess`, and only when a username is
  known, as uv does). Without any password the username is sent alone (`token:`).
* Credentials never leave their realm: the client strips them on cross-origin redirects
  and only ever asks this module for the realm of the URL being requested. Nothing here
  logs a password; URLs are logged through `redact`.

Nothing heavy is imported at module level: `netrc` and `subprocess` are imported on first
use, so building an `HttpClient` stays free.
"""

from __future__ import annotations

import base64
import os
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit, urlunsplit

from wherry.errors import UsageError
from wherry.http.urls import redact_url
from wherry.output import log, trace

if TYPE_CHECKING:
    import netrc

#: (scheme, lower-case host, port with the scheme's default filled in)
Realm = tuple[str, str, int | None]

#: Answers after which a request sent without (working) credentials is retried with
#: credentials found in `.netrc` or the keyring (uv: 401, 403 and 404).
RETRY_STATUSES = frozenset({401, 403, 404})

KEYRING_TIMEOUT = 60.0


class Credentials:
    """A username and an optional password; `repr` never shows the password."""

    __slots__ = ("password", "username")

    def __init__(self, username: str, password: str | None = None) -> None:
        self.username = username
        self.password = password

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Credentials) and other.username == self.username
                and other.password == self.password)

    def __hash__(self) -> int:
        return hash((self.username, self.password))

    def __repr__(self) -> str:
        return f"Credentials({self.username!r}, {'****' if self.password else None})"

    @property
    def complete(self) -> bool:
        """True when a password is known (possibly empty on purpose)."""
        return self.password is not None

    def header(self) -> str:
        """The `Authorization` header value (Basic; a missing password is empty)."""
        raw = f"{self.username}:{self.password or ''}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")


def realm_of(url: str) -> Realm:
    """`https://u:p@Host/x` -> `("https", "host", 443)`."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port or {"http": 80, "https": 443}.get(scheme)


def describe_realm(realm: Realm) -> str:
    """`https://host` or `http://host:8080` (the default port left out)."""
    scheme, host, port = realm
    if ":" in host:
        host = f"[{host}]"
    default = {"http": 80, "https": 443}.get(scheme)
    return f"{scheme}://{host}" if port in (None, default) else f"{scheme}://{host}:{port}"


def split_userinfo(url: str) -> tuple[str, Credentials | None]:
    """The URL without userinfo (and fragment), and the credentials it carried."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, sep, password = userinfo.partition(":")
    bare = urlunsplit((parts.scheme, hostport, parts.path, parts.query, ""))
    return bare, Credentials(unquote(user), unquote(password) if sep else None)


class Authenticator:
    """Finds and caches credentials per realm for one run. Thread-safe.

    `keyring_provider` is `"disabled"` or `"subprocess"`; `index_urls` (userinfo allowed)
    seed the realm cache with their credentials and name the service asked of the keyring
    for URLs below them.
    """

    def __init__(self, *, keyring_provider: str = "disabled",
                 index_urls: Iterable[str] = ()) -> None:
        if keyring_provider not in ("disabled", "subprocess"):
            raise UsageError(f"Unknown keyring provider {keyring_provider!r}",
                             hint="use `disabled` or `subprocess`")
        self.keyring_provider = keyring_provider
        self._lock = threading.Lock()
        self._keyring_lock = threading.Lock()
        self._realms: dict[Realm, Credentials] = {}
        self._seeded: dict[Realm, Credentials] = {}
        self._indexes: list[str] = []
        self._netrc: netrc.netrc | None = None
        self._netrc_loaded = False
        self._keyring_answers: dict[tuple[str, str], str | None] = {}
        for index in index_urls:
            if not index.startswith(("http://", "https://")):
                continue
            bare, given = split_userinfo(index)
            self._indexes.append(bare.rstrip("/") + "/")
            if given is not None and given.complete:
                # Tried first for the realm; cached for good once the server accepts them.
                self._seeded.setdefault(realm_of(bare), given)

    # -- the two calls the client makes --------------------------------------------------

    def prepare(self, url: str) -> tuple[str, Credentials | None]:
        """The URL to send (userinfo removed) and the credentials to send with it."""
        bare, given = split_userinfo(url)
        realm = realm_of(bare)
        if given is not None and given.complete:
            return bare, given
        with self._lock:
            known = self._realms.get(realm) or self._seeded.get(realm)
        if given is None:
            return bare, known
        if known is not None and known.username == given.username:
            return bare, known
        # A username (or a lone token) without a password: look the password up first.
        found = self._find(bare, realm, given.username)
        return bare, found or given

    def retry_with(self, url: str, status: int, sent: Credentials | None,
                   ) -> Credentials | None:
        """After `status` for `url` (sent with `sent`), credentials worth one more try.

        401 always looks; 403 and 404 only when the request had no password, since
        then the server may be hiding a private project. None when nothing new is known.
        """
        if status not in RETRY_STATUSES:
            return None
        if status != 401 and sent is not None and sent.password:
            return None
        bare, _ = split_userinfo(url)
        realm = realm_of(bare)
        if status == 401 and sent is not None:
            self.refused(url, sent)
        username = sent.username if sent is not None else None
        with self._lock:
            candidate = self._realms.get(realm) or self._seeded.get(realm)
        if candidate is not None and candidate != sent and (
                username is None or candidate.username == username):
            return candidate
        found = self._find(bare, realm, username)
        if found is None and username is not None and sent is not None and sent.password:
            # The sent pair was refused: any other login for the host is worth a try.
            found = self._find(bare, realm, None)
        if found is None or found == sent:
            return None
        return found

    def accepted(self, url: str, credentials: Credentials) -> None:
        """The server accepted `credentials` for `url`: use them for its realm from now on."""
        realm = realm_of(split_userinfo(url)[0])
        with self._lock:
            if self._realms.get(realm) != credentials:
                self._realms[realm] = credentials
                log.debug("Caching credentials for %s", describe_realm(realm))

    def refused(self, url: str, credentials: Credentials) -> None:
        """The server refused `credentials` (401): stop sending them proactively."""
        realm = realm_of(split_userinfo(url)[0])
        with self._lock:
            if self._realms.get(realm) == credentials:
                del self._realms[realm]
            if self._seeded.get(realm) == credentials:
                del self._seeded[realm]

    # -- sources -------------------------------------------------------------------------

    def _find(self, bare: str, realm: Realm, username: str | None) -> Credentials | None:
        """`.netrc`, then the keyring (only with a username): the first complete answer."""
        found = self._from_netrc(realm, username)
        if found is not None:
            log.debug("Found credentials for %s in netrc", describe_realm(realm))
            return found
        if username is not None and self.keyring_provider == "subprocess":
            password = self._from_keyring(bare, realm, username)
            if password is not None:
                log.debug("Found credentials for %s in the keyring", describe_realm(realm))
                return Credentials(username, password)
        return None

    def _load_netrc(self) -> netrc.netrc | None:
        with self._lock:
            if self._netrc_loaded:
                return self._netrc
        import netrc

        path = os.environ.get("NETRC") or os.path.join(os.path.expanduser("~"), ".netrc")
        parsed: netrc.netrc | None = None
        if os.path.isfile(path):
            try:
                # Given a path, the stdlib skips its permission check (pip and uv do too).
                parsed = netrc.netrc(path)
                trace("Read netrc file %s", path)
            except (netrc.NetrcParseError, OSError, UnicodeDecodeError) as exc:
                log.warning("Ignoring netrc file %s: %s", path, _netrc_error(exc))
        with self._lock:
            self._netrc, self._netrc_loaded = parsed, True
        return parsed

    def _from_netrc(self, realm: Realm, username: str | None) -> Credentials | None:
        parsed = self._load_netrc()
        if parsed is None or not realm[1]:
            return None
        entry = parsed.authenticators(realm[1])
        if not entry:
            return None
        login, _account, password = entry
        if username is not None and login != username:
            return None
        if not login and not password:
            return None
        return Credentials(login or "", password or "")

    def _keyring_services(self, bare: str, realm: Realm) -> list[str]:
        """The service names to ask: the index URL the request is under (else the URL
        itself), then `host` or `host:port` (uv's order)."""
        service = bare
        for index in self._indexes:
            if bare.rstrip("/") + "/" == index or bare.startswith(index):
                service = index.rstrip("/")
                break
        host = realm[1] if ":" not in realm[1] else f"[{realm[1]}]"
        default = {"http": 80, "https": 443}.get(realm[0])
        host = host if realm[2] in (None, default) else f"{host}:{realm[2]}"
        return [service, host]

    def _from_keyring(self, bare: str, realm: Realm, username: str) -> str | None:
        import shutil
        import subprocess

        with self._keyring_lock:  # one `keyring` process at a time; answers are cached
            for service in self._keyring_services(bare, realm):
                key = (service, username)
                if key in self._keyring_answers:
                    answer = self._keyring_answers[key]
                    if answer is not None:
                        return answer
                    continue
                program = shutil.which("keyring")
                if program is None:
                    raise UsageError(
                        "--keyring-provider subprocess needs the `keyring` command, and it "
                        "is not on PATH",
                        hint="install keyring so `keyring` is on PATH (for example with "
                             "pipx), or drop --keyring-provider")
                trace("Running `keyring get %s %s`", redact_url(service), username)
                try:
                    done = subprocess.run(
                        [program, "get", service, username], stdin=subprocess.DEVNULL,
                        capture_output=True, text=True, timeout=KEYRING_TIMEOUT, check=False)
                except (OSError, subprocess.TimeoutExpired) as exc:
                    log.warning("`keyring get` failed for %s: %s", redact_url(service),
                                type(exc).__name__)
                    answer = None
                else:
                    answer = done.stdout.rstrip("\r\n") if done.returncode == 0 else None
                    if answer == "":
                        answer = None
                    trace("`keyring get` for %s: %s", redact_url(service),
                          "found" if answer is not None else f"exit {done.returncode}")
                self._keyring_answers[key] = answer
                if answer is not None:
                    return answer
        return None


def _netrc_error(exc: BaseException) -> str:
    # NetrcParseError's message quotes the offending token, which may be a password.
    import netrc

    if isinstance(exc, netrc.NetrcParseError):
        return f"parse error at line {exc.lineno}"
    return getattr(exc, "strerror", None) or type(exc).__name__
