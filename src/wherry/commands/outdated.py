"""`wherry pip list --outdated`: the newest version of each installed package on the index."""

from __future__ import annotations

import argparse

from packaging.utils import InvalidSdistFilename, parse_sdist_filename
from packaging.version import InvalidVersion, Version

from wherry.cache.layout import Cache
from wherry.errors import WherryError
from wherry.http.client import HttpClient
from wherry.index.sources import IndexSources
from wherry.install.site import InstalledDist, canonicalize_name
from wherry.output import log
from wherry.platform.tags import compatible_tags
from wherry.python.info import InterpreterInfo
from wherry.resolve.candidates import (
    _hidden_files,
    build_versions,
    parse_exclude_newer,
    python_allows,
)
from wherry.settings import IndexSettings, NetworkSettings


class Latest:
    """The newest installable version of a project on the index, and its file type."""

    __slots__ = ("filetype", "version")

    def __init__(self, version: str, filetype: str) -> None:
        self.version = version
        self.filetype = filetype


def find_latest(
    env: InterpreterInfo,
    dists: list[InstalledDist],
    settings: IndexSettings,
    network: NetworkSettings,
    cache: Cache,
) -> dict[str, Latest]:
    """For each distribution, the newest version the index offers that `env` can install.

    A version counts when it has a wheel with a compatible tag, or an sdist, whose
    Requires-Python admits the environment, that is not yanked (nor hidden by
    `--exclude-newer`). Pre-releases count only when the installed version is one.
    On equal versions a wheel is preferred. Projects the index does not know are left out.
    """
    cutoff = None if network.exclude_newer is None else parse_exclude_newer(network.exclude_newer)
    tags = compatible_tags(env)
    python_version = Version(env.full_version)
    client = HttpClient(
        offline=network.offline, cert=network.cert,
        allow_insecure_hosts=network.allow_insecure_hosts,
        keyring_provider=network.keyring_provider, index_urls=settings.index_urls,
    )

    def latest_of(dist: InstalledDist) -> Latest | None:
        name = dist.canonical_name
        try:
            installed_pre = Version(dist.version).is_prerelease
        except InvalidVersion:
            installed_pre = False
        try:
            files = sources.files_for(name)
        except WherryError as exc:
            log.warning("Could not look up %s: %s", name, exc.message)
            return None
        best: tuple[Version, int] | None = None  # (version, 1 for a wheel, 0 for an sdist)
        project = build_versions(name, files, tags, python_version, exclude_newer=cutoff)
        for version, candidate in project.candidates.items():
            if installed_pre or not version.is_prerelease:
                kind = 0 if candidate.needs_build else 1  # sdists are candidates too
                best = max(best, (version, kind)) if best else (version, kind)
        hidden = _hidden_files(files, cutoff) if cutoff is not None else {}
        for file in files:
            if file.is_wheel or file.is_yanked or id(file) in hidden:
                continue
            try:
                sdist_name, version = parse_sdist_filename(file.filename)
            except (InvalidSdistFilename, InvalidVersion):
                continue
            if canonicalize_name(str(sdist_name)) != name:
                continue
            if version.is_prerelease and not installed_pre:
                continue
            if not python_allows(file.requires_python, python_version):
                continue
            best = max(best, (version, 0)) if best else (version, 0)
        if best is None:
            log.debug("No installable version of %s found", name)
            return None
        return Latest(str(best[0]), "wheel" if best[1] else "sdist")

    try:
        sources = IndexSources(
            settings.index_urls, settings.find_links, client, strategy=settings.strategy,
            cache=cache, network=network,
        )
        results = client.map(latest_of, dists)
    finally:
        client.close()
    return {
        dist.canonical_name: latest
        for dist, latest in zip(dists, results, strict=True)
        if latest is not None
    }


def is_newer(latest: str, installed: str) -> bool:
    try:
        return Version(latest) > Version(installed)
    except InvalidVersion:
        return latest != installed


def outdated_lines(
    args: argparse.Namespace, cache: Cache, env: InterpreterInfo, dists: list[InstalledDist],
    fmt: str,
) -> list[str]:
    """The output of `list --outdated` (`fmt` is `columns` or `json`); editables skipped."""
    from wherry.cli.options import network_settings
    from wherry.commands.inspect import table_lines
    from wherry.settings import resolve_index_settings

    settings = resolve_index_settings(
        cli_index_url=args.index_url,
        cli_extra_index_urls=args.extra_index_url,
        cli_find_links=args.find_links,
        cli_no_index=args.no_index,
        cli_index_strategy=args.index_strategy,
    )
    candidates = [d for d in dists if not d.editable]
    latest = find_latest(env, candidates, settings, network_settings(args), cache)
    rows = [(d, latest[d.canonical_name]) for d in candidates
            if d.canonical_name in latest
            and is_newer(latest[d.canonical_name].version, d.version)]
    if fmt == "json":
        import json

        return [json.dumps([
            {"name": d.canonical_name, "version": d.version,
             "latest_version": new.version, "latest_filetype": new.filetype}
            for d, new in rows
        ])]
    table: list[tuple[str, ...]] = [("Package", "Version", "Latest", "Type")]
    table += [(d.canonical_name, d.version, new.version, new.filetype) for d, new in rows]
    return table_lines(table)
