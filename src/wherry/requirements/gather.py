"""Every source of requirements a command accepts, read into one `RequirementsSpec`.

Command-line requirements, `-r` files (requirements files, or a `pyproject.toml` with
`--extra`/`--all-extras`), `-c` constraints, `--override` and `--exclude` files, and
`--group` dependency groups.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from wherry.requirements.parse import (
    RequirementsSpec,
    parse_requirement,
    read_requirements_file,
)
from wherry.requirements.pyproject import (
    GroupRequest,
    ProjectRequest,
    check_extras,
    is_pyproject,
    read_groups,
    read_pyproject,
)


def gather_requirements(
    *,
    requirements: Sequence[str] = (),
    requirement_files: Sequence[Path] = (),
    constraint_files: Sequence[Path] = (),
    override_files: Sequence[Path] = (),
    exclude_files: Sequence[Path] = (),
    extras: Sequence[str] = (),
    all_extras: bool = False,
    groups: Sequence[str] = (),
) -> RequirementsSpec:
    """Read every requirement source into one spec (errors name the file and line)."""
    spec = RequirementsSpec()
    for text in requirements:
        spec.requirements.append(parse_requirement(text, "command line"))
    project = ProjectRequest(extras=list(extras), all_extras=all_extras)
    read_any_pyproject = False
    for path in requirement_files:
        if is_pyproject(path):
            read_pyproject(path, spec, project)
            read_any_pyproject = True
        else:
            read_requirements_file(path, spec)
    check_extras(project, read_any_pyproject)
    if groups:
        read_groups(spec, [GroupRequest.parse(text) for text in groups])
    for path in constraint_files:
        read_requirements_file(path, spec, constraint=True)
    for path in override_files:
        overrides = RequirementsSpec()
        read_requirements_file(path, overrides)
        spec.overrides.extend(overrides.requirements)
        spec.files.extend(overrides.files)
        spec.variables.update(overrides.variables)
    for path in exclude_files:
        excluded = RequirementsSpec()
        read_requirements_file(path, excluded)
        spec.excludes.extend(item.name for item in excluded.requirements)
        spec.files.extend(excluded.files)
        spec.variables.update(excluded.variables)
    return spec
