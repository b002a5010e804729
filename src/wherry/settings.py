"""Merged options: the command line, requirements files, environment and config files.

Most options reach commands as argparse defaults (`wherry.config`). The index settings
are merged here because a requirements file takes part (DESIGN.md section 7). The index
URL comes from, in order: `--index-url` > an `--index-url` inside a requirements file (as
pip does) > `WHERRY_INDEX_URL` > wherry's config files (project `wherry.toml` or
`[tool.wherry]`, then the user's and the system's) > `PIP_INDEX_URL` > pip's config files
> pip's own built-in default, read at run time from the pip installed beside wherry, so
no registry address is written here. Extra indexes and find-links accumulate from all of
those places.
"""

from __future__ import annotations

from collections.abc import Sequence

from wherry.errors import UsageError
from wherry.http.urls import redact_url
from wherry.output import log


class NetworkSettings:
    """How wherry may use the network and its HTTP cache, from the command line.

    `refresh` revalidates every cached response (a conditional request, so a 304 keeps
    the stored body); `refresh_packages` does that only for the named projects (canonical
    names). `offline` never touches the network: stale entries are used, and anything
    missing is a clear error. `exclude_newer` (an RFC 3339 timestamp or a date) hides
    files uploaded after it. `allow_insecure_hosts` skips TLS verification for those
    hosts (pip's `--trusted-host`); `cert` is a CA bundle; `keyring_provider` is
    `disabled` or `subprocess` (the `keyring` command).
    """

    def __init__(
        self,
        *,
        offline: bool = False,
        refresh: bool = False,
        refresh_packages: frozenset[str] = frozenset(),
        cert: str | None = None,
        allow_insecure_hosts: tuple[str, ...] = (),
        keyring_provider: str = "disabled",
        exclude_newer: str | None = None,
    ) -> None:
        # A plain class, not a dataclass: this module is imported on the no-op path.
        self.offline = offline
        self.refresh = refresh
        self.refresh_packages = refresh_packages
        self.cert = cert
        self.allow_insecure_hosts = allow_insecure_hosts
        self.keyring_provider = keyring_provider
        self.exclude_newer = exclude_newer

    def refreshes(self, name: str | None) -> bool:
        """Whether cached responses about project `name` (None: not a project) are stale."""
        return self.refresh or (name is not None and name in self.refresh_packages)


class IndexSettings:
    """Where packages come from. `index_urls` is in priority order (extras first, as uv)."""

    def __init__(
        self,
        index_url: str | None,
        extra_index_urls: list[str] | None = None,
        find_links: list[str] | None = None,
        no_index: bool = False,
        index_url_source: str = "default",
        strategy: str = "first-index",
    ) -> None:
        self.index_url = index_url
        self.extra_index_urls = list(extra_index_urls or [])
        self.find_links = list(find_links or [])
        self.no_index = no_index
        self.index_url_source = index_url_source
        self.strategy = strategy

    @property
    def index_urls(self) -> list[str]:
        if self.no_index:
            return []
        urls = [*self.extra_index_urls]
        if self.index_url:
            urls.append(self.index_url)
        unique: dict[str, str] = {}
        for url in urls:
            unique.setdefault(url.rstrip("/"), url)
        return list(unique.values())


def pip_default_index_url() -> str:
    """pip's built-in default index, asked of pip (a wherry dependency) at run time."""
    try:
        from pip._internal.models.index import PyPI
    except ImportError:
        raise UsageError(
            "no package index is configured and pip's default could not be read",
            hint="pass `--index-url`, or set WHERRY_INDEX_URL",
        ) from None
    return str(PyPI.simple_url)


def _as_list(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise UsageError(f"expected a string or a list of strings, got {value!r}")


def resolve_index_settings(
    *,
    cli_index_url: str | None,
    cli_extra_index_urls: Sequence[str],
    cli_find_links: Sequence[str],
    cli_no_index: bool,
    cli_index_strategy: str | None = None,
    file_index_url: str | None = None,
    file_extra_index_urls: Sequence[str] = (),
    file_find_links: Sequence[str] = (),
    file_no_index: bool = False,
) -> IndexSettings:
    """Merge every source of index settings in DESIGN.md's order."""
    from wherry.config import BY_KEY, current

    config = current()
    layered = {key: config.all(BY_KEY[key]) for key in (
        "index-url", "extra-index-url", "find-links", "no-index", "index-strategy")}
    candidates: list[tuple[str | None, str]] = [
        (cli_index_url, "--index-url"),
        (file_index_url, "a requirements file"),
        *((str(found.value), found.origin) for found in layered["index-url"]),
    ]
    index_url, source = next(((u, s) for u, s in candidates if u), (None, "pip's default"))
    extras = [*cli_extra_index_urls, *file_extra_index_urls]
    own_extras = len(extras)
    for found in layered["extra-index-url"]:
        extras += _as_list(found.value)
        own_extras += 0 if found.from_pip else len(_as_list(found.value))
    strategies = [str(found.value) for found in layered["index-strategy"]]
    strategy = cli_index_strategy or (strategies[0] if strategies else None) or (
        "unsafe-best-match" if len(extras) > own_extras else "first-index"
    )
    find_links = [*cli_find_links, *file_find_links]
    for found in layered["find-links"]:
        find_links += _as_list(found.value)
    no_index = cli_no_index or file_no_index or bool(
        layered["no-index"] and layered["no-index"][0].value)
    if index_url is None and not no_index:
        index_url = pip_default_index_url()
    settings = IndexSettings(
        index_url=None if no_index else index_url,
        extra_index_urls=[] if no_index else extras,
        find_links=find_links,
        no_index=no_index,
        index_url_source=source,
        strategy=strategy,
    )
    log.debug("Index URL %s (from %s), strategy %s", redact_url(settings.index_url or ""),
              source, strategy)
    for url in settings.extra_index_urls:
        log.debug("Extra index URL %s", redact_url(url))
    for location in settings.find_links:
        log.debug("Find links %s", redact_url(location))
    return settings
