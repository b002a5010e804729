"""Facts written twice in the repository stay in step."""

from __future__ import annotations

import sys
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from wherry.commands.uninstall import _FALLBACK_DEPENDENCIES

ROOT = Path(__file__).resolve().parent.parent


def _pyproject() -> dict[str, object]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    data: dict[str, object] = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return data


def test_uninstall_guard_knows_every_dependency() -> None:
    project = _pyproject()["project"]
    assert isinstance(project, dict)
    declared = {canonicalize_name(Requirement(r).name) for r in project["dependencies"]}
    assert declared == {canonicalize_name(n) for n in _FALLBACK_DEPENDENCIES}
