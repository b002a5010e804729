"""Direct-URL dependencies in metadata (`Requires-Dist: x @ URL`): which ones may be used.

A package's own metadata may name a dependency by URL. uv allows such a transitive URL
dependency only when the request itself names that package by the same URL (as a
requirement, a constraint or an override), or when it is a URL dependency of a requested
direct reference (followed ahead of resolution, recursively: commands/direct.py). The
resolver then has exactly one candidate for the name, that reference, made before
resolution. Any other URL dependency (one a package from an index brings in) is an
error, never silently resolved by name from the index, which would install something
other than what the metadata asked for. A URL thus enters the resolution only where the
user wrote it or through what the user pointed at, never depending on which parent the
solver happened to reach first.

URLs are compared as uv compares them (its `CanonicalUrl` and parsed-URL equality):
credentials, a default port, a trailing slash, percent-encoding and the case of the
scheme and host do not count, nor does the fragment (`#sha256=...`, `#egg=...`) except
its `subdirectory`; a `file:` URL is its real path; a git URL is its repository (with or
without `.git`) and the revision after `@`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from urllib.parse import unquote, urlsplit

import msgspec
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from wherry.errors import ResolutionError

#: A URL reduced to what decides which artefact it names (see `url_key`).
UrlKey = tuple[str, str, str, str, str, str]

_DEFAULT_PORTS = {"http": "80", "https": "443"}
#: URL dependencies must be expressed up front (uv's rule), said once for every message.
_RULE = "URL dependencies must be expressed as direct requirements or constraints"


def redacted(url: str) -> str:
    """`url` with any password hidden (messages quote URLs from package metadata)."""
    from wherry.http.urls import redact_url

    return redact_url(url)


def _fragment_value(fragment: str, key: str) -> str:
    for part in fragment.split("&"):
        name, sep, value = part.partition("=")
        if sep and name == key:
            return unquote(value).strip("/")
    return ""


def url_key(url: str) -> UrlKey:
    """The parts of `url` that decide what it points at: (scheme, host[:port], path,
    query, git revision, subdirectory). Two URLs with the same key are the same
    reference, as far as uv is concerned."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    subdirectory = _fragment_value(parts.fragment, "subdirectory")
    path = unquote(parts.path)
    if scheme == "file":
        local = os.path.normpath(path) if path else path
        real = os.path.realpath(local) if local else local
        return (scheme, "", real, "", "", subdirectory)
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    base_scheme = scheme.partition("+")[2] or scheme
    if port is not None and str(port) != _DEFAULT_PORTS.get(base_scheme):
        host = f"{host}:{port}"
    revision = ""
    if "+" in scheme:  # a VCS URL: `git+https://host/repo.git@rev`
        if "@" in path:
            path, _, revision = path.rpartition("@")
        path = path.rstrip("/")
        if path.lower().endswith(".git"):
            path = path[:-4]
    return (scheme, host, path.rstrip("/") or "/", parts.query, revision, subdirectory)


class RootUrls(msgspec.Struct, frozen=True):
    """The URLs a dependency may name, per canonical project name: those of the request
    (requirements, constraints and overrides whose markers hold) and of the direct
    references' own URL dependencies, as written and as keys."""

    keys: Mapping[str, frozenset[UrlKey]] = msgspec.field(default_factory=dict)
    written: Mapping[str, tuple[str, ...]] = msgspec.field(default_factory=dict)

    @classmethod
    def of(cls, references: Iterable[tuple[str, str]]) -> RootUrls:
        """From (project name, URL) pairs: the request's direct references and those
        prepared ahead as dependencies of direct references (commands/direct.py)."""
        keys: dict[str, set[UrlKey]] = {}
        written: dict[str, list[str]] = {}
        for project, url in references:
            if not url:
                continue
            name = str(canonicalize_name(project))
            keys.setdefault(name, set()).add(url_key(url))
            if url not in written.setdefault(name, []):
                written[name].append(url)
        return cls({n: frozenset(k) for n, k in keys.items()},
                   {n: tuple(w) for n, w in written.items()})

    def allows(self, name: str, url: str) -> bool:
        return url_key(url) in self.keys.get(name, frozenset())


def check_url_dependency(roots: RootUrls, parent: str, version: Version, name: str,
                         requirement: Requirement) -> None:
    """Raise unless `parent version`'s URL dependency `requirement` (on canonical `name`)
    is one the request names by the same URL; a dependency without a URL always passes."""
    url = requirement.url
    if not url or roots.allows(name, url):
        return
    shown = redacted(url)
    extras = f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
    dependency = f"{requirement.name}{extras} @ {shown}"
    others = roots.written.get(name, ())
    if others:
        listed = ", ".join(redacted(other) for other in others)
        raise ResolutionError(
            f"{parent} {version} depends on `{dependency}`, but {name} is required from "
            f"another URL ({listed}): a package comes from one place only",
            hint=f"point both at the same URL, or replace {parent}'s requirement with an "
            f"override (`--override`) naming `{name} @ <url>`")
    raise ResolutionError(
        f"{parent} {version} depends on `{dependency}`, a URL dependency the request "
        f"does not name: {_RULE} (wherry will not take {name} from an index instead)",
        hint=f"consider adding `{dependency}` to your dependencies or constraints file")
