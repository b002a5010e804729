"""Answer a repeated read-only command from what it printed last time, before argparse.

`wherry pip list`, `pip freeze` and a no-op `pip install` do almost nothing, yet the
normal path spends ~15 ms before doing it: argparse with `re` and `gettext`, building the
command's parser, the configuration layers, `pathlib`, and the command's modules. That
is most of these commands' time and twice uv's whole run. So when one of them succeeds,
its answer is recorded with everything it depended on, and an identical later invocation
whose dependencies all still hold gets the same answer from here, importing nothing but
`os`, `sys`, `marshal` and `zlib`.

What an answer depends on, and how each is checked (any difference: the normal path runs,
and records afresh; so no recorded answer can differ from the one the normal path gives):

- the invocation itself, in the key: the arguments, the working directory, *every*
  environment variable (but `OLDPWD` and `_`, which the shell changes on its own), the
  kernel (`uname`), whether stdout and stderr are terminals, and wherry's version;
- wherry's own code: the stat of every `wherry` module the recorded run imported;
- the configuration: the stat of every file that could configure this invocation,
  present or not (`config.Config.input_files`);
- the interpreter: how it was found (only an explicit path, or the active / nearby
  environment: `.venv` in each directory up from the working directory is stat-checked),
  and its validators (python/validators.py: executable, `pyvenv.cfg`, hooks, `.pth`...);
- the command's own inputs: for `list`/`freeze` the site directories and every listed
  distribution's directory, metadata and `direct_url.json`; for `install`, the files and
  variables its no-op verdict (commands/noop.py) depends on.

A `pip install` that changed the environment has a second kind of entry beside the
first (`<key>.install.marshal`): when its resolution was a stored one
(commands/stored_resolution.py), what installing it again takes, which a later run of
the same invocation does before argparse once its own checks hold
(commands/recorded_install.py: the installed set, the pages read again).

Not replayed: `-v` and `WHERRY_LOG` (their output is the point), `--help`, `--outdated`
(asks the index), `--system` and version requests like `--python 3.12` (found on
`PATH`), `--no-cache`, and anything reading stdin. Entries live in the cache
(`replay-v1/`) only when the cache is the one this module can find without parsing
anything (`--cache-dir`, `WHERRY_CACHE_DIR`, the default); `wherry cache clean` drops them.
"""

from __future__ import annotations

import marshal
import os
import sys
import zlib

TYPE_CHECKING = False  # not `from typing import ...`: importing typing costs ~3 ms

if TYPE_CHECKING:
    from typing import Any

BUCKET = "replay-v1"
_FORMAT = 2  # 2: key material by repr
_COMMANDS = ("list", "freeze", "install")
_UNSTABLE_VARIABLES = ("OLDPWD", "_")
_NEVER = frozenset(("-h", "--help", "-v", "--verbose", "--outdated", "--system", "--no-cache",
                    "-", "--refresh", "--reinstall", "--force-reinstall", "-U", "--upgrade"))


def _python_value(word: str, following: str | None) -> tuple[bool, str | None]:
    """(is a `--python` option, its value) for one argument."""
    if word in ("-p", "--python"):
        return True, following
    if word.startswith("--python="):
        return True, word.split("=", 1)[1]
    if word.startswith("-p") and not word.startswith("--"):
        return True, word[2:]
    return False, None


def command_of(argv: list[str]) -> str | None:
    """The replayable command `argv` runs (`list`, `freeze`, `install`), else None."""
    if len(argv) < 2 or argv[0] != "pip" or argv[1] not in _COMMANDS:
        return None
    if os.environ.get("WHERRY_LOG"):
        return None
    rest = argv[2:]
    for at, word in enumerate(rest):
        if word in _NEVER or (word.startswith("-v") and word.strip("v") == "-"):
            return None
        if word.startswith(("--upgrade-package", "--reinstall-package", "-P")):
            return None
        is_python, value = _python_value(word, rest[at + 1] if at + 1 < len(rest) else None)
        if is_python and (not value or os.sep not in value):
            return None  # a version or a name: found on PATH, which is not checked here
        if word.startswith("/dev/"):
            return None
    return argv[1]


def cache_root(argv: list[str]) -> str | None:
    """The cache this invocation uses, if it can be known without parsing anything else
    (the configuration files may name another: the recorder checks, see `Recorder`)."""
    root = None
    for at, word in enumerate(argv):
        if word == "--cache-dir" and at + 1 < len(argv):
            root = argv[at + 1]
        elif word.startswith("--cache-dir="):
            root = word.split("=", 1)[1]
    if root is None:
        root = os.environ.get("WHERRY_CACHE_DIR") or os.path.join(
            os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
            "wherry")
    return os.path.abspath(root) if root else None


def _key(argv: list[str]) -> tuple[str, bytes]:
    """(file name, key material): the material is compared on read, so two invocations
    whose checksums collide never get each other's answer.

    The material is the `repr` of the key's parts, not their `marshal` form: marshal's
    bytes for equal values differ with the objects' reference counts (shared objects
    are written as back-references), so the same invocation could get another key."""
    from wherry import __version__
    from wherry.output import is_terminal

    environ = sorted((k, v) for k, v in os.environ.items() if k not in _UNSTABLE_VARIABLES)
    material = repr((_FORMAT, __version__, list(argv), os.getcwd(), environ,
                     tuple(os.uname()), is_terminal(sys.stdout),
                     is_terminal(sys.stderr))).encode("utf-8", "surrogateescape")
    return f"{zlib.crc32(material):08x}{zlib.adler32(material):08x}.marshal", material


def venv_search_paths(start: str) -> list[str]:
    """`.venv` in `start` and each parent: where discovery looks when nothing is named."""
    paths = []
    directory = os.path.abspath(start)
    while True:
        paths.append(os.path.join(directory, ".venv"))
        parent = os.path.dirname(directory)
        if parent == directory:
            return paths
        directory = parent


def _load(path: str | os.PathLike[str]) -> dict[str, Any]:
    with open(path, "rb") as handle:
        entry = marshal.loads(zlib.decompress(handle.read()))
    if not isinstance(entry, dict):
        raise ValueError("not a recorded answer")
    return entry


def _dump(entry: dict[str, Any]) -> bytes:
    """Compressed: most of an entry is paths sharing long prefixes (~5x smaller)."""
    return zlib.compress(marshal.dumps(entry), 1)


def _unchanged(entry: dict[str, Any]) -> bool:
    """Whether every file an entry depends on, and its interpreter, are as recorded."""
    from wherry.python.validators import stat_tuple, still_valid

    return (all(stat_tuple(file) == expected for file, expected in entry["stats"])
            and still_valid(entry["interpreter"])[0])


def holds(path: str | os.PathLike[str]) -> bool:
    """Whether the recorded answer at `path` could still be replayed (its files and its
    interpreter unchanged), whatever invocation it was recorded for: `cache prune`
    drops the others."""
    try:
        return _unchanged(_load(path))
    except (OSError, EOFError, ValueError, TypeError, KeyError, IndexError, zlib.error):
        return False


def try_replay(argv: list[str]) -> int | None:
    """Write the recorded answer of `argv` and return its exit code, if one holds: a
    `list`/`freeze` output or a no-op install's, else an install's stored resolution
    (commands/recorded_install.py)."""
    import time

    started = time.perf_counter()
    command = command_of(argv)
    root = cache_root(argv) if command else None
    if command is None or root is None:
        return None
    try:
        name, material = _key(argv)
    except OSError:
        return None
    try:
        entry = _load(os.path.join(root, BUCKET, name))
        if entry["key"] != material or not _unchanged(entry):
            raise ValueError("changed")
        count = entry["count"]
        if any(os.environ.get(variable) != value
               for variable, value in entry["variables"].items()):
            raise ValueError("changed")
    except (OSError, EOFError, ValueError, TypeError, KeyError, IndexError, zlib.error):
        if command == "install":
            return _replay_install(root, name, material, started)
        return None
    if entry["stdout"]:
        sys.stdout.write(entry["stdout"])
    if count is not None and not entry["quiet"]:
        from wherry.output import Printer, timed

        Printer(color=entry["color"]).summary(timed("Audited", count, started))
    return 0


def install_entry_name(name: str) -> str:
    """The file of an invocation's recorded install, beside its recorded answer `name`."""
    return name.replace(".marshal", ".install.marshal")


def _replay_install(root: str, name: str, material: bytes, started: float) -> int | None:
    """Install the stored resolution recorded for this invocation, if it still holds."""
    try:
        entry = _load(os.path.join(root, BUCKET, install_entry_name(name)))
        if entry["key"] != material or not _unchanged(entry):
            return None
        if any(os.path.isdir(path) != found for path, found in entry["venvs"]):
            return None
        from wherry.commands import recorded_install

        recorded = entry["install"]
        if not recorded_install.holds(recorded):
            return None
    except (OSError, EOFError, ValueError, TypeError, KeyError, IndexError, zlib.error):
        return None
    if not recorded_install.install(recorded, root, quiet=entry["quiet"], color=entry["color"],
                                    started=started):
        return None
    return 0


class Recorder:
    """Collects one run's answer and dependencies; `commit` stores them if the run
    succeeded quietly (no warning) and is of a replayable kind."""

    def __init__(self, argv: list[str]) -> None:
        self.argv = list(argv)
        self.command = command_of(self.argv)
        # The key is taken now: the run itself may export settings into the environment.
        try:
            self.key = _key(self.argv)
            self.cwd = os.getcwd()
        except OSError:  # no working directory: nothing to key an answer on
            self.key, self.cwd, self.tainted = ("", b""), "", True
        self.stdout: list[str] = []
        self.tainted = self.command is None
        self.files: list[str] = []
        self.interpreter: dict[str, Any] | None = None
        self.count: int | None = None
        self.variables: dict[str, str | None] = {}
        self.quiet = False
        self.color = False
        self.install: dict[str, Any] | None = None
        self.install_interpreter: dict[str, Any] | None = None
        self.install_files: list[str] = []

    def result(self, line: str) -> None:
        self.stdout.append(line + "\n")

    def taint(self) -> None:
        """Something was said that a replay would not say again (a warning): no entry."""
        self.tainted = True

    def depend_on(self, paths: list[str]) -> None:
        self.files.extend(paths)

    def environment(self, executable: str, info: dict[str, Any]) -> None:
        """The interpreter the command acted on (its probe's facts, for its validators)."""
        from wherry.python.validators import validators_of

        self.interpreter = validators_of(executable, info)

    def audited(self, count: int, files: list[str], variables: dict[str, str | None]) -> None:
        """An install found nothing to do: its no-op verdict (commands/noop.py) held or was
        just recorded, over these files and variables."""
        self.count = count
        self.depend_on(files)
        self.variables = dict(variables)

    def installed(self, recorded: dict[str, Any], files: list[str]) -> None:
        """An install was a stored resolution's: what installing it again takes
        (commands/recorded_install.py, whose `interpreter` holds the interpreter's
        validators before the install), and the files, beyond every entry's, whose stat
        it depends on."""
        self.install = dict(recorded)
        self.install_interpreter = self.install.pop("interpreter")
        self.install_files = list(files)

    def commit(self, cache_root_used: str, config_files: list[str]) -> None:
        """Store the entry, if this run may be replayed and its cache is the one
        `try_replay` will look in."""
        if self.tainted or self.command is None:
            return
        if cache_root(self.argv) != os.path.abspath(cache_root_used):
            return
        if self.install is not None:
            self._commit_install(cache_root_used, config_files)
        if self.interpreter is None:
            return
        if self.command == "install" and self.count is None:
            return  # it changed the environment, or could not tell: nothing to replay
        name, material = self.key
        # wherry's own code that produced the answer: an upgrade, or an edit of an
        # editable checkout, must not replay what older code printed.
        code = [getattr(module, "__file__", None) for name_, module in list(sys.modules.items())
                if name_ == "wherry" or name_.startswith("wherry.")]
        files = [*config_files, *venv_search_paths(self.cwd), *self.files,
                 *(path for path in code if path)]
        from wherry.python.validators import stat_tuple

        entry = {
            "key": material,
            "stats": [(path, stat_tuple(path)) for path in dict.fromkeys(files)],
            "interpreter": self.interpreter,
            "count": self.count,
            "variables": self.variables,
            "stdout": "".join(self.stdout),
            "quiet": self.quiet,
            "color": self.color,
        }
        import contextlib
        from pathlib import Path

        from wherry.cache.entry import write_atomic

        with contextlib.suppress(OSError):  # an answer not recorded: a slower next run
            write_atomic(Path(cache_root_used) / BUCKET / name, _dump(entry))

    def _commit_install(self, cache_root_used: str, config_files: list[str]) -> None:
        """Store the recorded install. It depends on every module of wherry, not only
        those this run imported: the replay imports some of its own. The `.venv`
        directories discovery looks at count by whether each is there (which one is
        found), not by stat: a `.venv` made again is the same target when its
        interpreter's validators hold, and an install into a fresh environment is what
        this entry is for."""
        import contextlib
        from pathlib import Path

        from wherry.cache.entry import write_atomic
        from wherry.python.validators import stat_tuple

        name, material = self.key
        from wherry.commands.fingerprints import package_files

        files = [*config_files, *self.install_files, *package_files()]
        entry = {
            "key": material,
            "stats": [(path, stat_tuple(path)) for path in dict.fromkeys(files)],
            "venvs": [(path, os.path.isdir(path)) for path in venv_search_paths(self.cwd)],
            "interpreter": self.install_interpreter,
            "install": self.install,
            "quiet": self.quiet,
            "color": self.color,
        }
        with contextlib.suppress(OSError):  # not recorded: a slower next run
            write_atomic(Path(cache_root_used) / BUCKET / install_entry_name(name),
                         _dump(entry))
