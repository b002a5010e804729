"""`wherry venv`: pick the interpreter, decide what to do with the path, create, seed.

UI-free: `prepare_venv` does every check and returns a plan the CLI can print before anything
is written; `create_venv` carries it out. The policy for an existing path is uv 0.5+'s:
an empty directory is used, a virtual environment is replaced, any other directory is an
error unless `--clear` (remove its contents) or `--allow-existing` (write over it).

Why the split: all the ways to fail (no interpreter, a file in the way, a directory that is
not a venv, templates that cannot be read) are found before the first write, and a failure
after it (a full disk, a failed seed, Ctrl-C) removes what this run created when the path did
not exist or was empty, so a failed run leaves nothing behind. Clearing is refused for
directories that hold the running wherry, the base interpreter, the home directory or the
current directory's parents, since `--clear` on those destroys more than a venv.
"""

from __future__ import annotations

import enum
import os
import shlex
import shutil
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from wherry.cache.layout import Cache
from wherry.errors import EnvironmentError_
from wherry.output import log
from wherry.python.discovery import find_interpreter
from wherry.python.info import InterpreterInfo, query_interpreter
from wherry.python.venv import (
    TargetState,
    VenvLayout,
    VenvOptions,
    base_interpreter,
    clear_directory,
    implementation_name,
    is_within,
    load_templates,
    plan_venv,
    target_state,
    write_venv,
)

if TYPE_CHECKING:
    from wherry.output import Printer

DEFAULT_PATH = ".venv"


class Action(enum.Enum):
    CREATE = "create"  # nothing at the path
    FILL = "fill"  # an empty directory
    REPLACE = "replace"  # remove the contents first (an existing venv, or `--clear`)
    OVERWRITE = "overwrite"  # `--allow-existing`: keep the contents, write over them


class VenvRequest(NamedTuple):
    path: str = DEFAULT_PATH
    python: str | None = None
    seed: bool = False
    clear: bool = False
    allow_existing: bool = False
    prompt: str | None = None
    system_site_packages: bool = False


class VenvPlan(NamedTuple):
    request: VenvRequest
    interpreter: InterpreterInfo  # as found; the venv uses its base (`layout.base_executable`)
    root: Path  # absolute, symlinks kept (as the stdlib's `os.path.abspath`)
    state: TargetState
    action: Action
    layout: VenvLayout

    @property
    def interpreter_label(self) -> str:
        """`CPython 3.12.1`."""
        return f"{implementation_name(self.interpreter)} {self.interpreter.full_version}"


class VenvReport(NamedTuple):
    layout: VenvLayout
    seeded: InterpreterInfo | None  # the new venv's info when `--seed` installed into it
    seconds: float  # writing the venv, without seeding


def resolve_prompt(prompt: str | None, cwd: Path) -> str | None:
    """`--prompt .` means the current directory's name (bpo-38901, as uv and venv do)."""
    if prompt == ".":
        return cwd.name or str(cwd)
    return prompt


def choose_action(state: TargetState, *, clear: bool, allow_existing: bool, shown: str) -> Action:
    """What to do with the path, given what is there; raises for a path that cannot be used."""
    if state is TargetState.MISSING:
        return Action.CREATE
    if state in (TargetState.NOT_A_DIRECTORY, TargetState.PARENT_NOT_A_DIRECTORY):
        why = (
            "it exists and is not a directory"
            if state is TargetState.NOT_A_DIRECTORY
            else "one of its parents is a file"
        )
        raise EnvironmentError_(
            f"cannot create a virtual environment at {shown}: {why}",
            hint="choose another path for the virtual environment",
        )
    if state is TargetState.EMPTY:
        return Action.FILL
    if allow_existing:
        return Action.OVERWRITE
    if clear or state is TargetState.VENV:
        return Action.REPLACE
    raise EnvironmentError_(
        f"the directory {shown} exists and is not a virtual environment",
        hint="use `--clear` to remove its contents first, or `--allow-existing` to create "
        "the environment among them",
    )


def protected_paths(base_executable: Path, cwd: Path) -> list[tuple[str, str, bool]]:
    """(what, real path, may equal the venv root) for paths whose removal would hurt."""
    return [
        ("the Python running wherry", os.path.realpath(sys.prefix), False),
        ("the Python running wherry", os.path.realpath(sys.base_prefix), False),
        ("the base interpreter", os.path.realpath(base_executable), False),
        ("your home directory", os.path.realpath(Path.home()), False),
        ("the current directory", os.path.realpath(cwd), True),
    ]


def check_removable(root: Path, protected: list[tuple[str, str, bool]], shown: str) -> None:
    """Refuse to clear `root` when a protected path is inside it."""
    real_root = os.path.realpath(root)
    for what, path, may_equal in protected:
        if is_within(path, real_root) and not (may_equal and path == real_root):
            raise EnvironmentError_(
                f"refusing to remove the contents of {shown}: it contains {what} ({path})",
                hint="choose another path for the virtual environment",
            )


def display_path(path: Path, cwd: Path) -> str:
    """A path as uv shows it: relative when under the current directory, else absolute."""
    try:
        relative = path.relative_to(cwd)
    except ValueError:
        return str(path)
    return str(relative)


def prepare_venv(request: VenvRequest, cache: Cache, *, cwd: Path | None = None) -> VenvPlan:
    """Find the interpreter and check the path; reads only, nothing is written."""
    cwd = cwd if cwd is not None else Path.cwd()
    interpreter = find_interpreter(request.python, cache)
    root = Path(os.path.abspath(cwd / Path(request.path).expanduser()))
    shown = display_path(root, cwd)
    try:
        state = target_state(root)
    except OSError as exc:
        raise EnvironmentError_(
            f"cannot use {shown} for a virtual environment: {exc.strerror or exc}"
        ) from None
    action = choose_action(
        state, clear=request.clear, allow_existing=request.allow_existing, shown=shown
    )
    base = base_interpreter(interpreter)
    if action is Action.REPLACE:
        check_removable(root, protected_paths(base, cwd), shown)
    try:
        templates = load_templates(interpreter.raw["stdlib"], interpreter.markers["os_name"])
    except OSError as exc:
        raise EnvironmentError_(
            f"cannot read the activation script templates of {interpreter.executable}: "
            f"{exc.strerror or exc} ({exc.filename})"
        ) from None
    if not templates.templates:
        log.warning(
            "no activation script templates in %s/venv/scripts; creating the environment "
            "without activation scripts",
            interpreter.raw["stdlib"],
        )
    options = VenvOptions(
        prompt=resolve_prompt(request.prompt, cwd),
        system_site_packages=request.system_site_packages,
        seed=request.seed,
    )
    layout = plan_venv(interpreter, root, base, templates, options)
    return VenvPlan(request, interpreter, root, state, action, layout)


def _highest_missing(path: Path) -> Path:
    """The outermost directory that creating `path` with parents will create."""
    highest = path
    for parent in path.parents:
        if os.path.lexists(parent):
            break
        highest = parent
    return highest


def _roll_back(plan: VenvPlan, created: Path | None) -> None:
    try:
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)
        elif plan.action is Action.FILL:
            clear_directory(plan.root)
    except OSError as exc:  # pragma: no cover - best effort after an earlier failure
        log.warning("could not remove the partial environment at %s: %s", plan.root, exc)


def create_venv(plan: VenvPlan, cache: Cache, printer: Printer) -> VenvReport:
    """Write the venv (and seed it with `--seed`); undo this run's writes on failure."""
    root = plan.root
    created = _highest_missing(root) if plan.action is Action.CREATE else None
    start = time.perf_counter()
    try:
        if plan.action is Action.REPLACE:
            log.debug("Removing the contents of the existing %s at %s", plan.state.value, root)
            clear_directory(root)
        write_venv(plan.layout)
        seconds = time.perf_counter() - start
        log.debug(
            "Created the virtual environment at %s in %.1fms (base interpreter %s)",
            root,
            seconds * 1000,
            plan.layout.base_executable,
        )
        seeded = None
        if plan.request.seed:
            from wherry.commands.install import seed_environment

            seeded = query_interpreter(plan.layout.python, cache)
            seed_environment(seeded, cache, printer)
    except BaseException as exc:
        _roll_back(plan, created)
        if isinstance(exc, OSError):
            where = f" ({exc.filename})" if exc.filename else ""
            raise EnvironmentError_(
                f"could not create the virtual environment at {root}: {exc.strerror or exc}{where}"
            ) from None
        raise
    return VenvReport(plan.layout, seeded, seconds)


_SHELL_VARIABLES = (
    ("NU_VERSION", "nu"),
    ("FISH_VERSION", "fish"),
    ("BASH_VERSION", "bash"),
    ("ZSH_VERSION", "zsh"),
    ("KSH_VERSION", "ksh"),
)


def detect_shell(environ: Mapping[str, str]) -> str | None:
    """The user's shell, the way uv guesses it: shell-specific variables, then `$SHELL`."""
    for variable, shell in _SHELL_VARIABLES:
        if environ.get(variable):
            return shell
    path = environ.get("SHELL")
    if path:
        name = os.path.basename(path).lower().removesuffix(".exe")
        return "pwsh" if name == "powershell" else name
    return None


def activation_command(layout: VenvLayout, shown_root: str, shell: str | None) -> str | None:
    """`source .venv/bin/activate` for the user's shell, if the venv has a script for it."""
    if shell == "fish":
        script = "activate.fish"
    elif shell in ("csh", "tcsh"):
        script = "activate.csh"
    elif shell == "pwsh":
        script = "Activate.ps1"
    elif shell == "nu":
        return None
    else:
        script = "activate"
    if not any(file.path == f"{layout.bin_dir}/{script}" for file in layout.files):
        return None
    path = f"{shown_root}/{layout.bin_dir}/{script}"
    quoted = shlex.quote(path)
    if shell == "pwsh":
        return path if quoted == path else "& '" + path.replace("'", "''") + "'"
    return f"source {quoted}"
