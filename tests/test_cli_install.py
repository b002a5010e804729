"""`wherry pip install|uninstall|list|freeze` end to end: a real venv, a real index server.

Every failure case checks three things: a non-zero exit, a one-paragraph error with no
traceback, and an environment left exactly as it was.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.support import MakeIndex, Result, RunWherry
from tests.support.environments import make_venv, site_packages, tree_state
from tests.support.index_server import IndexServer
from tests.support.packages import Wheelhouse


@pytest.fixture
def venv(tmp_path: Path, run_wherry: RunWherry) -> Path:
    return make_venv(run_wherry, tmp_path / "envs" / "main")






def assert_clean_error(result: Result, *phrases: str, code: int = 1) -> None:
    assert result.returncode == code, result
    assert "Traceback" not in result.stderr, result
    assert ("\n" + result.stderr).count("\nerror: ") == 1, result
    for phrase in phrases:
        assert phrase in result.stderr, result


@pytest.fixture
def universe(wheelhouse: Wheelhouse) -> list[Path]:
    return [
        wheelhouse.wheel("alpha", "1.0", requires=["beta>=1"],
                         entry_points={"console_scripts": {"alpha-cli": "alpha:main"}},
                         files={"alpha/__init__.py": "def main():\n    print('alpha says hi')\n"}),
        wheelhouse.wheel("alpha", "2.0", requires=["beta>=2"]),
        wheelhouse.wheel("beta", "1.0"),
        wheelhouse.wheel("beta", "2.0"),
        wheelhouse.wheel("gamma", "1.0", requires=["beta", "delta; sys_platform == 'win32'",
                                                  "epsilon; extra == 'more'"]),
        wheelhouse.wheel("epsilon", "1.0"),
        wheelhouse.wheel("native", "1.0", tag="cp39-cp39-win_amd64"),
        wheelhouse.wheel("broken", "1.0", corrupt="bad-record-hash"),
        wheelhouse.wheel("truncated", "1.0", corrupt="not-a-zip"),
    ]


@pytest.fixture
def index(make_index: MakeIndex, universe: list[Path]) -> IndexServer:
    return make_index(universe)


def install(run_wherry: RunWherry, venv: Path, index: IndexServer, *args: str) -> Result:
    return run_wherry("pip", "install", *args, "--python", venv, "--index-url", index.url)


def freeze(run_wherry: RunWherry, venv: Path) -> list[str]:
    result = run_wherry("pip", "freeze", "--python", venv)
    assert result.ok, result
    return result.stdout.splitlines()


def test_install_resolves_links_and_records(
    run_wherry: RunWherry, venv: Path, index: IndexServer
) -> None:
    result = install(run_wherry, venv, index, "alpha<2")
    assert result.ok, result
    assert "Resolved 2 packages in " in result.stderr
    assert "Installed 2 packages in " in result.stderr
    assert " + alpha==1.0" in result.stderr and " + beta==2.0" in result.stderr
    assert freeze(run_wherry, venv) == ["alpha==1.0", "beta==2.0"]
    site = site_packages(venv)
    dist_info = site / "alpha-1.0.dist-info"
    assert (dist_info / "INSTALLER").read_text() == "wherry\n"
    assert (dist_info / "REQUESTED").exists()
    assert not (site / "beta-2.0.dist-info" / "REQUESTED").exists()
    record = (dist_info / "RECORD").read_text()
    assert "alpha/__init__.py,sha256=" in record and "../../../bin/alpha-cli" in record
    # Hard-linked from the unpacked-wheel cache, not copied.
    assert (site / "alpha" / "__init__.py").stat().st_nlink >= 2
    script = venv / "bin" / "alpha-cli"
    out = subprocess.run([str(script)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "alpha says hi"
    listing = run_wherry("pip", "list", "--python", venv)
    assert listing.stdout.splitlines()[2:] == ["alpha   1.0", "beta    2.0"]
    as_json = run_wherry("pip", "list", "--format", "json", "--python", venv)
    assert json.loads(as_json.stdout) == [{"name": "alpha", "version": "1.0"},
                                          {"name": "beta", "version": "2.0"}]


def test_already_satisfied_is_audited_without_the_index(
    run_wherry: RunWherry, venv: Path, index: IndexServer
) -> None:
    assert install(run_wherry, venv, index, "alpha==1.0").ok
    index.reset_log()
    again = install(run_wherry, venv, index, "alpha")
    assert again.ok, again
    assert "Audited 2 packages" in again.stderr
    assert index.requests == []


def test_upgrade_replaces_old_versions(
    run_wherry: RunWherry, venv: Path, index: IndexServer
) -> None:
    assert install(run_wherry, venv, index, "alpha==1.0", "beta==1.0").ok
    kept = install(run_wherry, venv, index, "alpha")
    assert "Audited" in kept.stderr
    result = install(run_wherry, venv, index, "-U", "alpha")
    assert result.ok, result
    assert " - alpha==1.0" in result.stderr and " + alpha==2.0" in result.stderr
    assert " - beta==1.0" in result.stderr and " + beta==2.0" in result.stderr
    assert freeze(run_wherry, venv) == ["alpha==2.0", "beta==2.0"]
    assert not (venv / "bin" / "alpha-cli").exists()


def test_markers_extras_and_html_only_index(
    run_wherry: RunWherry, venv: Path, make_index: MakeIndex, universe: list[Path]
) -> None:
    html_index = make_index(universe, json=False)
    result = install(run_wherry, venv, html_index, "gamma[more]")
    assert result.ok, result
    assert freeze(run_wherry, venv) == ["beta==2.0", "epsilon==1.0", "gamma==1.0"]
    assert any("text/html" in (r.headers.get("accept") or "") for r in html_index.requests)


def test_requirements_and_constraints_files(
    run_wherry: RunWherry, venv: Path, index: IndexServer, tmp_path: Path
) -> None:
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("beta<2  # keep the old one\n")
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(
        f"# a comment\nalpha \\\n  <2\n-c {constraints.name}\n--index-url {index.url}\n"
    )
    result = run_wherry("pip", "install", "-r", requirements, "--python", venv)
    assert result.ok, result
    assert freeze(run_wherry, venv) == ["alpha==1.0", "beta==1.0"]


def test_dry_run_and_no_deps(run_wherry: RunWherry, venv: Path, index: IndexServer) -> None:
    before = tree_state(venv)
    dry = install(run_wherry, venv, index, "alpha", "--dry-run")
    assert dry.ok, dry
    assert "Would install 2 packages" in dry.stderr and " + alpha==2.0" in dry.stderr
    assert tree_state(venv) == before
    result = install(run_wherry, venv, index, "alpha", "--no-deps")
    assert result.ok, result
    assert freeze(run_wherry, venv) == ["alpha==2.0"]


def test_find_links_without_index(
    run_wherry: RunWherry, venv: Path, universe: list[Path], tmp_path: Path
) -> None:
    links = tmp_path / "links"
    links.mkdir()
    for wheel in universe[:4]:
        os.link(wheel, links / wheel.name)
    result = run_wherry("pip", "install", "alpha", "--python", venv, "--no-index",
                        "--find-links", links)
    assert result.ok, result
    assert freeze(run_wherry, venv) == ["alpha==2.0", "beta==2.0"]


def test_environment_discovery(
    run_wherry: RunWherry, venv: Path, index: IndexServer, tmp_path: Path
) -> None:
    nested = tmp_path / "project" / "src"
    nested.mkdir(parents=True)
    os.symlink(venv, tmp_path / "project" / ".venv")
    result = run_wherry("pip", "install", "beta", "--index-url", index.url, cwd=nested)
    assert result.ok, result
    by_env = run_wherry("pip", "freeze", env={"VIRTUAL_ENV": str(venv)}, cwd=tmp_path)
    assert by_env.stdout.splitlines() == ["beta==2.0"]
    missing = run_wherry("pip", "install", "beta", "--index-url", index.url, cwd=tmp_path)
    assert_clean_error(missing, "no virtual environment found", "wherry venv")


def test_uninstall(run_wherry: RunWherry, venv: Path, index: IndexServer) -> None:
    before = tree_state(venv)
    assert install(run_wherry, venv, index, "alpha==1.0").ok
    result = run_wherry("pip", "uninstall", "alpha", "beta", "nothere", "--python", venv)
    assert result.ok, result
    assert "Uninstalled 2 packages" in result.stderr
    assert " - alpha==1.0" in result.stderr
    assert "Skipping nothere as it is not installed" in result.stderr
    assert tree_state(venv) == before
    assert freeze(run_wherry, venv) == []


@pytest.mark.parametrize(
    ("requirement", "phrases", "code"),
    [
        ("does-not-exist", ["no solution found", "`does-not-exist` was not found"], 1),
        ("alpha>=3", ["no solution found", "alpha"], 1),
        ("native", ["no wheel compatible", "cp311-cp311"], 1),
        ("alpha>=>1", ["invalid requirement `alpha>=>1`"], 2),
        ("broken", ["broken-1.0-py3-none-any.whl"], 1),
        ("truncated", ["truncated-1.0-py3-none-any.whl"], 1),
    ],
)
def test_bad_input_leaves_environment_unchanged(
    run_wherry: RunWherry, venv: Path, index: IndexServer,
    requirement: str, phrases: list[str], code: int,
) -> None:
    assert install(run_wherry, venv, index, "beta==1.0").ok
    before = tree_state(venv)
    result = install(run_wherry, venv, index, requirement, "beta==2.0")
    assert_clean_error(result, *phrases, code=code)
    assert tree_state(venv) == before


def test_index_errors(run_wherry: RunWherry, venv: Path, make_index: MakeIndex,
                      universe: list[Path]) -> None:
    before = tree_state(venv)
    failing = make_index(universe, fail={"/simple/beta/": 500})
    result = install(run_wherry, venv, failing, "alpha")
    assert_clean_error(result, "500", "/simple/beta/")
    assert tree_state(venv) == before
    missing_file = make_index(universe, fail={"/files/beta-2.0-py3-none-any.whl": 404})
    result = install(run_wherry, venv, missing_file, "alpha")
    assert_clean_error(result, "404", "beta-2.0-py3-none-any.whl")
    assert tree_state(venv) == before
    dead = run_wherry("pip", "install", "alpha", "--python", venv,
                      "--index-url", "http://127.0.0.1:9/simple")
    assert_clean_error(dead, "127.0.0.1:9")
    assert tree_state(venv) == before


def test_missing_interpreter(run_wherry: RunWherry, tmp_path: Path) -> None:
    result = run_wherry("pip", "install", "alpha", "--python", "3.99")
    assert_clean_error(result, "no interpreter found for Python 3.99")
    result = run_wherry("pip", "list", "--python", tmp_path / "nope" / "python")
    assert_clean_error(result, "does not exist")


def test_failed_install_rolls_back(
    run_wherry: RunWherry, venv: Path, index: IndexServer, make_index: MakeIndex,
    wheelhouse: Wheelhouse,
) -> None:
    assert install(run_wherry, venv, index, "alpha==1.0", "beta==1.0").ok
    # A directory where the new wheel wants a file makes the install fail half-way,
    # after alpha 1.0 was moved aside and alpha 2.0 linked in.
    (site_packages(venv) / "zeta.py").mkdir()
    before = tree_state(venv)
    zeta = wheelhouse.wheel("zeta", "1.0", files={"zeta.py": "x = 1\n"})
    both = make_index([*index.files_dir.iterdir(), zeta])
    result = install(run_wherry, venv, both, "alpha==2.0", "zeta")
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr
    assert tree_state(venv) == before
    assert freeze(run_wherry, venv) == ["alpha==1.0", "beta==1.0"]


@pytest.mark.network
def test_install_from_default_index(run_wherry: RunWherry, venv: Path) -> None:
    result = run_wherry("pip", "install", "six", "--python", venv)
    assert result.ok, result
    out = subprocess.run([str(venv / "bin" / "python"), "-c", "import six; print(six.__name__)"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "six"


def test_big_wheels_unpack_in_worker_processes(
    run_wherry: RunWherry, venv: Path, make_index: MakeIndex, wheelhouse: Wheelhouse
) -> None:
    import random

    blob = random.Random(0).randbytes(5 * 1024 * 1024)  # incompressible: a >4 MiB wheel
    good = wheelhouse.wheel("bigone", "1.0", files={"bigone/__init__.py": "",
                                                    "bigone/blob.bin": blob})
    bad = wheelhouse.wheel("bigbad", "1.0", files={"bigbad/__init__.py": "",
                                                   "bigbad/blob.bin": blob},
                           corrupt="bad-record-hash")
    index = make_index([good, bad])
    result = install(run_wherry, venv, index, "bigone", "-v")
    assert result.ok, result
    assert (site_packages(venv) / "bigone" / "blob.bin").read_bytes() == blob
    before = tree_state(venv)
    failed = install(run_wherry, venv, index, "bigbad")
    assert_clean_error(failed, "bigbad-1.0-py3-none-any.whl", "hint:")
    assert tree_state(venv) == before
