"""Merged options: the command line, requirements files, environment and config files.

For this slice, the index settings (DESIGN.md section 7). The index URL comes from, in
order: `--index-url` > an `--index-url` inside a requirements file (as pip does) >
`WHERRY_INDEX_URL` > wherry's config (`wherry.toml`, `[tool.wherry]` in pyproject.toml)
> `PIP_INDEX_URL` > pip's config files > pip's own built-in default, read at run time
from the pip installed beside wherry, so no registry address is written here. Extra
indexes and find-links accumulate from all of those places.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

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


def _pip_config_files() -> list[Path]:
    """pip's configuration files, lowest priority first; none when PIP_CONFIG_FILE=os.devnull."""
    env_file = os.environ.get("PIP_CONFIG_FILE")
    if env_file == os.devnull:
        return []
    files: list[Path] = []
    xdg_dirs = os.environ.get("XDG_CONFIG_DIRS", "/etc/xdg").split(os.pathsep)
    files += [Path(d) / "pip" / "pip.conf" for d in xdg_dirs if d]
    files.append(Path("/etc/pip.conf"))
    config_home = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    files += [Path.home() / ".pip" / "pip.conf", config_home / "pip" / "pip.conf"]
    files.append(Path(sys.prefix) / "pip.conf")
    if env_file:
        files.append(Path(env_file))
    return files


def read_pip_config(command: str = "install") -> dict[str, tuple[str, str]]:
    """pip's settings from its files as `{key: (value, where)}`, `[command]` over `[global]`."""
    import configparser

    values: dict[str, tuple[str, str]] = {}
    for path in _pip_config_files():
        if not path.is_file():
            continue
        parser = configparser.RawConfigParser()
        try:
            parser.read(path, encoding="utf-8")
        except (configparser.Error, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read pip's configuration file {path}: {exc}") from None
        for section in ("global", command):
            if parser.has_section(section):
                for key, value in parser.items(section):
                    values[key.replace("_", "-")] = (value, f"{path} [{section}]")
    return values


def _wherry_config() -> dict[str, object]:
    """`wherry.toml` or `[tool.wherry]` from the current directory (config files: issue 8)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib

    for name in ("wherry.toml", "pyproject.toml"):
        path = Path.cwd() / name
        if not path.is_file():
            continue
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise UsageError(f"cannot read {path}: {exc}") from None
        table = data if name == "wherry.toml" else data.get("tool", {}).get("wherry")
        if isinstance(table, dict):
            return {**table, "__source__": str(path)}
    return {}


def _as_optional_str(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise UsageError(f"expected a string in wherry's config, got {value!r}")


def _as_list(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise UsageError(f"expected a string or a list of strings in wherry's config, got {value!r}")


def _split(value: str | None) -> list[str]:
    return value.split() if value else []


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
    pip_config = read_pip_config()
    wherry_config = _wherry_config() if Path.cwd().joinpath("wherry.toml").is_file() or (
        Path.cwd().joinpath("pyproject.toml").is_file()) else {}
    candidates: list[tuple[str | None, str]] = [
        (cli_index_url, "--index-url"),
        (file_index_url, "a requirements file"),
        (os.environ.get("WHERRY_INDEX_URL"), "WHERRY_INDEX_URL"),
        (_as_optional_str(wherry_config.get("index-url")), str(wherry_config.get("__source__"))),
        (os.environ.get("PIP_INDEX_URL"), "PIP_INDEX_URL"),
        (pip_config.get("index-url", (None, ""))[0], pip_config.get("index-url", ("", ""))[1]),
    ]
    index_url, source = next(((u, s) for u, s in candidates if u), (None, "pip's default"))
    extras = [*cli_extra_index_urls, *file_extra_index_urls]
    extras += _split(os.environ.get("WHERRY_EXTRA_INDEX_URL"))
    extras += _as_list(wherry_config.get("extra-index-url"))
    own_extras = len(extras)
    extras += _split(os.environ.get("PIP_EXTRA_INDEX_URL"))
    extras += _split(pip_config.get("extra-index-url", (None, ""))[0])
    strategy = cli_index_strategy or os.environ.get("WHERRY_INDEX_STRATEGY") or (
        "unsafe-best-match" if len(extras) > own_extras else "first-index"
    )
    find_links = [*cli_find_links, *file_find_links]
    find_links += _split(os.environ.get("WHERRY_FIND_LINKS"))
    find_links += _as_list(wherry_config.get("find-links"))
    find_links += _split(os.environ.get("PIP_FIND_LINKS"))
    find_links += _split(pip_config.get("find-links", (None, ""))[0])
    no_index = cli_no_index or file_no_index or _truthy(os.environ.get("PIP_NO_INDEX")) or (
        _truthy(pip_config.get("no-index", ("", ""))[0]))
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


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")
