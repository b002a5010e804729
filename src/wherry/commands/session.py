"""The index session of one command (its HTTP client and index sources), opened before
the resolver is imported, with a head start on the pages the resolution is sure to read.

Why: importing the resolver, the candidate model and the install pipeline costs tens of
milliseconds of CPU, and before this module existed no request left until all of it was
done. The project pages of requested packages that are not installed will be read in
any case, so their requests go out first and travel while the rest is imported and the
environment examined. Only pages are fetched early (never metadata or builds), and a page
fetched early is the same page the resolver would fetch, through the same single-flight
lookup (index/sources.py): the head start changes when requests leave, not what they
answer.

Imports stay light on purpose (the HTTP client imports its wire layer on first request).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from wherry.http.client import HttpClient
from wherry.index.sources import IndexSources

if TYPE_CHECKING:
    from wherry.cache.layout import Cache
    from wherry.requirements.parse import RequirementsSpec
    from wherry.settings import IndexSettings, NetworkSettings


class IndexSession:
    """An `HttpClient` and the `IndexSources` reading through it, for one command."""

    def __init__(self, client: HttpClient, sources: IndexSources) -> None:
        self.client = client
        self.sources = sources

    @classmethod
    def open(cls, settings: IndexSettings, cache: Cache, network: NetworkSettings
             ) -> IndexSession:
        client = HttpClient(
            offline=network.offline, cert=network.cert,
            allow_insecure_hosts=network.allow_insecure_hosts,
            keyring_provider=network.keyring_provider, index_urls=settings.index_urls,
        )
        try:
            sources = IndexSources(
                settings.index_urls, settings.find_links, client, strategy=settings.strategy,
                cache=cache, network=network,
            )
        except BaseException:
            client.close()
            raise
        return cls(client, sources)

    def head_start(self, names: Iterable[str]) -> None:
        """Start reading the pages of `names` in the background."""
        self.sources.prefetch(names)

    def close(self) -> None:
        self.client.close()


def certain_lookups(
    spec: RequirementsSpec,
    markers: Mapping[str, str] | None,
    installed: Iterable[str] = (),
    upgrades: Callable[[str], bool] = lambda name: False,
) -> list[str]:
    """The names whose project pages a resolution of `spec` is sure to read: requested by
    name (not a URL or path), for this target (the marker holds), not excluded, and not
    answerable from the environment (`installed` canonical names, unless `upgrades(name)`
    lets the resolver move it). Evaluating a marker is cheap next to a wasted request.
    With `markers` None (the target is not known yet) requirements with a marker are
    left out."""
    have = set(installed)
    excluded = set(spec.excludes)  # canonical names (requirements/gather.py)
    names: list[str] = []
    for item in spec.requirements:
        requirement = item.requirement
        if requirement.url or item.editable or not item.named:
            continue
        name = item.name
        if name in excluded or name in names or (name in have and not upgrades(name)):
            continue
        if requirement.marker is not None and (
            markers is None or not requirement.marker.evaluate({**markers, "extra": ""})
        ):
            continue
        names.append(name)
    return names
