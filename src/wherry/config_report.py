"""The text of `wherry config`: every option's effective value and its source."""

from __future__ import annotations

import json
from collections.abc import Iterator

from wherry.config import (
    OPTIONS,
    Config,
    Found,
    Option,
    pip_config_files,
    system_config_files,
    user_config_file,
)
from wherry.http.urls import redact_url


def _default_cache_dir() -> str:
    from wherry.cache.layout import default_cache_dir

    return render_value(str(default_cache_dir()))


_DEFAULTS = {
    "index-url": "(pip's built-in default index)",
    "index-strategy": '"first-index" (unsafe-best-match for extra indexes from pip)',
    "link-mode": '"clone" (falling back to hardlink, then copy)',
    "compile-bytecode": "false",
    "prerelease": '"if-necessary-or-explicit"',
    "resolution": '"highest"',
}


def render_value(value: object) -> str:
    """A value in TOML syntax, with credentials in URLs redacted."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(render_value(v) for v in value) + "]"
    return json.dumps(redact_url(str(value)) if "://" in str(value) else str(value))


def effective(config: Config, option: Option) -> Found | None:
    """The command line's value if it gave one, else the layers' (None: unset)."""
    return config.cli.get(option.key) or config.get(option)


def report_lines(config: Config, *, show_files: bool = False) -> Iterator[str]:
    if show_files:
        yield from _file_lines(config)
    section = None
    width = max(len(option.key) for option in OPTIONS) + 3
    for option in OPTIONS:
        if option.section != section:
            if section is not None:
                yield ""
            section = option.section
            yield f"# {section} options"
        found = effective(config, option)
        if option.merged and found is not None:
            # index options also accumulate from all layers; show every one of them
            layers = config.all(option)
            if option.kind == "list" and len(layers) > 1:
                values = [v for f in layers for v in (f.value if isinstance(f.value, list)
                                                       else [f.value])]
                origins = ", ".join(f.origin for f in layers)
                yield f"{option.key} = {render_value(values)}".ljust(width + 30) + \
                    f"  # {origins}"
                continue
        if found is None:
            if option.key == "cache-dir":
                _DEFAULTS[option.key] = _default_cache_dir()
            default = _DEFAULTS.get(option.key) or (
                "(unset)" if option.default is None else render_value(option.default))
            line = f"{option.key} = {default}" if option.default is not None \
                else f"# {option.key} = {default}"  # commented out: not set anywhere
            yield line.ljust(width + 30) + "  # default"
        else:
            yield f"{option.key} = {render_value(found.value)}".ljust(width + 30) + \
                f"  # {found.origin}"


def _file_lines(config: Config) -> Iterator[str]:
    yield "# config files, highest priority first:"
    if config.no_config:
        yield "#   (none: --no-config)"
        return
    used = {str(file.path) for _layer, file in config.wherry_files()}
    if config.config_file:
        yield f"#   {config.config_file} (--config-file)"
    else:
        yield "#   project: " + (", ".join(
            str(f.path) for layer, f in config.wherry_files() if layer == "project")
            or "none found (wherry.toml or [tool.wherry] in pyproject.toml)")
        user = user_config_file(config.environ)
        yield f"#   user: {user}{'' if str(user) in used else ' (not found)'}"
        for system in system_config_files(config.environ):
            yield f"#   system: {system}{'' if str(system) in used else ' (not found)'}"
    for path in reversed(pip_config_files(config.environ)):
        yield f"#   pip: {path}{'' if path.is_file() else ' (not found)'}"
    yield ""
