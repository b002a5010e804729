"""Creating PEP 405 virtual environments for any interpreter, without running it.

Why hand-written: the stdlib `venv` module builds environments only for the interpreter
running it, so using it means a subprocess of the target (30-100 ms), and `virtualenv` costs
over 300 ms. A venv is a `pyvenv.cfg`, three symlinks, an empty site-packages and activation
scripts. All of them follow from the cached `InterpreterInfo` plus the target's *own*
`venv/scripts` templates (read as files, never imported), so creating one here is about a
millisecond of file writes (reference/stack.md section 7).

Deciding is separate from doing: `plan_venv` turns facts (interpreter info, templates,
options) into a `VenvLayout` (plain data: directories, links, files) and `write_venv` puts a
layout on disk. The reads (templates, the base executable, the state of the target
directory) are small functions at the edges.
"""

from __future__ import annotations

import contextlib
import enum
import errno
import os
import shlex
import shutil
import stat
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

from wherry import __version__
from wherry.errors import EnvironmentError_, InterpreterNotFound
from wherry.python.info import InterpreterInfo

_IMPLEMENTATION_NAMES = {"cpython": "CPython", "pypy": "PyPy", "graalpy": "GraalPy"}
# The standard tag that tells backup and indexing tools to skip a directory (uv writes it).
CACHEDIR_TAG = "Signature: 8a477f597d28d172789f06886806bc55"
# The placeholders of the stdlib templates, in the order `EnvBuilder.replace_variables`
# substitutes them (sequential replacement is part of its behaviour).
PLACEHOLDERS = (
    "__VENV_DIR__",
    "__VENV_NAME__",
    "__VENV_PROMPT__",
    "__VENV_BIN_NAME__",
    "__VENV_PYTHON__",
)


def implementation_name(info: InterpreterInfo) -> str:
    """`CPython`, `PyPy`, ...: the spelling uv writes to `pyvenv.cfg` and prints."""
    name = info.implementation
    return _IMPLEMENTATION_NAMES.get(name, info.markers.get("platform_python_implementation", name))


# --- reading the facts ---------------------------------------------------------------------


def is_within(path: str, directory: str) -> bool:
    """Whether absolute `path` is `directory` or inside it."""
    return os.path.commonpath([path, directory]) == directory


def base_interpreter(info: InterpreterInfo) -> Path:
    """The real executable of the installation behind `info` (never a venv's, never a shim).

    `sys._base_executable` is only reliable from 3.11 on: in a 3.8-3.10 venv it names the
    venv's own `python`. So candidates are resolved with `realpath` (a symlinked venv python
    resolves to its base), and any that stays inside the venv is skipped in favour of the
    executables in `base_prefix/bin`.
    """
    major, minor = info.version[:2]
    venv_prefix = os.path.realpath(info.prefix) if info.is_venv else None
    base_bin = os.path.join(info.base_prefix, "Scripts" if info.os == "win32" else "bin")
    candidates = [
        info.executable if venv_prefix is None else "",
        str(info.raw.get("base_executable") or ""),
        info.executable if venv_prefix is not None else "",
        os.path.join(base_bin, f"python{major}.{minor}"),
        os.path.join(base_bin, f"python{major}"),
        os.path.join(base_bin, "python"),
    ]
    for candidate in candidates:
        if not candidate:
            continue
        real = os.path.realpath(candidate)
        if venv_prefix is not None and is_within(real, venv_prefix):
            continue
        if os.path.isfile(real) and os.access(real, os.X_OK):
            return Path(real)
    raise InterpreterNotFound(
        f"cannot find the base interpreter of the environment at {info.prefix} "
        f"(looked for Python {major}.{minor} in {base_bin})",
        hint="pass `--python` with the path of the base interpreter itself",
    )


class Template(NamedTuple):
    """One activation script template, as bytes (the stdlib writes undecodable ones as-is)."""

    name: str
    data: bytes
    mode: int


class TemplateSet(NamedTuple):
    """The target's activation templates and how its `replace_variables` treats them.

    `quoted`: the gh-124651 fix (3.9.21, 3.10.16, 3.11.11, 3.12.8, 3.13.1 and later) shell-
    quotes every substituted value, and its templates expect that; older ones do not.
    """

    templates: tuple[Template, ...]
    quoted: bool


def load_templates(stdlib: str | os.PathLike[str], os_name: str = "posix") -> TemplateSet:
    """Read `<stdlib>/venv/scripts/{common,<os_name>}`; an empty set if there are none."""
    scripts = Path(stdlib) / "venv" / "scripts"
    found: dict[str, Template] = {}
    # The OS-specific folder comes second so it wins a name clash, as the stdlib's walk does.
    for folder in ("common", os_name):
        try:
            entries = sorted(os.scandir(scripts / folder), key=lambda entry: entry.name)
        except OSError:
            continue
        for entry in entries:
            if not entry.is_file():
                continue
            with open(entry.path, "rb") as handle:
                data = handle.read()
            found[entry.name] = Template(entry.name, data, stat.S_IMODE(entry.stat().st_mode))
    templates = tuple(found.values())
    try:
        source: str | None = (Path(stdlib) / "venv" / "__init__.py").read_text("utf-8")
    except (OSError, UnicodeDecodeError):
        source = None
    return TemplateSet(templates, quotes_values(source, templates))


def quotes_values(venv_source: str | None, templates: Sequence[Template]) -> bool:
    """Whether this `venv` version shell-quotes substituted values (see `TemplateSet`).

    The source of `venv/__init__.py` answers directly. Without it (a sourceless stdlib) the
    templates do: before the fix, the sh template wraps the directory in double quotes.
    """
    if venv_source is not None:
        return "shlex.quote" in venv_source
    for template in templates:
        if template.name == "activate":
            return b'"__VENV_DIR__"' not in template.data
    return False


# --- deciding: pure functions of data ------------------------------------------------------


def _quote_ps1(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def replace_variables(
    text: str, script_name: str, values: Mapping[str, str], *, quoted: bool
) -> str:
    """Substitute the placeholders the way that version's `EnvBuilder.replace_variables` does."""
    quote: Callable[[str], str] = str
    if quoted:
        if script_name.endswith(".ps1"):
            quote = _quote_ps1
        elif not script_name.endswith(".bat"):
            quote = shlex.quote
    for placeholder in PLACEHOLDERS:
        if placeholder in values:
            text = text.replace(placeholder, quote(values[placeholder]))
    return text


def template_values(
    root: Path, bin_dir: str, python_name: str, prompt: str | None, version: tuple[int, ...]
) -> dict[str, str]:
    """The values of the placeholders for a venv at `root` (an absolute path).

    Before 3.13 the stdlib passes the prompt as `(name) ` and the templates print it as is;
    from 3.13 it passes the bare name and the templates add the parentheses.
    """
    name = root.name
    shown = prompt if prompt is not None else name
    if tuple(version[:2]) < (3, 13):
        shown = f"({shown}) "
    return {
        "__VENV_DIR__": str(root),
        "__VENV_NAME__": name,
        "__VENV_PROMPT__": shown,
        "__VENV_BIN_NAME__": bin_dir,
        "__VENV_PYTHON__": str(root / bin_dir / python_name),
    }


def pyvenv_cfg(
    *,
    home: str,
    implementation: str,
    version: str,
    system_site_packages: bool,
    prompt: str | None = None,
    seed: bool = False,
) -> str:
    """The `pyvenv.cfg` text, in uv's key order (`home` is what CPython itself reads)."""
    lines = [
        ("home", home),
        ("implementation", implementation),
        ("wherry", __version__),
        ("version_info", version),
        ("include-system-site-packages", "true" if system_site_packages else "false"),
    ]
    if seed:
        lines.append(("seed", "true"))
    if prompt is not None:
        lines.append(("prompt", prompt))
    return "".join(f"{key} = {value}\n" for key, value in lines)


class VenvOptions(NamedTuple):
    """What the user chose; `prompt` is final (`.` already turned into a directory name)."""

    prompt: str | None = None
    system_site_packages: bool = False
    seed: bool = False


class VenvLink(NamedTuple):
    path: str  # relative to the venv root, `/`-separated
    target: str  # what the symlink holds: absolute, or relative to its own directory


class VenvFile(NamedTuple):
    path: str  # relative to the venv root, `/`-separated
    data: bytes
    mode: int = 0o644


class VenvLayout(NamedTuple):
    """Everything a venv consists of: created in the order directories, links, files."""

    root: Path
    base_executable: Path
    bin_dir: str
    site_packages: tuple[str, ...]
    directories: tuple[str, ...]
    links: tuple[VenvLink, ...]
    files: tuple[VenvFile, ...]

    @property
    def python(self) -> Path:
        return self.root / self.bin_dir / "python"


def interpreter_links(
    bin_dir: str, base_executable: Path, version: tuple[int, ...], implementation: str
) -> list[VenvLink]:
    """`python` -> the base executable; `python3`, `python3.X` (and PyPy's names) -> `python`."""
    major, minor = version[:2]
    names = [f"python{major}", f"python{major}.{minor}"]
    if implementation == "pypy":
        names += ["pypy", f"pypy{major}", f"pypy{major}.{minor}"]
    links = [VenvLink(f"{bin_dir}/python", str(base_executable))]
    links += [VenvLink(f"{bin_dir}/{name}", "python") for name in names]
    return links


def plan_venv(
    info: InterpreterInfo,
    root: Path,
    base_executable: Path,
    templates: TemplateSet,
    options: VenvOptions,
) -> VenvLayout:
    """The layout of a venv at `root` (absolute) for the interpreter described by `info`."""
    if info.os == "win32":
        raise EnvironmentError_(
            "wherry cannot create virtual environments for Windows interpreters yet"
        )
    if options.prompt is not None and ("\n" in options.prompt or "\r" in options.prompt):
        raise EnvironmentError_("the prompt cannot contain a line break")
    scheme = info.venv_scheme
    bin_dir = scheme["scripts"].replace(os.sep, "/")
    purelib = scheme["purelib"].replace(os.sep, "/")
    platlib = scheme["platlib"].replace(os.sep, "/")
    # The stdlib's `lib64 -> lib` link on 64-bit POSIX other than macOS, so a `platlibdir` of
    # lib64 and tools that hard-code lib64 land in the same site-packages.
    lib64 = info.raw.get("pointer_size") == 64 and info.os != "darwin"
    if lib64:
        purelib, platlib = (
            "lib/" + path[len("lib64/") :] if path.startswith("lib64/") else path
            for path in (purelib, platlib)
        )
    site_packages = tuple(dict.fromkeys((purelib, platlib)))
    links = interpreter_links(bin_dir, base_executable, info.version, info.implementation)
    if lib64:
        links.append(VenvLink("lib64", "lib"))

    python_name = Path(str(info.raw.get("base_executable") or "")).name
    if f"{bin_dir}/{python_name}" not in {link.path for link in links}:
        python_name = "python"
    values = template_values(root, bin_dir, python_name, options.prompt, info.version)
    files: list[VenvFile] = []
    for template in templates.templates:
        try:
            text = template.data.decode("utf-8")
        except UnicodeDecodeError:
            data = template.data
        else:
            text = replace_variables(text, template.name, values, quoted=templates.quoted)
            data = text.encode("utf-8")
        files.append(VenvFile(f"{bin_dir}/{template.name}", data, template.mode or 0o644))
    config = pyvenv_cfg(
        home=str(base_executable.parent),
        implementation=implementation_name(info),
        version=info.full_version,
        system_site_packages=options.system_site_packages,
        prompt=options.prompt,
        seed=options.seed,
    )
    files.append(VenvFile("pyvenv.cfg", config.encode("utf-8")))
    files.append(VenvFile(".gitignore", b"*"))
    files.append(VenvFile("CACHEDIR.TAG", CACHEDIR_TAG.encode("ascii")))
    return VenvLayout(
        root=root,
        base_executable=base_executable,
        bin_dir=bin_dir,
        site_packages=site_packages,
        directories=(bin_dir, *site_packages),
        links=tuple(links),
        files=tuple(files),
    )


# --- doing: the file system ----------------------------------------------------------------


class TargetState(enum.Enum):
    """What is at the venv path before wherry touches it."""

    MISSING = "missing"
    EMPTY = "empty directory"
    VENV = "virtual environment"
    DIRECTORY = "directory"  # non-empty, not a venv
    NOT_A_DIRECTORY = "not a directory"
    PARENT_NOT_A_DIRECTORY = "below a file"


def target_state(root: Path) -> TargetState:
    try:
        st = os.stat(root)
    except FileNotFoundError:
        return TargetState.NOT_A_DIRECTORY if os.path.islink(root) else TargetState.MISSING
    except NotADirectoryError:
        return TargetState.PARENT_NOT_A_DIRECTORY
    if not stat.S_ISDIR(st.st_mode):
        return TargetState.NOT_A_DIRECTORY
    with os.scandir(root) as entries:
        if next(entries, None) is None:
            return TargetState.EMPTY
    return TargetState.VENV if os.path.isfile(root / "pyvenv.cfg") else TargetState.DIRECTORY


def clear_directory(root: Path) -> None:
    """Remove everything inside `root`, keeping `root` itself (it may be the cwd)."""
    with os.scandir(root) as entries:
        for entry in list(entries):
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)


def _symlink(target: str, path: Path) -> None:
    """Point `path` at `target`, replacing a file or link there (atomically via a rename)."""
    try:
        os.symlink(target, path)
        return
    except FileExistsError:
        if path.is_dir() and not path.is_symlink():
            if (path.parent / target).is_dir():
                return  # a real directory where a directory link goes (an existing lib64)
            raise IsADirectoryError(errno.EISDIR, "a directory is in the way", str(path)) from None
    temporary = path.with_name(f".{path.name}.wherry-tmp")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(temporary)
    os.symlink(target, temporary)
    os.replace(temporary, path)


def _write_file(path: Path, data: bytes, mode: int) -> None:
    """Write `data`, replacing (never writing through) a symlink already at `path`."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, mode)
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
        os.unlink(path)
        fd = os.open(path, flags, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def write_venv(layout: VenvLayout) -> None:
    """Put `layout` on disk at `layout.root`, over whatever is there (`--allow-existing`)."""
    root = layout.root
    root.mkdir(parents=True, exist_ok=True)
    for directory in layout.directories:
        (root / directory).mkdir(parents=True, exist_ok=True)
    for link in layout.links:
        _symlink(link.target, root / link.path)
    for file in layout.files:
        _write_file(root / file.path, file.data, file.mode)
