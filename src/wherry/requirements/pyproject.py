"""Requirements declared in a `pyproject.toml`: PEP 621 dependencies and extras, and
PEP 735 dependency groups.

`-r pyproject.toml` reads `[project] dependencies`, plus `optional-dependencies` for each
`--extra` (or all of them with `--all-extras`); `--group NAME` (or `--group
path/to/pyproject.toml:NAME`, as uv accepts) reads `[dependency-groups]`, following
`{include-group = "..."}` entries. Names of extras and groups compare normalised (PEP 685,
PEP 735). Each requirement's source reads like uv's annotations: `name (pyproject.toml)`,
`name (pyproject.toml:group)`.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec

from wherry.errors import RequirementError
from wherry.requirements.parse import RequirementsSpec, SourcedRequirement, parse_requirement

_NAME_SEPARATORS = re.compile(r"[-_.]+")


def normalize(name: str) -> str:
    """PEP 503/685/735 normalisation of a project, extra or group name."""
    return _NAME_SEPARATORS.sub("-", name).lower()


def is_pyproject(path: Path) -> bool:
    return path.name == "pyproject.toml"


class GroupRequest(msgspec.Struct, frozen=True):
    """`--group [PATH:]NAME`: a dependency group of one pyproject.toml."""

    path: Path
    name: str

    @classmethod
    def parse(cls, text: str) -> GroupRequest:
        path_text, sep, name = text.rpartition(":")
        if not sep:
            return cls(Path("pyproject.toml"), text.strip())
        path = Path(path_text)
        if path.name != "pyproject.toml":
            raise RequirementError(
                f"invalid --group `{text}`: the path before `:` must name a pyproject.toml",
                hint="use `--group NAME` or `--group path/to/pyproject.toml:NAME`",
            )
        return cls(path, name.strip())


class ProjectRequest(msgspec.Struct):
    """Which optional parts of pyproject files to read (`--extra`, `--all-extras`)."""

    extras: Sequence[str] = ()
    all_extras: bool = False
    groups: Sequence[GroupRequest] = ()
    # Normalised extras found in at least one file read (unknown ones are an error).
    found_extras: set[str] = msgspec.field(default_factory=set)


def load_pyproject(path: Path) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RequirementError(
            f"file not found: {path}", hint="check the path given to -r or --group"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RequirementError(f"cannot read {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise RequirementError(f"{path} is not valid TOML: {exc}") from None
    return data


def _string_list(value: object, where: str, path: Path) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise RequirementError(f"`{where}` in {path} must be a list of strings")
    return list(value)


def read_pyproject(path: Path, spec: RequirementsSpec, request: ProjectRequest) -> None:
    """Add the `[project]` dependencies of `path` (and the requested extras) to `spec`."""
    data = load_pyproject(path)
    spec.files.append(path.resolve())
    project = data.get("project")
    if not isinstance(project, dict):
        raise RequirementError(
            f"{path} has no [project] table, so it declares no dependencies",
            hint="add a [project] table with `dependencies`, or use --group for "
            "[dependency-groups]",
        )
    name = project.get("name") if isinstance(project.get("name"), str) else None
    source = f"{name} ({path})" if name else str(path)
    dynamic = project.get("dynamic") or []
    if "dependencies" in dynamic or (
        (request.extras or request.all_extras) and "optional-dependencies" in dynamic
    ):
        raise RequirementError(
            f"{path} declares its dependencies as dynamic, so reading them needs a build "
            "of the project",
            hint="install the project itself (`wherry pip install .`), or list the "
            "dependencies statically in [project]",
        )
    for text in _string_list(project.get("dependencies", []), "project.dependencies", path):
        spec.requirements.append(_sourced(text, source))
    optional = project.get("optional-dependencies", {})
    if not isinstance(optional, dict):
        raise RequirementError(f"`project.optional-dependencies` in {path} must be a table")
    by_name = {normalize(extra): extra for extra in optional}
    request.found_extras.update(by_name)
    wanted = sorted(by_name) if request.all_extras else [normalize(e) for e in request.extras]
    for extra in wanted:
        if extra not in by_name:
            continue  # checked across every file by `check_extras`
        where = f"project.optional-dependencies.{by_name[extra]}"
        for text in _string_list(optional[by_name[extra]], where, path):
            spec.requirements.append(_sourced(text, source))


def check_extras(request: ProjectRequest, read_any: bool) -> None:
    """`--extra` needs a pyproject.toml source, and each extra must exist in one."""
    if not request.extras and not request.all_extras:
        return
    if not read_any:
        raise RequirementError(
            "--extra and --all-extras need a pyproject.toml to read the extras from",
            hint="pass the project's file with `-r pyproject.toml`",
        )
    for extra in request.extras:
        if normalize(extra) not in request.found_extras:
            known = ", ".join(sorted(request.found_extras)) or "none"
            raise RequirementError(
                f"requested extra `{extra}` is not defined in the pyproject.toml files read",
                hint=f"the extras declared are: {known}",
            )


def read_groups(spec: RequirementsSpec, groups: Sequence[GroupRequest]) -> None:
    """Add the requirements of each `--group` to `spec` (PEP 735, with include-group)."""
    by_path: dict[Path, list[str]] = {}
    for request in groups:
        by_path.setdefault(request.path, []).append(request.name)
    for path, names in by_path.items():
        data = load_pyproject(path)
        spec.files.append(path.resolve())
        table = data.get("dependency-groups", {})
        if not isinstance(table, dict):
            raise RequirementError(f"`dependency-groups` in {path} must be a table")
        project = data.get("project")
        project_name = project.get("name") if isinstance(project, dict) else None
        for name in names:
            source_prefix = f"{project_name} " if isinstance(project_name, str) else ""
            for text, group in expand_group(table, name, path):
                spec.requirements.append(
                    _sourced(text, f"{source_prefix}({path}:{group})")
                )


def expand_group(
    table: dict[str, Any], name: str, path: Path, _stack: tuple[str, ...] = ()
) -> list[tuple[str, str]]:
    """The requirement strings of group `name` with the group each came from, following
    `include-group` (PEP 735: cycles and unknown groups are errors)."""
    groups = {normalize(key): key for key in table}
    wanted = normalize(name)
    if wanted in _stack:
        cycle = " -> ".join([*_stack, wanted])
        raise RequirementError(f"dependency groups in {path} include each other: {cycle}")
    if wanted not in groups:
        known = ", ".join(sorted(groups)) or "none"
        raise RequirementError(
            f"dependency group `{name}` is not defined in {path}",
            hint=f"the groups declared are: {known}",
        )
    entries = table[groups[wanted]]
    if not isinstance(entries, list):
        raise RequirementError(f"dependency group `{name}` in {path} must be a list")
    result: list[tuple[str, str]] = []
    for entry in entries:
        if isinstance(entry, str):
            result.append((entry, wanted))
        elif isinstance(entry, dict) and set(entry) == {"include-group"} and isinstance(
            entry["include-group"], str
        ):
            result += expand_group(table, entry["include-group"], path, (*_stack, wanted))
        else:
            raise RequirementError(
                f"invalid entry {entry!r} in dependency group `{name}` of {path}",
                hint='entries are requirement strings or `{include-group = "other"}`',
            )
    return result


def _sourced(text: str, source: str) -> SourcedRequirement:
    return parse_requirement(text, source)
