"""Direct references: local projects, sdist and wheel files, URLs with hashes, git URLs,
and the PEP 610 `direct_url.json` each install records."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support import MakeIndex, RunWherry
from tests.support.environments import make_venv, site_packages
from tests.support.packages import Wheelhouse, sha256_of


def make_project(root: Path, name: str, version: str = "1.0", *, deps: tuple[str, ...] = (),
                 value: str = "one", static_name: bool = True) -> Path:
    """A setuptools project directory with a module whose VALUE tests can read."""
    module = name.replace("-", "_")
    (root / module).mkdir(parents=True, exist_ok=True)
    (root / module / "__init__.py").write_text(f"VALUE = {value!r}\n")
    if static_name:
        listed = ", ".join(json.dumps(d) for d in deps)
        (root / "pyproject.toml").write_text(
            '[build-system]\nrequires = ["setuptools>=61"]\n'
            'build-backend = "setuptools.build_meta"\n\n'
            f'[project]\nname = "{name}"\nversion = "{version}"\n'
            f"dependencies = [{listed}]\n\n"
            f'[tool.setuptools]\npackages = ["{module}"]\n')
    else:
        (root / "setup.py").write_text(
            "from setuptools import setup\n"
            f"setup(name={name!r}, version={version!r}, packages=[{module!r}], "
            f"install_requires={list(deps)!r})\n")
    return root


def value_of(venv: Path, module: str) -> str:
    done = subprocess.run([str(venv / "bin" / "python"), "-c",
                           f"import {module}; print({module}.VALUE)"],
                          capture_output=True, text=True, check=True)
    return done.stdout.strip()


def direct_url(venv: Path, dist: str) -> dict[str, object]:
    data = json.loads((site_packages(venv) / f"{dist}.dist-info" / "direct_url.json")
                      .read_text())
    assert isinstance(data, dict)
    return data


def test_local_project_directory_is_built_and_rebuilt_after_an_edit(
    run_wherry: RunWherry, make_index: MakeIndex, wheelhouse: Wheelhouse,
    backends: list[Path], tmp_path: Path,
) -> None:
    index = make_index([*backends, wheelhouse.wheel("helper", "1.0")])
    project = make_project(tmp_path / "proj", "localpkg", deps=("helper",))
    venv = make_venv(run_wherry, tmp_path / "venv")

    def install(*args: str) -> str:
        result = run_wherry("pip", "install", *args, "--python", venv, "--index-url",
                            index.url, cwd=tmp_path)
        assert result.ok, result
        return result.stderr

    out = install("./proj")
    assert "+ localpkg==1.0" in out and "+ helper==1.0" in out
    assert value_of(venv, "localpkg") == "one"
    assert direct_url(venv, "localpkg-1.0") == {"url": project.as_uri(), "dir_info": {}}
    (project / "localpkg" / "__init__.py").write_text("VALUE = 'two'\n")
    install("./proj")
    assert value_of(venv, "localpkg") == "two"


def test_project_named_only_by_its_setup_py(
    run_wherry: RunWherry, make_index: MakeIndex, backends: list[Path], tmp_path: Path,
) -> None:
    index = make_index(backends)
    project = make_project(tmp_path / "some-dir", "realname", static_name=False)
    venv = make_venv(run_wherry, tmp_path / "venv")
    result = run_wherry("pip", "install", str(project), "--python", venv, "--index-url",
                        index.url)
    assert result.ok, result
    assert "+ realname==1.0" in result.stderr
    wrong = run_wherry("pip", "install", f"othername @ {project.as_uri()}", "--python", venv,
                       "--index-url", index.url)
    assert wrong.returncode != 0, wrong
    assert "othername" in wrong.stderr and "realname" in wrong.stderr


def test_sdist_and_wheel_files_by_path(
    run_wherry: RunWherry, make_index: MakeIndex, wheelhouse: Wheelhouse,
    backends: list[Path], tmp_path: Path,
) -> None:
    index = make_index(backends)
    sdist = wheelhouse.sdist("fromsdist", "1.0")
    wheel = wheelhouse.wheel("fromwheel", "2.0")
    venv = make_venv(run_wherry, tmp_path / "venv")
    result = run_wherry("pip", "install", str(sdist), str(wheel), "--python", venv,
                        "--index-url", index.url)
    assert result.ok, result
    assert "+ fromsdist==1.0" in result.stderr and "+ fromwheel==2.0" in result.stderr
    assert direct_url(venv, "fromwheel-2.0") == {"url": wheel.as_uri(), "archive_info": {}}
    assert direct_url(venv, "fromsdist-1.0")["url"] == sdist.as_uri()


def test_wheel_url_with_a_hash_fragment(
    run_wherry: RunWherry, make_index: MakeIndex, wheelhouse: Wheelhouse, tmp_path: Path,
) -> None:
    wheel = wheelhouse.wheel("byurl", "1.0", requires=["helper"])
    index = make_index([wheel, wheelhouse.wheel("helper", "1.0")])
    url = index.file_url(wheel.name)
    venv = make_venv(run_wherry, tmp_path / "venv")
    bad = run_wherry("pip", "install", f"byurl @ {url}#sha256={'0' * 64}", "--python", venv,
                     "--index-url", index.url)
    assert bad.returncode != 0, bad
    assert "hash" in bad.stderr.lower()
    assert not list(site_packages(venv).glob("byurl*"))
    digest = sha256_of(wheel)
    good = run_wherry("pip", "install", f"byurl @ {url}#sha256={digest}", "--python", venv,
                      "--index-url", index.url)
    assert good.ok, good
    assert "+ byurl==1.0" in good.stderr and "+ helper==1.0" in good.stderr
    assert direct_url(venv, "byurl-1.0") == {
        "url": url, "archive_info": {"hash": f"sha256={digest}",
                                     "hashes": {"sha256": digest}}}
    # The same reference again: kept, as its direct_url.json says it is that file.
    again = run_wherry("pip", "install", f"byurl @ {url}#sha256={digest}", "--python", venv,
                       "--index-url", index.url)
    assert again.ok, again
    assert "+ byurl" not in again.stderr


def test_registry_requirement_must_agree_with_the_direct_reference(
    run_wherry: RunWherry, make_index: MakeIndex, wheelhouse: Wheelhouse, tmp_path: Path,
) -> None:
    local = wheelhouse.wheel("pinned", "1.0")
    index = make_index([wheelhouse.wheel("pinned", "3.0")])
    venv = make_venv(run_wherry, tmp_path / "venv")
    conflict = run_wherry("pip", "install", str(local), "pinned>=2", "--python", venv,
                          "--index-url", index.url)
    assert conflict.returncode != 0, conflict
    assert "pinned" in conflict.stderr
    ok = run_wherry("pip", "install", str(local), "pinned<2", "--python", venv,
                    "--index-url", index.url)
    assert ok.ok, ok
    assert "+ pinned==1.0" in ok.stderr


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_url_with_revision_and_subdirectory(
    run_wherry: RunWherry, make_index: MakeIndex, backends: list[Path], tmp_path: Path,
) -> None:
    repo = tmp_path / "repo"
    make_project(repo / "sub", "fromgit", value="tagged")

    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                              check=True, env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
                                               "GIT_COMMITTER_NAME": "t",
                                               "GIT_COMMITTER_EMAIL": "t@t", "HOME": str(tmp_path)})
        return done.stdout.strip()

    git("init", "-q")
    git("add", "-A")
    git("commit", "-q", "-m", "one")
    git("tag", "v1")
    commit = git("rev-parse", "HEAD")
    (repo / "sub" / "fromgit" / "__init__.py").write_text("VALUE = 'later'\n")
    git("commit", "-q", "-am", "two")
    index = make_index(backends)
    venv = make_venv(run_wherry, tmp_path / "venv")
    requirement = f"fromgit @ git+{repo.as_uri()}@v1#subdirectory=sub"
    result = run_wherry("pip", "install", requirement, "--python", venv, "--index-url",
                        index.url)
    assert result.ok, result
    assert value_of(venv, "fromgit") == "tagged"
    assert direct_url(venv, "fromgit-1.0") == {
        "url": f"git+{repo.as_uri()}", "subdirectory": "sub",
        "vcs_info": {"vcs": "git", "commit_id": commit, "requested_revision": "v1"}}
    again = run_wherry("pip", "install", requirement, "--python", venv, "--index-url",
                       index.url)
    assert again.ok, again
    assert "+ fromgit" not in again.stderr
    head = run_wherry("pip", "install", f"fromgit @ git+{repo.as_uri()}#subdirectory=sub",
                      "--python", venv, "--index-url", index.url)
    assert head.ok, head
    assert value_of(venv, "fromgit") == "later"


def test_bad_direct_references_are_clear_errors(run_wherry: RunWherry, tmp_path: Path) -> None:
    venv = make_venv(run_wherry, tmp_path / "venv")
    for text, words in [
        ("./missing-dir", "does not exist"),
        ("ftp://host/x-1.0.tar.gz", "unsupported URL scheme"),
        ("https://host/archive", "cannot tell which package"),
    ]:
        result = run_wherry("pip", "install", text, "--python", venv, "--no-index",
                            cwd=tmp_path)
        assert result.returncode == 2, result
        assert words in result.stderr and "Traceback" not in result.stderr, result


def test_only_binary_holds_for_direct_references_but_not_editables(
    run_wherry: RunWherry, make_index: MakeIndex, backends: list[Path], tmp_path: Path,
) -> None:
    index = make_index(backends)
    make_project(tmp_path / "proj", "nobuild")
    venv = make_venv(run_wherry, tmp_path / "venv")
    refused = run_wherry("pip", "install", "./proj", "--only-binary", ":all:", "--python", venv,
                         "--index-url", index.url, cwd=tmp_path)
    assert refused.returncode == 2, refused
    assert "--only-binary/--no-build" in refused.stderr
    editable = run_wherry("pip", "install", "-e", "./proj", "--no-build", "--python", venv,
                          "--index-url", index.url, cwd=tmp_path)
    assert editable.ok, editable


def test_sdist_by_url_and_sync_from_a_requirements_file(
    run_wherry: RunWherry, make_index: MakeIndex, wheelhouse: Wheelhouse,
    backends: list[Path], tmp_path: Path,
) -> None:
    sdist = wheelhouse.sdist("remotesdist", "1.0")
    index = make_index([*backends, sdist, wheelhouse.wheel("other", "1.0")])
    make_project(tmp_path / "proj", "synced")
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"remotesdist @ {index.file_url(sdist.name)}\n./proj\n")
    venv = make_venv(run_wherry, tmp_path / "venv")
    assert run_wherry("pip", "install", "other", "--python", venv, "--index-url",
                      index.url).ok
    result = run_wherry("pip", "sync", requirements, "--python", venv, "--index-url",
                        index.url, cwd=tmp_path)  # `./proj` is read from the cwd
    assert result.ok, result
    assert "+ remotesdist==1.0" in result.stderr and "+ synced==1.0" in result.stderr
    assert "- other==1.0" in result.stderr
    recorded = direct_url(venv, "remotesdist-1.0")
    assert recorded["url"] == index.file_url(sdist.name)
    assert recorded["archive_info"] == {"hash": f"sha256={sha256_of(sdist)}",
                                        "hashes": {"sha256": sha256_of(sdist)}}


def test_direct_reference_forms_parse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from wherry.requirements.parse import (
        RequirementsSpec,
        parse_requirement,
        read_requirements_file,
    )

    make_project(tmp_path / "proj", "static-name")
    make_project(tmp_path / "legacy", "dynamic", static_name=False)
    wheel = tmp_path / "Some_Pkg-1.0-py3-none-any.whl"
    wheel.write_bytes(b"")
    parsed = parse_requirement("./proj[extra] ; python_version > '3'", "cl", base_dir=tmp_path)
    assert parsed.named and parsed.requirement.name == "static-name"
    assert parsed.requirement.extras == {"extra"}
    assert parsed.requirement.url == (tmp_path / "proj").as_uri()
    assert str(parsed.requirement.marker) == 'python_version > "3"'
    legacy = parse_requirement(str(tmp_path / "legacy"), "cl")
    assert not legacy.named and legacy.requirement.url == (tmp_path / "legacy").as_uri()
    assert parse_requirement(str(wheel), "cl").requirement.name == "some-pkg"
    named = parse_requirement("static-name @ ./proj", "cl", base_dir=tmp_path)
    assert named.requirement.url == (tmp_path / "proj").as_uri()
    git = parse_requirement("git+https://host/repo.git@v1#egg=thing", "cl")
    assert git.requirement.name == "thing"
    requirements = tmp_path / "reqs.txt"
    requirements.write_text("-e proj\n./legacy\n")
    monkeypatch.chdir(tmp_path)  # a file's relative paths are read from the cwd
    spec = RequirementsSpec()
    read_requirements_file(requirements, spec)
    assert [(r.editable, r.named) for r in spec.requirements] == [(True, True), (False, False)]


def test_incompatible_wheel_by_path_is_refused(
    run_wherry: RunWherry, wheelhouse: Wheelhouse, tmp_path: Path,
) -> None:
    wheel = wheelhouse.wheel("winonly", "1.0", tag="cp39-cp39-win_amd64")
    venv = make_venv(run_wherry, tmp_path / "venv")
    result = run_wherry("pip", "install", str(wheel), "--python", venv, "--no-index")
    assert result.returncode == 2, result
    assert "not a supported wheel" in result.stderr


def test_direct_references_in_constraints_and_overrides(
    run_wherry: RunWherry, make_index: MakeIndex, wheelhouse: Wheelhouse, tmp_path: Path,
) -> None:
    """As uv: a constraint `dep @ URL` is where `dep` comes from should anything need it;
    an override `dep @ URL` replaces every requirement of `dep` (even `dep>=5`)."""
    index = make_index([wheelhouse.wheel("app", "1.0", requires=["dep"]),
                        wheelhouse.wheel("strict", "1.0", requires=["dep>=5"]),
                        wheelhouse.wheel("dep", "9.0")])
    local = tmp_path / "local"
    local.mkdir()
    dep = Path(shutil.copy(wheelhouse.wheel("dep", "1.0"), local))
    constraints = tmp_path / "constraints.txt"
    constraints.write_text(f"dep @ {dep.as_uri()}\nunused @ {dep.as_uri()}\n")
    venv = make_venv(run_wherry, tmp_path / "venv")
    result = run_wherry("pip", "install", "app", "-c", constraints, "--python", venv,
                        "--index-url", index.url)
    assert not result.ok and "unused" in result.stderr  # names another project: refused
    constraints.write_text(f"dep @ {dep.as_uri()}\n")
    result = run_wherry("pip", "install", "app", "-c", constraints, "--python", venv,
                        "--index-url", index.url)
    assert result.ok, result
    assert "+ dep==1.0" in result.stderr
    assert direct_url(venv, "dep-1.0") == {"url": dep.as_uri(), "archive_info": {}}

    overrides = tmp_path / "overrides.txt"
    overrides.write_text(f"dep @ {dep.as_uri()}\n")
    other = make_venv(run_wherry, tmp_path / "other")
    refused = run_wherry("pip", "install", "strict", "-c", constraints, "--python", other,
                         "--index-url", index.url)
    assert not refused.ok  # a constraint does not loosen `dep>=5`
    result = run_wherry("pip", "install", "strict", "--override", overrides, "--python", other,
                        "--index-url", index.url)
    assert result.ok, result
    assert "+ dep==1.0" in result.stderr and "+ strict==1.0" in result.stderr
