"""Editable installs (PEP 660): `-e PATH` on the command line and in requirements files."""

from __future__ import annotations

from pathlib import Path

from tests.support import MakeIndex, RunWherry
from tests.support.environments import make_venv
from tests.test_direct import direct_url, make_project, value_of


def test_editable_install_sees_edits_without_reinstalling(
    run_wherry: RunWherry, make_index: MakeIndex, backends: list[Path], tmp_path: Path,
) -> None:
    index = make_index(backends)
    project = make_project(tmp_path / "proj", "editme")
    venv = make_venv(run_wherry, tmp_path / "venv")
    result = run_wherry("pip", "install", "-e", "./proj", "--python", venv, "--index-url",
                        index.url, cwd=tmp_path)
    assert result.ok, result
    assert "+ editme==1.0" in result.stderr
    assert value_of(venv, "editme") == "one"
    assert direct_url(venv, "editme-1.0") == {"url": project.as_uri(),
                                              "dir_info": {"editable": True}}
    (project / "editme" / "__init__.py").write_text("VALUE = 'edited'\n")
    assert value_of(venv, "editme") == "edited"
    listed = run_wherry("pip", "list", "--editable", "--python", venv)
    assert listed.ok, listed
    assert "editme" in listed.stdout


def test_editable_in_a_requirements_file_with_a_relative_path(
    run_wherry: RunWherry, make_index: MakeIndex, backends: list[Path], tmp_path: Path,
) -> None:
    """`-e ./lib` in a requirements file is read from the current directory, wherever
    the file is (pip and uv read it so): here from work/, not from work/reqs/."""
    index = make_index(backends)
    make_project(tmp_path / "work" / "lib", "reqedit", value="from-file")
    make_project(tmp_path / "work" / "reqs" / "lib", "decoy", value="decoy")
    requirements = tmp_path / "work" / "reqs" / "requirements.txt"
    requirements.write_text("-e ./lib\n")
    venv = make_venv(run_wherry, tmp_path / "venv")
    result = run_wherry("pip", "install", "-r", "reqs/requirements.txt", "--python", venv,
                        "--index-url", index.url, cwd=tmp_path / "work")
    assert result.ok, result
    assert value_of(venv, "reqedit") == "from-file"
    assert direct_url(venv, "reqedit-1.0")["dir_info"] == {"editable": True}
    assert "decoy" not in result.stderr


def test_editable_needs_a_directory(run_wherry: RunWherry, tmp_path: Path) -> None:
    (tmp_path / "file.txt").write_text("")
    venv = make_venv(run_wherry, tmp_path / "venv")
    result = run_wherry("pip", "install", "-e", str(tmp_path / "file.txt"), "--python", venv,
                        "--no-index")
    assert result.returncode == 2, result
    assert "needs a project directory" in result.stderr
