"""`wherry pip list|freeze|show|tree|check|uninstall` end to end, on real venvs.

Packages come from a loopback index; legacy layouts (`.egg-link`, `.egg-info`), editable
installs and broken environments are made by hand in site-packages.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from collections.abc import Sequence
from pathlib import Path

import pytest

import wherry
from tests.support import MakeIndex, Result, RunWherry
from tests.support.index_server import IndexServer
from tests.support.packages import Wheelhouse
from wherry.commands.uninstall import protected_packages
from wherry.install.site import scan_site_packages


@pytest.fixture
def venv(tmp_path: Path, run_wherry: RunWherry) -> Path:
    path = tmp_path / "envs" / "main"
    result = run_wherry("venv", path, "--python", sys.executable)
    assert result.ok, result
    return path


def site_packages(venv: Path) -> Path:
    return next(venv.glob("lib/python3.*/site-packages"))


@pytest.fixture
def index(make_index: MakeIndex, wheelhouse: Wheelhouse) -> IndexServer:
    return make_index([
        wheelhouse.wheel("alpha", "1.0", requires=["beta>=1"],
                         files={"alpha/__init__.py": "", "alpha/core.py": "X = 1\n"}),
        wheelhouse.wheel("alpha", "2.0", requires=["beta>=2"]),
        # Newer, but not installable here: outdated must not offer them.
        wheelhouse.wheel("alpha", "3.0", tag="cp39-cp39-win_amd64"),
        wheelhouse.wheel("alpha", "4.0a1"),
        wheelhouse.wheel("beta", "1.0"),
        wheelhouse.wheel("beta", "2.0"),
        wheelhouse.sdist("beta", "3.0"),
        wheelhouse.wheel("gamma", "1.0", requires=["beta", "delta; sys_platform == 'win32'",
                                                  "epsilon; extra == 'more'"],
                         extras={"more": ["epsilon"]}),
        wheelhouse.wheel("epsilon", "1.0"),
        wheelhouse.wheel("Zeta_Pkg", "1.0", requires=["gamma"]),
    ])


def install(run_wherry: RunWherry, venv: Path, index: IndexServer, *args: str) -> None:
    # `--no-build`: beta 3.0 is an sdist (for `list --outdated`); this index has no
    # build backend to build it with.
    result = run_wherry("pip", "install", *args, "--python", venv, "--index-url", index.url,
                        "--no-build")
    assert result.ok, result


def wherry_in(run_wherry: RunWherry, venv: Path, *args: str) -> Result:
    return run_wherry("pip", *args, "--python", venv)


def write_dist_info(site: Path, name: str, version: str, *, requires: Sequence[str] = (),
                    extra: str = "", files: dict[str, str] | None = None,
                    direct_url: dict[str, object] | None = None) -> Path:
    """A hand-made installed distribution, with a RECORD listing its files."""
    info = site / f"{name}-{version}.dist-info"
    info.mkdir()
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n{extra}"
    metadata += "".join(f"Requires-Dist: {r}\n" for r in requires)
    (info / "METADATA").write_text(metadata)
    record = [f"{info.name}/METADATA,,"]
    for rel, text in (files or {}).items():
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_text(text)
        record.append(f"{rel},,")
    if direct_url is not None:
        (info / "direct_url.json").write_text(json.dumps(direct_url))
    (info / "RECORD").write_text("\n".join([*record, f"{info.name}/RECORD,,"]) + "\n")
    return info


# -- list / freeze -------------------------------------------------------------------------


def test_list_outdated_offers_newest_compatible(
    run_wherry: RunWherry, venv: Path, index: IndexServer
) -> None:
    install(run_wherry, venv, index, "alpha==1.0", "beta==1.0", "epsilon")
    result = wherry_in(run_wherry, venv, "list", "--outdated", "--index-url", index.url)
    assert result.ok, result
    assert result.stdout.splitlines() == [
        "Package Version Latest Type",
        "------- ------- ------ -----",
        "alpha   1.0     2.0    wheel",
        "beta    1.0     3.0    sdist",
    ]
    as_json = wherry_in(run_wherry, venv, "list", "--outdated", "--format", "json",
                        "--index-url", index.url)
    assert json.loads(as_json.stdout) == [
        {"name": "alpha", "version": "1.0", "latest_version": "2.0", "latest_filetype": "wheel"},
        {"name": "beta", "version": "1.0", "latest_version": "3.0", "latest_filetype": "sdist"},
    ]
    frozen = wherry_in(run_wherry, venv, "list", "--outdated", "--format", "freeze",
                       "--index-url", index.url)
    assert frozen.returncode == 2 and "--outdated" in frozen.stderr, frozen
    install(run_wherry, venv, index, "--upgrade", "alpha")
    upgraded = wherry_in(run_wherry, venv, "list", "--outdated", "--index-url", index.url)
    assert upgraded.stdout.splitlines()[2:] == ["beta    2.0     3.0    sdist"], upgraded


def test_list_and_freeze_editable_filters(run_wherry: RunWherry, venv: Path, tmp_path: Path,
                                          index: IndexServer) -> None:
    install(run_wherry, venv, index, "beta==2.0")
    project = tmp_path / "my project"
    project.mkdir()
    write_dist_info(site_packages(venv), "My_Editable", "0.1",
                    direct_url={"url": project.as_uri(), "dir_info": {"editable": True}})
    listing = wherry_in(run_wherry, venv, "list")
    lines = listing.stdout.splitlines()
    assert lines[0] == "Package     Version Editable project location"
    assert lines[1] == "----------- ------- " + "-" * len(str(project))
    assert lines[2:] == ["beta        2.0", f"my-editable 0.1     {project}"]
    only = wherry_in(run_wherry, venv, "list", "-e", "--format", "json")
    assert json.loads(only.stdout) == [{"name": "my-editable", "version": "0.1",
                                        "editable_project_location": str(project)}]
    excluded = wherry_in(run_wherry, venv, "list", "--exclude-editable")
    assert excluded.stdout.splitlines() == ["Package Version", "------- -------", "beta    2.0"]
    assert wherry_in(run_wherry, venv, "freeze").stdout.splitlines() == [
        "beta==2.0", f"-e {project.as_uri()}"]
    assert wherry_in(run_wherry, venv, "freeze", "--exclude-editable").stdout == "beta==2.0\n"
    both = wherry_in(run_wherry, venv, "list", "-e", "--exclude-editable")
    assert both.returncode == 2, both


# -- show ----------------------------------------------------------------------------------


def test_show(run_wherry: RunWherry, venv: Path, index: IndexServer) -> None:
    install(run_wherry, venv, index, "alpha==1.0", "gamma")
    site = site_packages(venv)
    result = wherry_in(run_wherry, venv, "show", "Alpha", "beta")
    assert result.ok, result
    alpha, beta = result.stdout.split("---\n")
    assert alpha.splitlines() == [
        "Name: alpha", "Version: 1.0", "Summary: Test package alpha", "Home-page: ",
        "Author: ", "Author-email: ", "License: ", f"Location: {site}",
        "Requires: beta", "Required-by: ", "Installer: wherry",
    ]
    assert "Requires: \n" in beta and "Required-by: alpha, gamma\n" in beta
    # Markers are evaluated: no win32-only delta, no extra-only epsilon.
    gamma = wherry_in(run_wherry, venv, "show", "gamma", "--files")
    assert "Requires: beta\n" in gamma.stdout
    files = gamma.stdout.split("Files:\n", 1)[1].splitlines()
    assert "  gamma/__init__.py" in files and "  gamma-1.0.dist-info/METADATA" in files


def test_show_missing_package(run_wherry: RunWherry, venv: Path, index: IndexServer) -> None:
    install(run_wherry, venv, index, "beta==1.0")
    missing = wherry_in(run_wherry, venv, "show", "nothere")
    assert missing.returncode == 1, missing
    assert "warning: Package(s) not found: nothere" in missing.stderr
    assert missing.stdout == ""
    partly = wherry_in(run_wherry, venv, "show", "nothere", "beta")
    assert partly.ok, partly
    assert "Package(s) not found: nothere" in partly.stderr and "Name: beta" in partly.stdout


# -- tree ----------------------------------------------------------------------------------


def test_tree(run_wherry: RunWherry, venv: Path, index: IndexServer) -> None:
    install(run_wherry, venv, index, "alpha==1.0", "zeta-pkg", "epsilon")
    tree = wherry_in(run_wherry, venv, "tree")
    assert tree.ok, tree
    assert tree.stdout.splitlines() == [
        "alpha v1.0",
        "└── beta v2.0",
        "epsilon v1.0",
        "zeta-pkg v1.0",
        "└── gamma v1.0",
        "    └── beta v2.0",
    ]
    inverted = wherry_in(run_wherry, venv, "tree", "--invert")
    assert inverted.stdout.splitlines() == [
        "beta v2.0",
        "├── alpha v1.0",
        "└── gamma v1.0",
        "    └── zeta-pkg v1.0",
        "epsilon v1.0",
    ]
    shallow = wherry_in(run_wherry, venv, "tree", "--depth", "0")
    assert shallow.stdout.splitlines() == ["alpha v1.0", "epsilon v1.0", "zeta-pkg v1.0"]
    one = wherry_in(run_wherry, venv, "tree", "--package", "gamma", "--show-version-specifiers")
    assert one.stdout.splitlines() == ["gamma v1.0", "└── beta v2.0 [required: *]"]
    pruned = wherry_in(run_wherry, venv, "tree", "--prune", "gamma")
    assert pruned.stdout.splitlines() == [
        "alpha v1.0", "└── beta v2.0", "epsilon v1.0", "zeta-pkg v1.0"]
    who = wherry_in(run_wherry, venv, "tree", "--invert", "--package", "beta",
                    "--show-version-specifiers")
    assert who.stdout.splitlines()[:2] == ["beta v2.0", "├── alpha v1.0 [requires: >=1]"]


def test_tree_marks_repeated_subtrees(run_wherry: RunWherry, venv: Path) -> None:
    site = site_packages(venv)
    write_dist_info(site, "top", "1", requires=["left", "right"])
    write_dist_info(site, "left", "1", requires=["shared"])
    write_dist_info(site, "right", "1", requires=["shared"])
    write_dist_info(site, "shared", "1", requires=["leaf"])
    write_dist_info(site, "leaf", "1")
    # A cycle nothing else reaches is still shown.
    write_dist_info(site, "ping", "1", requires=["pong"])
    write_dist_info(site, "pong", "1", requires=["ping"])
    tree = wherry_in(run_wherry, venv, "tree")
    assert tree.stdout.splitlines() == [
        "top v1",
        "├── left v1",
        "│   └── shared v1",
        "│       └── leaf v1",
        "└── right v1",
        "    └── shared v1 (*)",
        "ping v1",
        "└── pong v1",
        "    └── ping v1",
        "(*) Package tree already displayed",
    ]


# -- check ---------------------------------------------------------------------------------


def test_check_clean(run_wherry: RunWherry, venv: Path, index: IndexServer) -> None:
    install(run_wherry, venv, index, "alpha==1.0", "gamma")
    result = wherry_in(run_wherry, venv, "check")
    assert result.ok, result
    assert "Checked 3 packages in " in result.stderr
    assert "All installed packages are compatible" in result.stderr
    assert result.stdout == ""


def test_check_broken_environment(run_wherry: RunWherry, venv: Path,
                                  index: IndexServer) -> None:
    install(run_wherry, venv, index, "--no-deps", "alpha==2.0", "gamma")
    missing = wherry_in(run_wherry, venv, "check")
    assert missing.returncode == 1, missing
    assert missing.stdout.splitlines() == [
        "alpha 2.0 requires beta, which is not installed.",
        "gamma 1.0 requires beta, which is not installed.",
    ]
    assert "Found 2 incompatibilities" in missing.stderr
    install(run_wherry, venv, index, "--no-deps", "beta==1.0")
    site = site_packages(venv)
    metadata = site / "gamma-1.0.dist-info" / "METADATA"
    metadata.write_text(metadata.read_text().replace(
        "Version: 1.0\n", "Version: 1.0\nRequires-Python: >=3.99\n", 1))
    write_dist_info(site, "beta", "7.0")  # a second installation of beta
    broken = wherry_in(run_wherry, venv, "check")
    assert broken.returncode == 1, broken
    lines = broken.stdout.splitlines()
    assert "alpha 2.0 has requirement beta>=2, but you have beta 1.0." in lines
    assert any(line.startswith("beta has 2 installed distributions: 1.0 (") for line in lines)
    python = ".".join(map(str, sys.version_info[:3]))
    assert f"gamma 1.0 requires Python >=3.99, but you have Python {python}" in lines


# -- uninstall -----------------------------------------------------------------------------


def test_uninstall_egg_link(run_wherry: RunWherry, venv: Path, tmp_path: Path) -> None:
    site = site_packages(venv)
    project = tmp_path / "legacy-project"
    info = project / "Legacy_Pkg.egg-info"
    info.mkdir(parents=True)
    (info / "PKG-INFO").write_text("Metadata-Version: 1.1\nName: Legacy-Pkg\nVersion: 0.3\n")
    (info / "requires.txt").write_text("missing-dep\n")
    (project / "legacy_pkg.py").write_text("")
    (site / "Legacy-Pkg.egg-link").write_text(f"{project}\n.")
    pth = site / "easy-install.pth"
    pth.write_text(f"/somewhere/else\n{project}\n")
    listing = wherry_in(run_wherry, venv, "list", "--format", "json")
    assert json.loads(listing.stdout) == [{"name": "legacy-pkg", "version": "0.3",
                                           "editable_project_location": str(project)}]
    assert "legacy-pkg 0.3 requires missing-dep" in wherry_in(run_wherry, venv, "check").stdout
    dry = wherry_in(run_wherry, venv, "uninstall", "legacy_pkg", "--dry-run")
    assert dry.ok and "Would uninstall 1 package" in dry.stderr, dry
    assert (site / "Legacy-Pkg.egg-link").exists()
    result = wherry_in(run_wherry, venv, "uninstall", "legacy_pkg")
    assert result.ok, result
    assert " - legacy-pkg==0.3" in result.stderr
    assert not (site / "Legacy-Pkg.egg-link").exists()
    assert pth.read_text() == "/somewhere/else\n"
    assert (project / "legacy_pkg.py").exists() and info.is_dir()  # the user's project stays
    assert wherry_in(run_wherry, venv, "list").stdout == ""


def test_uninstall_egg_info(run_wherry: RunWherry, venv: Path) -> None:
    site = site_packages(venv)
    info = site / "old_pkg-1.0-py3.11.egg-info"
    info.mkdir()
    (info / "PKG-INFO").write_text("Metadata-Version: 1.1\nName: old-pkg\nVersion: 1.0\n")
    (info / "top_level.txt").write_text("old_pkg\n")
    (site / "old_pkg").mkdir()
    (site / "old_pkg" / "__init__.py").write_text("")
    (site / "old_pkg_helper.py").write_text("")  # not the package: must stay
    assert wherry_in(run_wherry, venv, "freeze").stdout == "old-pkg==1.0\n"
    result = wherry_in(run_wherry, venv, "uninstall", "old-pkg")
    assert result.ok, result
    assert not info.exists() and not (site / "old_pkg").exists()
    assert (site / "old_pkg_helper.py").exists()


def test_protected_packages_decision(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    write_dist_info(site, "wherry", "0.1", requires=["dep-a", "win-only; sys_platform == 'x'"])
    write_dist_info(site, "dep_a", "1", requires=["dep-b"])
    write_dist_info(site, "dep-b", "1")
    write_dist_info(site, "win-only", "1")
    write_dist_info(site, "other", "1")
    found = scan_site_packages([site])
    markers = {"sys_platform": "linux"}
    names = ["Dep_B", "other", "win-only", "wherry"]
    assert protected_packages(str(tmp_path), found, markers, names,
                              running_prefix=str(tmp_path)) == ["dep-b", "wherry"]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert protected_packages(str(tmp_path), found, markers, names,
                              running_prefix=str(elsewhere)) == []


def test_uninstall_refuses_wherrys_own_dependencies(
    run_wherry: RunWherry, venv: Path, index: IndexServer
) -> None:
    """Run wherry *from* a throwaway venv (its `sys.prefix`), never from the dev venv."""
    install(run_wherry, venv, index, "beta==2.0", "epsilon")
    site = site_packages(venv)
    write_dist_info(site, "wherry", "0.0.1", requires=["beta"])
    source = str(Path(wherry.__file__).resolve().parents[1])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([source, sysconfig.get_paths()["purelib"]]))

    def from_venv(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(venv / "bin" / "python"), "-m", "wherry", "pip", *args,
                               "--python", str(venv)], capture_output=True, text=True,
                              env=env, timeout=120, check=False)

    before = sorted(p.name for p in site.iterdir())
    refused = from_venv("uninstall", "beta", "epsilon")
    assert refused.returncode == 1, refused
    assert "refusing to uninstall beta" in refused.stderr
    assert "--force" in refused.stderr
    assert sorted(p.name for p in site.iterdir()) == before
    # Another environment is not protected, and --force overrides.
    assert from_venv("uninstall", "epsilon", "--dry-run").returncode == 0
    forced = from_venv("uninstall", "beta", "--force")
    assert forced.returncode == 0, forced
    assert not (site / "beta-2.0.dist-info").exists()
