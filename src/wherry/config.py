"""Configuration layers: one table of options, five sources, and where each value came from.

Precedence, highest first: the command line > `WHERRY_*` environment variables > the
project's `wherry.toml` or `[tool.wherry]` in `pyproject.toml` (the nearest one found
walking up from the current directory) > the user's `$XDG_CONFIG_HOME/wherry/wherry.toml`
> the system's `$XDG_CONFIG_DIRS/wherry/wherry.toml` (default `/etc/xdg`) > `PIP_*`
environment variables > pip's configuration files (global, user, site, `PIP_CONFIG_FILE`;
`[global]`, then the command's section), for the options pip shares with wherry.
`--no-config` (or `WHERRY_NO_CONFIG=1`) ignores every file; `--config-file FILE` (or
`WHERRY_CONFIG_FILE`) reads that one wherry file instead of the project/user/system ones.

Why one table: every row says how an option is spelled in each source (argparse dest,
environment variable, config key, pip key), so adding an option anywhere means adding a
row here, and the CLI applies the merged values as argparse defaults before parsing
(`Config.apply`). The command line therefore wins without any special casing, and
`wherry config` can say where each effective value came from.

Why lazy and hand-written: this runs on every invocation, including the no-op install
whose whole budget is a few tens of milliseconds. Environment lookups are free; a file
costs a `stat` unless it exists. `tomllib` is imported only when a wherry file exists, and
pip's INI files are read by a dozen lines below instead of `configparser` (4 ms to import),
which also gives the line numbers that error messages name.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from wherry.errors import UsageError

TYPE_CHECKING = False  # not `from typing import ...`: importing typing costs ~3 ms

if TYPE_CHECKING:
    import argparse
    from collections.abc import Iterator, Mapping, MutableMapping

_TRUE = ("1", "true", "yes", "on", "y", "t")
_FALSE = ("0", "false", "no", "off", "n", "f", "")


class Option:
    """One configurable option: its type and its name in every source.

    `dest` is the argparse destination (None: not a command-line flag); `env` the
    environment variable; `pip` pip's keys for it (its config key and `PIP_<KEY>`);
    `export` says lower layers read the value from `env` themselves (the HTTP client
    reads WHERRY_HTTP_TIMEOUT), so a value from a file is exported to the environment;
    `merged` options are combined by `settings.resolve_index_settings` (their order
    involves requirements files), not applied as argparse defaults.
    """

    __slots__ = ("choices", "default", "dest", "env", "export", "help", "key", "kind",
                 "merged", "pip", "section")

    def __init__(
        self, key: str, kind: str, help: str, *, dest: str | None = None,
        env: str | None = "", pip: tuple[str, ...] = (), choices: tuple[str, ...] = (),
        default: object = None, export: bool = False, merged: bool = False,
        section: str = "global",
    ) -> None:
        self.key = key
        self.kind = kind  # str, path, bool, int, float, size, choice, list, paths
        self.help = help
        self.dest = dest
        self.env = ("WHERRY_" + key.upper().replace("-", "_")) if env == "" else env
        self.pip = pip
        self.choices = choices
        self.default = default
        self.export = export
        self.merged = merged
        self.section = section


_STRATEGIES = ("first-index", "unsafe-first-match", "unsafe-best-match")
_PRERELEASE = ("disallow", "allow", "if-necessary", "explicit", "if-necessary-or-explicit")

#: Every option wherry reads from the environment or a file, grouped by `section` for
#: `wherry config` and docs/cli.md. Add a row to give a new flag env/config support.
OPTIONS: tuple[Option, ...] = (
    # global
    Option("cache-dir", "path", "the cache directory", dest="cache_dir"),
    Option("no-cache", "bool", "use a temporary cache deleted at exit", dest="no_cache",
           pip=("no-cache-dir",), default=False),
    Option("cache-max-size", "size", "prune the cache (least recently used first) to this "
           "size at the end of each run, e.g. `10G` or `500M`"),
    Option("offline", "bool", "never use the network", dest="offline", default=False),
    Option("cert", "path", "a CA bundle to verify TLS with", dest="cert", pip=("cert",)),
    Option("allow-insecure-host", "list", "hosts whose TLS certificates are not verified",
           dest="allow_insecure_host", env="WHERRY_INSECURE_HOST", pip=("trusted-host",)),
    Option("http-timeout", "float", "seconds to wait for a server", pip=("timeout",
           "default-timeout"), export=True, default=30.0),
    Option("http-retries", "int", "retries of a failed request", pip=("retries",),
           export=True, default=3),
    Option("concurrent-downloads", "int", "parallel downloads", export=True, default=16),
    Option("color", "choice", "colour output: auto, always or never", dest="color",
           choices=("auto", "always", "never"), default="auto"),
    # python
    Option("python", "str", "the interpreter or environment to act on", dest="python",
           section="python"),
    Option("system", "bool", "act on the first Python on PATH", dest="system",
           env="WHERRY_SYSTEM_PYTHON", default=False, section="python"),
    Option("break-system-packages", "bool", "allow modifying EXTERNALLY-MANAGED "
           "environments", dest="break_system_packages", default=False, section="python"),
    # index
    Option("index-url", "str", "the package index", pip=("index-url",), merged=True,
           section="index"),
    Option("extra-index-url", "list", "more indexes, searched before index-url",
           pip=("extra-index-url",), merged=True, section="index"),
    Option("find-links", "list", "directories or pages listing distributions",
           pip=("find-links",), merged=True, section="index"),
    Option("no-index", "bool", "ignore every index", pip=("no-index",), merged=True,
           default=False, section="index"),
    Option("index-strategy", "choice", "how to use several indexes", choices=_STRATEGIES,
           merged=True, section="index"),
    Option("keyring-provider", "choice", "look up credentials with `keyring`",
           dest="keyring_provider", choices=("disabled", "subprocess"), default="disabled",
           section="index"),
    Option("exclude-newer", "str", "ignore files uploaded after this date",
           dest="exclude_newer", section="index"),
    # resolver (flags added with the resolver options)
    Option("prerelease", "choice", "which pre-releases to consider", dest="prerelease",
           choices=_PRERELEASE, pip=("pre",), section="resolver"),
    Option("resolution", "choice", "which versions to prefer", dest="resolution",
           choices=("highest", "lowest", "lowest-direct"), section="resolver"),
    Option("constraint", "paths", "constraints files", dest="constraint",
           pip=("constraint", "constraints"), section="resolver"),
    Option("override", "paths", "override files: their requirements replace every other "
           "on the same package", dest="override_files", section="resolver"),
    Option("no-deps", "bool", "do not install dependencies", dest="no_deps", env=None,
           default=False, section="resolver"),
    Option("upgrade", "bool", "allow upgrading installed packages", dest="upgrade",
           env=None, default=False, section="resolver"),
    # build (flags added with the build options)
    Option("only-binary", "list", "packages to install from wheels only (`:all:`)",
           dest="only_binary", pip=("only-binary",), section="build"),
    Option("no-binary", "list", "packages to build from source (`:all:`)",
           dest="no_binary", pip=("no-binary",), section="build"),
    Option("no-build", "bool", "never build from source", dest="no_build", default=False,
           section="build"),
    Option("no-build-isolation", "bool", "build in the target environment",
           dest="no_build_isolation", default=False, section="build"),
    Option("no-build-isolation-package", "list", "packages to build in the target "
           "environment", dest="no_build_isolation_package", section="build"),
    Option("build-constraint", "paths", "constraints files for build dependencies",
           dest="build_constraint", section="build"),
    # installer
    Option("link-mode", "choice", "how files get from the cache into environments",
           dest="link_mode", choices=("clone", "hardlink", "copy", "symlink"),
           section="installer"),
    Option("compile-bytecode", "bool", "compile installed .py files", dest="compile_bytecode",
           section="installer"),
)

BY_KEY = {option.key: option for option in OPTIONS}


class ConfigFile:
    """One file's values, already checked: `{key: (value, "path:line")}`."""

    def __init__(self, path: Path, values: dict[str, tuple[object, str]]) -> None:
        self.path = path
        self.values = values


def _where(path: Path, line: int | None) -> str:
    return f"{path}:{line}" if line else str(path)


# -- value conversion ---------------------------------------------------------------------


def _size(text: str) -> int:
    """`10G`, `500MB`, `1.5GiB`, `1024` -> bytes (powers of 1024, as `du -h`)."""
    units = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
    raw = text.strip().lower().removesuffix("ib").removesuffix("b")
    number, unit = (raw[:-1], raw[-1]) if raw[-1:] in units and raw[-1:] else (raw, "")
    try:
        value = float(number)
    except ValueError:
        raise ValueError("expected a size such as 500M, 10G or a number of bytes") from None
    if not 0 <= value < float("inf"):  # also rejects nan
        raise ValueError("a size must be a non-negative number")
    return int(value * units[unit])


def from_text(option: Option, text: str) -> object:
    """Convert an environment variable or INI value; ValueError says why it is bad."""
    kind = option.kind
    if kind == "bool":
        lowered = text.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ValueError("expected true or false (1/0, yes/no, on/off)")
    if kind in ("list", "paths"):
        return text.split()
    return _scalar(option, text.strip())


def _scalar(option: Option, value: object) -> object:
    kind = option.kind
    if kind in ("str", "path"):
        if not isinstance(value, str):
            raise ValueError("expected a string")
        return value
    if kind == "choice":
        if value not in option.choices:
            raise ValueError("expected one of " + ", ".join(option.choices))
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise ValueError("expected an integer")
        try:
            number = int(value)
        except ValueError:
            raise ValueError("expected an integer") from None
        if number < 0:
            raise ValueError("expected a non-negative integer")
        return number
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValueError("expected a number")
        try:
            number_f = float(value)
        except ValueError:
            raise ValueError("expected a number") from None
        if not 0 <= number_f < float("inf"):  # also rejects nan
            raise ValueError("expected a non-negative number")
        return number_f
    if kind == "size":
        if isinstance(value, bool):
            raise ValueError("expected a size such as 500M, 10G or a number of bytes")
        if isinstance(value, int):
            if value < 0:
                raise ValueError("a size must not be negative")
            return value
        if isinstance(value, str):
            return _size(value)
        raise ValueError("expected a size such as 500M, 10G or a number of bytes")
    raise AssertionError(kind)


def from_toml(option: Option, value: object) -> object:
    """Check a TOML value against the option's type; ValueError says why it is bad."""
    if option.kind == "bool":
        if not isinstance(value, bool):
            raise ValueError("expected true or false")
        return value
    if option.kind in ("list", "paths"):
        if isinstance(value, str):
            return [value]
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return list(value)
        raise ValueError("expected a string or a list of strings")
    return _scalar(option, value)


def from_pip(option: Option, key: str, text: str) -> object:
    """pip's spelling of a value: `pre = true` is `prerelease = "allow"`; any
    `no-cache-dir` value disables the cache, as in pip."""
    if option.key == "prerelease":  # pip's `pre` is a flag
        return "allow" if from_text(BY_KEY["offline"], text) else None
    if option.key == "no-cache":
        return True
    return from_text(option, text)


# -- reading files ------------------------------------------------------------------------


def _key_lines(text: str, table: str) -> dict[str, int]:
    """Line numbers of the keys of TOML table `table` ("" = the top level), by a scan of
    the text: tomllib reports no positions for valid keys, and a key's line is what a user
    needs to fix a bad value. Sub-tables count as keys of their parent (`[tool.wherry.x]`
    is key `x` of `tool.wherry`)."""
    lines: dict[str, int] = {}
    current = ""
    prefix = table + "." if table else ""
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if line.startswith("["):
            name = line.strip("[]").strip().replace('"', "").replace(" ", "")
            current = name
            if name.startswith(prefix) if prefix else bool(name):
                sub = name[len(prefix):].split(".")[0]
                lines.setdefault(sub, number)
            continue
        if current == table and "=" in line and not line.startswith("#"):
            key = line.split("=", 1)[0].strip().strip("\"'")
            lines.setdefault(key.split(".")[0].strip("\"'"), number)
    return lines


def _load_toml(path: Path, text: str) -> dict[str, object]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        data: dict[str, object] = tomllib.loads(text)
        return data
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path} is not valid TOML: {exc}",
                         hint="fix the file, or pass --no-config to ignore config files") from None


def _anchor(value: object, option: Option, base: Path) -> object:
    """Paths in a wherry file are relative to the file's directory (`~` expands), so a
    project's `constraint = "constraints.txt"` works from any subdirectory."""
    if option.kind == "path" and isinstance(value, str):
        return os.path.join(base, os.path.expanduser(value))
    if option.kind == "paths" and isinstance(value, list):
        return [os.path.join(base, os.path.expanduser(v)) for v in value]
    return value


def read_wherry_file(path: Path, *, pyproject: bool = False,
                     text: str | None = None) -> ConfigFile | None:
    """Read and check a `wherry.toml` (or the `[tool.wherry]` table of a pyproject.toml;
    None when it has none). Unknown keys and bad values are errors naming file and line."""
    if text is None:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read the config file {path}: {exc}") from None
    data = _load_toml(path, text)
    table_name = "tool.wherry" if pyproject else ""
    if pyproject:
        tool = data.get("tool")
        table = tool.get("wherry") if isinstance(tool, dict) else None
        if table is None:
            return None
        if not isinstance(table, dict):
            raise UsageError(f"`tool.wherry` in {path} must be a table")
    else:
        table = data
    lines = _key_lines(text, table_name)
    values: dict[str, tuple[object, str]] = {}
    for key, value in table.items():
        where = _where(path, lines.get(key))
        option = BY_KEY.get(key)
        if option is None:
            import difflib

            close = difflib.get_close_matches(key, list(BY_KEY), n=1)
            raise UsageError(
                f"unknown key `{key}` in the config file {where}",
                hint=(f"did you mean `{close[0]}`? " if close else "")
                + "`wherry config --help` lists the keys",
            )
        try:
            values[key] = (_anchor(from_toml(option, value), option, path.parent), where)
        except ValueError as exc:
            raise UsageError(f"invalid value {value!r} for `{key}` in the config file {where}: "
                             f"{exc}", hint="fix the file, or pass --no-config") from None
    return ConfigFile(path, values)


def _ini_entries(path: Path, text: str) -> Iterator[tuple[str, str, str, int]]:
    """(section, key, value, line) of an INI file as pip's `configparser` reads it: `=` or
    `:` separators, `#`/`;` comment lines, indented continuation lines joined by newlines."""
    section = ""
    key: str | None = None
    parts: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if key is not None and raw[:1] in (" ", "\t") and stripped:
            if not stripped.startswith(("#", ";")):
                parts.append(stripped)
            continue
        if key is not None:
            yield section, key, "\n".join(parts).strip(), start
            key = None
        if not stripped or stripped.startswith(("#", ";")):
            continue
        if stripped.startswith("[") and stripped.endswith("]"):
            section = stripped[1:-1].strip()
            continue
        cut = min((i for i in (stripped.find("="), stripped.find(":")) if i > 0), default=-1)
        if cut < 0:
            raise UsageError(f"cannot read pip's configuration file {path}, line {number}: "
                             f"expected `key = value`, got {stripped!r}")
        key = stripped[:cut].strip().lower().replace("_", "-")
        parts = [stripped[cut + 1:].strip()]
        start = number
    if key is not None:
        yield section, key, "\n".join(parts).strip(), start


_PIP_KEYS = {key: option for option in OPTIONS for key in option.pip}


def read_pip_file(path: Path, command: str) -> ConfigFile:
    """The options wherry shares with pip from one pip config file (`[global]`, then
    `[command]` over it); other keys are pip's business and ignored."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read pip's configuration file {path}: {exc}") from None
    values: dict[str, tuple[object, str]] = {}
    for wanted in ("global", command):
        for section, key, raw, line in _ini_entries(path, text):
            option = _PIP_KEYS.get(key)
            if section != wanted or option is None:
                continue
            where = f"{path}:{line} [{section}]"
            try:
                value = from_pip(option, key, raw)
            except ValueError as exc:
                raise UsageError(f"invalid value {raw!r} for `{key}` in pip's configuration "
                                 f"file {where}: {exc}") from None
            if value is not None:
                values[option.key] = (value, where)
    return ConfigFile(path, values)


def pip_config_files(environ: Mapping[str, str]) -> list[Path]:
    """pip's configuration files, lowest priority first, as pip loads them: global
    (`$XDG_CONFIG_DIRS/pip/pip.conf`, `/etc/pip.conf`), user (`~/.pip/pip.conf`,
    `$XDG_CONFIG_HOME/pip/pip.conf`; skipped when PIP_CONFIG_FILE names an existing
    file), site (`sys.prefix/pip.conf`), then PIP_CONFIG_FILE. None when that is os.devnull.
    """
    env_file = environ.get("PIP_CONFIG_FILE")
    if env_file == os.devnull:
        return []
    files = [Path(d) / "pip" / "pip.conf"
             for d in environ.get("XDG_CONFIG_DIRS", "/etc/xdg").split(os.pathsep) if d]
    files.append(Path("/etc/pip.conf"))
    if not (env_file and os.path.exists(env_file)):
        home = Path(environ.get("HOME") or Path.home())
        config_home = Path(environ.get("XDG_CONFIG_HOME") or home / ".config")
        files += [home / ".pip" / "pip.conf", config_home / "pip" / "pip.conf"]
    files.append(Path(sys.prefix) / "pip.conf")
    if env_file:
        files.append(Path(env_file))
    return files


def user_config_file(environ: Mapping[str, str]) -> Path:
    home = environ.get("XDG_CONFIG_HOME") or os.path.join(
        environ.get("HOME") or str(Path.home()), ".config")
    return Path(home) / "wherry" / "wherry.toml"


def system_config_files(environ: Mapping[str, str]) -> list[Path]:
    dirs = environ.get("XDG_CONFIG_DIRS") or "/etc/xdg"
    return [Path(d) / "wherry" / "wherry.toml" for d in dirs.split(os.pathsep) if d]


def find_project_file(start: Path) -> ConfigFile | None:
    """The nearest `wherry.toml`, or `pyproject.toml` with a `[tool.wherry]` table, in
    `start` or a parent. A pyproject.toml is parsed only if its text mentions the table."""
    for directory in (start, *start.parents):
        candidate = directory / "wherry.toml"
        if candidate.is_file():
            return read_wherry_file(candidate)
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file():
            try:
                text = pyproject.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            compact = text.replace(" ", "").replace('"', "").replace("'", "")
            if "tool.wherry" in compact or ("[tool]" in compact and "wherry" in compact):
                found = read_wherry_file(pyproject, pyproject=True, text=text)
                if found is not None:
                    return found
    return None


# -- the layers ---------------------------------------------------------------------------


class Found:
    """An effective value and where it came from (`WHERRY_OFFLINE`, `/p/wherry.toml:3`)."""

    __slots__ = ("from_pip", "origin", "value")

    def __init__(self, value: object, origin: str, *, from_pip: bool = False) -> None:
        self.value = value
        self.origin = origin
        self.from_pip = from_pip  # pip's configuration, not wherry's

    def __repr__(self) -> str:
        return f"Found({self.value!r}, {self.origin!r})"


class Config:
    """The non-command-line layers for one invocation, each read on first use."""

    def __init__(
        self, *, environ: Mapping[str, str] | None = None, cwd: Path | None = None,
        no_config: bool | None = None, config_file: str | None = None,
        pip_command: str = "install",
    ) -> None:
        self.environ = os.environ if environ is None else environ
        self.cwd = cwd
        env_no_config = self.environ.get("WHERRY_NO_CONFIG", "").strip().lower() in _TRUE
        self.no_config = env_no_config if no_config is None else no_config or env_no_config
        self.config_file = config_file or self.environ.get("WHERRY_CONFIG_FILE") or None
        self.pip_command = pip_command
        self._wherry: list[tuple[str, ConfigFile]] | None = None
        self._pip: list[ConfigFile] | None = None
        self._cache: dict[str, list[Found]] = {}
        self.cli: dict[str, Found] = {}  # filled by `fill` for `wherry config`

    @classmethod
    def from_argv(cls, argv: list[str]) -> Config:
        """A config for a command line, peeking at `--no-config`/`--config-file`."""
        no_config = False
        config_file = None
        words = argv[: argv.index("--")] if "--" in argv else argv
        for i, word in enumerate(words):
            if word == "--no-config":
                no_config = True
            elif word == "--config-file" and i + 1 < len(words):
                config_file = words[i + 1]
            elif word.startswith("--config-file="):
                config_file = word.split("=", 1)[1]
        pip_command = words[1] if words[:1] == ["pip"] and len(words) > 1 else "install"
        return cls(no_config=no_config, config_file=config_file, pip_command=pip_command)

    # files, lazily

    def wherry_files(self) -> list[tuple[str, ConfigFile]]:
        """(layer name, file) of wherry's own files, highest priority first."""
        if self._wherry is None:
            found: list[tuple[str, ConfigFile]] = []
            if self.config_file:
                path = Path(self.config_file)
                if not path.is_file():
                    raise UsageError(f"the config file {path} does not exist",
                                     hint="check --config-file / WHERRY_CONFIG_FILE")
                read = read_wherry_file(path, pyproject=path.name == "pyproject.toml")
                if read is not None:
                    found.append(("config file", read))
            elif not self.no_config:
                project = find_project_file(self.cwd or Path.cwd())
                if project is not None:
                    found.append(("project", project))
                user = user_config_file(self.environ)
                if user.is_file():
                    found.append(("user", read_wherry_file(user)))  # type: ignore[arg-type]
                for system in system_config_files(self.environ):
                    if system.is_file():
                        found.append(("system", read_wherry_file(system)))  # type: ignore[arg-type]
                        break
            self._wherry = found
        return self._wherry

    def input_files(self) -> list[str]:
        """Every file whose appearance, removal or edit can change this configuration
        (existing or not): what the command replay (cli/replay.py) checks by stat."""
        if self.config_file:
            paths = [Path(self.config_file)]
        elif self.no_config:
            paths = []
        else:
            start = self.cwd or Path.cwd()
            paths = [directory / name for directory in (start, *start.parents)
                     for name in ("wherry.toml", "pyproject.toml")]
            paths += [user_config_file(self.environ), *system_config_files(self.environ)]
        if not self.no_config:
            paths += pip_config_files(self.environ)
        return [os.path.abspath(path) for path in paths]

    def pip_files(self) -> list[ConfigFile]:
        """pip's files, highest priority first (empty under --no-config)."""
        if self._pip is None:
            files = [] if self.no_config else pip_config_files(self.environ)
            self._pip = [read_pip_file(p, self.pip_command) for p in reversed(files)
                         if p.is_file()]
        return self._pip

    # lookups

    def all(self, option: Option) -> list[Found]:
        """Every layer's value for `option`, highest priority first (the command line
        excluded): for options whose values accumulate (extra indexes, find-links)."""
        cached = self._cache.get(option.key)
        if cached is not None:
            return cached
        found: list[Found] = []
        if option.env is not None:
            raw = self.environ.get(option.env)
            if raw is not None and raw.strip():  # set but empty counts as unset
                found.append(Found(self._convert(option, raw, option.env), option.env))
        for _layer, file in self.wherry_files():
            if option.key in file.values:
                value, where = file.values[option.key]
                found.append(Found(value, where))
        for key in option.pip:
            name = "PIP_" + key.upper().replace("-", "_")
            raw = self.environ.get(name)
            if raw is not None:
                try:
                    value = from_pip(option, key, raw)
                except ValueError as exc:
                    raise UsageError(f"{name}={raw!r} is not valid: {exc}") from None
                if value is not None:
                    found.append(Found(value, name, from_pip=True))
                break
        for file in self.pip_files():
            if option.key in file.values:
                value, where = file.values[option.key]
                found.append(Found(value, where, from_pip=True))
        self._cache[option.key] = found
        return found

    @staticmethod
    def _convert(option: Option, raw: str, name: str) -> object:
        try:
            return from_text(option, raw)
        except ValueError as exc:
            raise UsageError(f"{name}={raw!r} is not valid: {exc}",
                             hint=f"unset {name} or give it a valid value") from None

    def get(self, option: Option | str) -> Found | None:
        """The effective value of `option` below the command line, or None if unset."""
        if isinstance(option, str):
            option = BY_KEY[option]
        found = self.all(option)
        return found[0] if found else None

    def value(self, key: str, default: object = None) -> object:
        found = self.get(key)
        return default if found is None else found.value

    def fingerprint(self) -> str:
        """Every effective value, as text: part of the no-op verdict's key, so a config
        change that could change an answer invalidates the verdict."""
        parts = []
        for option in OPTIONS:
            found = self.all(option)
            if found:
                parts.append(f"{option.key}={[f.value for f in found]!r}")
        return ";".join(parts)

    # the command line

    def apply(self, parser: argparse.ArgumentParser) -> None:
        """Make the effective values the defaults of `parser` and its sub-parsers.

        Options registered with `default=argparse.SUPPRESS` (the global ones, accepted
        before and after the command name) are left alone here: a sub-parser's default
        would overwrite a value given before the command name. `fill` sets them after
        parsing instead.
        """
        import argparse

        by_dest = {o.dest: o for o in OPTIONS if o.dest and not o.merged}
        for action in _actions(parser):
            option = by_dest.get(action.dest)
            if option is None or action.default is argparse.SUPPRESS:
                continue
            found = self.get(option)
            if found is None:
                continue
            value = found.value
            if isinstance(value, list) and callable(action.type):
                value = [action.type(v) for v in value]
            elif isinstance(value, list):
                value = list(value)
            action.default = value

    def fill(self, args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
        """Set the suppressed (global) options the command line did not give."""
        import argparse

        dests = {a.dest for a in _actions(parser) if a.default is argparse.SUPPRESS}
        for option in OPTIONS:
            if option.dest is None or option.merged or option.dest not in dests:
                continue
            if hasattr(args, option.dest):
                self.cli[option.key] = Found(getattr(args, option.dest), "command line")
                continue
            found = self.get(option)
            if found is not None:
                setattr(args, option.dest, found.value)

    def export(self, environ: MutableMapping[str, str] | None = None) -> None:
        """Put file-configured values of `export` options into the environment, where the
        layers that read them (the HTTP client) look."""
        target = os.environ if environ is None else environ
        for option in OPTIONS:
            if not option.export or option.env is None or target.get(option.env):
                continue
            found = self.get(option)
            if found is not None:
                target[option.env] = str(found.value)


def _actions(parser: argparse.ArgumentParser) -> Iterator[argparse.Action]:
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                yield from _actions(sub)
        else:
            yield action


_active: Config | None = None


def activate(config: Config | None) -> None:
    """Make `config` the one `current()` returns for the rest of this run (None: none,
    so `current()` reads the environment and files afresh)."""
    global _active
    _active = config


def current() -> Config:
    """The run's config (set by the CLI); a fresh one for library use and tests, so a
    changed environment or file is always seen."""
    return _active if _active is not None else Config()
