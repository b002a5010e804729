"""Every requirement source: requirements files (each pip option wherry reads), pyproject
dependencies, extras and PEP 735 groups, override and exclude files."""

from __future__ import annotations

from pathlib import Path

import pytest

from wherry.errors import RequirementError
from wherry.requirements.gather import gather_requirements
from wherry.requirements.parse import RequirementsSpec, read_requirements_file
from wherry.requirements.pyproject import GroupRequest


def names(items: list) -> list[str]:  # type: ignore[type-arg]
    return [str(item.requirement) for item in items]


def test_pep508_names_extras_markers_and_specifiers(tmp_path: Path) -> None:
    (tmp_path / "r.txt").write_text(
        "Foo.Bar[Fast, tls] >= 1.0, != 1.5.* ; python_version >= '3.8' and os_name == 'posix'\n"
        "exact===1.0-weird\n"
        "local==2.0+ubuntu.1\n"
        "compat~=1.4.2\n"
        "pre>=2.0rc1\n"
    )
    spec = RequirementsSpec()
    read_requirements_file(tmp_path / "r.txt", spec)
    first = spec.requirements[0]
    assert first.name == "foo-bar" and first.requirement.extras == {"Fast", "tls"}
    assert str(first.requirement.specifier) in ("!=1.5.*,>=1.0", ">=1.0,!=1.5.*")
    assert first.requirement.marker is not None
    assert [str(s) for s in spec.requirements[1].requirement.specifier] == ["===1.0-weird"]
    assert names(spec.requirements[2:]) == ["local==2.0+ubuntu.1", "compat~=1.4.2",
                                            "pre>=2.0rc1"]


def test_file_options_continuations_comments_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PKG_VERSION", "3.1")
    monkeypatch.delenv("UNSET_VARIABLE", raising=False)
    (tmp_path / "r.txt").write_text(
        "--pre\n"
        "#   a comment\n"
        "alpha==${PKG_VERSION} \\\n"
        "   --hash=sha256:aaaa \\\n"
        "   --hash=sha256:bbbb  # trailing comment\n"
        "gamma>=1 \\\n"
        "  ,<2\n"
        "delta @ https://files.invalid/${UNSET_VARIABLE}.whl\n"
    )
    spec = RequirementsSpec()
    read_requirements_file(tmp_path / "r.txt", spec)
    assert spec.pre
    assert names(spec.requirements)[:2] == ["alpha==3.1", "gamma<2,>=1"]
    assert spec.requirements[0].hashes == ("sha256:aaaa", "sha256:bbbb")
    # An unset variable is left as written (pip does the same); its absence is recorded.
    assert spec.variables == {"PKG_VERSION": "3.1", "UNSET_VARIABLE": None}
    assert spec.requirements[2].requirement.url == (
        "https://files.invalid/${UNSET_VARIABLE}.whl")


def test_ignored_pip_options(tmp_path: Path) -> None:
    (tmp_path / "r.txt").write_text(
        "--prefer-binary\n--only-binary :all:\n--no-binary foo\n--require-hashes\n"
        "--trusted-host example.invalid\nalpha\n"
    )
    spec = RequirementsSpec()
    read_requirements_file(tmp_path / "r.txt", spec)
    assert names(spec.requirements) == ["alpha"]


PYPROJECT = """\
[project]
name = "demo"
version = "0.1"
dependencies = ["alpha>=1"]

[project.optional-dependencies]
Web_Server = ["flask"]
cli = ["click; os_name == 'posix'"]

[dependency-groups]
test = ["pytest", {include-group = "lint"}]
lint = ["ruff"]
loop-a = [{include-group = "loop-b"}]
loop-b = [{include-group = "loop-a"}]
"""


def test_pyproject_dependencies_and_extras(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    path = tmp_path / "pyproject.toml"
    spec = gather_requirements(requirement_files=[path])
    assert names(spec.requirements) == ["alpha>=1"]
    assert spec.requirements[0].source == f"demo ({path})"
    spec = gather_requirements(requirement_files=[path], extras=["web-server"])
    assert names(spec.requirements) == ["alpha>=1", "flask"]
    spec = gather_requirements(requirement_files=[path], all_extras=True)
    assert names(spec.requirements) == ["alpha>=1", 'click; os_name == "posix"', "flask"]
    with pytest.raises(RequirementError, match="extra `nope` is not defined"):
        gather_requirements(requirement_files=[path], extras=["nope"])
    with pytest.raises(RequirementError, match=r"need a pyproject\.toml"):
        gather_requirements(requirements=["x"], extras=["web"])


def test_dependency_groups(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    monkeypatch.chdir(tmp_path)
    spec = gather_requirements(groups=["test"])
    assert names(spec.requirements) == ["pytest", "ruff"]
    assert [item.source for item in spec.requirements] == [
        "demo (pyproject.toml:test)", "demo (pyproject.toml:lint)"]
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "pyproject.toml").write_text('[dependency-groups]\ndocs = ["sphinx"]\n')
    spec = gather_requirements(groups=["sub/pyproject.toml:docs", "lint"])
    assert names(spec.requirements) == ["sphinx", "ruff"]
    assert spec.requirements[0].source == "(sub/pyproject.toml:docs)"
    with pytest.raises(RequirementError, match="include each other: loop-a -> loop-b -> loop-a"):
        gather_requirements(groups=["loop-a"])
    with pytest.raises(RequirementError, match="`missing` is not defined"):
        gather_requirements(groups=["missing"])
    with pytest.raises(RequirementError, match=r"must name a pyproject\.toml"):
        GroupRequest.parse("setup.cfg:docs")


def test_dynamic_dependencies_are_refused_clearly(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "dyn"\nversion = "1"\ndynamic = ["dependencies"]\n')
    with pytest.raises(RequirementError, match="dynamic") as info:
        gather_requirements(requirement_files=[tmp_path / "pyproject.toml"])
    assert info.value.hint is not None and "wherry pip install ." in info.value.hint


def test_bad_pyproject_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project\n")
    with pytest.raises(RequirementError, match="not valid TOML"):
        gather_requirements(requirement_files=[tmp_path / "pyproject.toml"])


def test_override_and_exclude_files(tmp_path: Path) -> None:
    (tmp_path / "r.in").write_text("app\n")
    (tmp_path / "c.txt").write_text("lib<3\n")
    (tmp_path / "o.txt").write_text("lib>=2 ; python_version >= '3'\n")
    (tmp_path / "x.txt").write_text("Tele_Metry\n")
    spec = gather_requirements(
        requirement_files=[tmp_path / "r.in"], constraint_files=[tmp_path / "c.txt"],
        override_files=[tmp_path / "o.txt"], exclude_files=[tmp_path / "x.txt"],
    )
    assert names(spec.requirements) == ["app"]
    assert names(spec.constraints) == ["lib<3"]
    assert names(spec.overrides) == ['lib>=2; python_version >= "3"']
    assert spec.excludes == ["tele-metry"]
    assert {p.name for p in spec.files} == {"r.in", "c.txt", "o.txt", "x.txt"}
