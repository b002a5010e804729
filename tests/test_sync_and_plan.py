"""The install plan (`--reinstall*`, `-P`, extraneous packages) and `wherry pip sync`, end to
end: a real venv made by `wherry venv`, a real loopback index."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import MakeIndex, Result, RunWherry
from tests.support.environments import make_venv, site_packages, tree_state
from tests.support.index_server import IndexServer
from tests.support.packages import Wheelhouse


@pytest.fixture
def venv(tmp_path: Path, run_wherry: RunWherry) -> Path:
    return make_venv(run_wherry, tmp_path / "envs" / "main")


@pytest.fixture
def index(make_index: MakeIndex, wheelhouse: Wheelhouse) -> IndexServer:
    return make_index([
        wheelhouse.wheel("alpha", "1.0", requires=["beta>=1"]),
        wheelhouse.wheel("alpha", "2.0", requires=["beta>=2"]),
        wheelhouse.wheel("beta", "1.0"),
        wheelhouse.wheel("beta", "2.0"),
        wheelhouse.wheel("gamma", "1.0", requires=["beta"]),
        wheelhouse.wheel("solo", "1.0"),
        wheelhouse.wheel("pip", "99.0", files={"pip/__init__.py": "# a stand-in\n"}),
        wheelhouse.wheel("cracked", "1.0", corrupt="bad-record-hash"),
    ])






def install(run_wherry: RunWherry, venv: Path, index: IndexServer, *args: str) -> Result:
    return run_wherry("pip", "install", *args, "--python", venv, "--index-url", index.url)


def sync(run_wherry: RunWherry, venv: Path, index: IndexServer, *args: str | Path) -> Result:
    return run_wherry("pip", "sync", *args, "--python", venv, "--index-url", index.url)


def freeze(run_wherry: RunWherry, venv: Path) -> list[str]:
    result = run_wherry("pip", "freeze", "--python", venv)
    assert result.ok, result
    return result.stdout.splitlines()


def lines(result: Result) -> set[str]:
    return set(result.stderr.splitlines())


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# -- install: --reinstall, --reinstall-package, -P, extraneous ----------------------------

def test_reinstall_everything_even_when_audited(
    run_wherry: RunWherry, venv: Path, index: IndexServer
) -> None:
    assert install(run_wherry, venv, index, "alpha==1.0").ok
    audited = install(run_wherry, venv, index, "alpha")
    assert "Audited 2 packages" in audited.stderr, audited  # a no-op verdict is stored now
    site = site_packages(venv)
    (site / "alpha" / "__init__.py").unlink()  # damage: the verdict does not see this
    record = site / "alpha-1.0.dist-info" / "RECORD"
    before = record.stat().st_ino

    result = install(run_wherry, venv, index, "alpha", "--reinstall")
    assert result.ok, result
    assert "Audited" not in result.stderr
    assert "Uninstalled 2 packages" in result.stderr
    assert "Installed 2 packages" in result.stderr
    assert {" - alpha==1.0", " + alpha==1.0", " - beta==2.0", " + beta==2.0"} <= lines(result)
    out = result.stderr
    assert out.index(" - alpha==1.0") < out.index(" + alpha==1.0") < out.index(" - beta==2.0")
    assert (site / "alpha" / "__init__.py").is_file()
    assert record.stat().st_ino != before
    assert freeze(run_wherry, venv) == ["alpha==1.0", "beta==2.0"]


def test_reinstall_package_touches_only_that_package(
    run_wherry: RunWherry, venv: Path, index: IndexServer
) -> None:
    assert install(run_wherry, venv, index, "alpha==1.0").ok
    site = site_packages(venv)
    alpha_record = (site / "alpha-1.0.dist-info" / "RECORD").stat().st_ino
    beta_record = (site / "beta-2.0.dist-info" / "RECORD").stat().st_ino

    result = install(run_wherry, venv, index, "alpha", "--reinstall-package", "BETA")
    assert result.ok, result
    assert {" - beta==2.0", " + beta==2.0"} <= lines(result)
    assert "alpha==" not in result.stderr
    assert "Installed 1 package " in result.stderr
    assert (site / "alpha-1.0.dist-info" / "RECORD").stat().st_ino == alpha_record
    assert (site / "beta-2.0.dist-info" / "RECORD").stat().st_ino != beta_record


def test_upgrade_package_upgrades_only_the_named_one(
    run_wherry: RunWherry, venv: Path, index: IndexServer
) -> None:
    assert install(run_wherry, venv, index, "alpha==1.0", "beta==1.0").ok
    assert "Audited" in install(run_wherry, venv, index, "alpha").stderr

    result = install(run_wherry, venv, index, "alpha", "-P", "beta")
    assert result.ok, result
    assert "Audited 2" not in result.stderr
    assert {" - beta==1.0", " + beta==2.0"} <= lines(result)
    assert "alpha==" not in result.stderr
    assert freeze(run_wherry, venv) == ["alpha==1.0", "beta==2.0"]

    both = install(run_wherry, venv, index, "alpha", "--upgrade-package", "alpha")
    assert both.ok, both
    assert {" - alpha==1.0", " + alpha==2.0"} <= lines(both)
    assert freeze(run_wherry, venv) == ["alpha==2.0", "beta==2.0"]


def test_unnecessary_packages_are_kept_and_reported_at_verbose(
    run_wherry: RunWherry, venv: Path, index: IndexServer
) -> None:
    assert install(run_wherry, venv, index, "solo").ok
    result = install(run_wherry, venv, index, "beta==1.0", "-v")
    assert result.ok, result
    assert "Unnecessary package: solo==1.0" in result.stderr
    assert "solo==1.0" not in lines(result) and " - solo==1.0" not in result.stderr
    assert freeze(run_wherry, venv) == ["beta==1.0", "solo==1.0"]
    quiet = install(run_wherry, venv, index, "beta==2.0")
    assert "Unnecessary package" not in quiet.stderr


def test_noop_verdict_never_answers_reinstall_or_upgrade_package() -> None:
    from wherry.commands import noop
    from wherry.commands.install import InstallOptions

    assert noop.applicable(InstallOptions(requirements=["x"]))
    assert not noop.applicable(InstallOptions(requirements=["x"], reinstall=True))
    assert not noop.applicable(InstallOptions(requirements=["x"], reinstall_packages=["x"]))
    assert not noop.applicable(InstallOptions(requirements=["x"], upgrade_packages=["X_y"]))
    options = InstallOptions(reinstall_packages=["Foo.Bar"], upgrade_packages=["A_b"])
    assert options.reinstalls("foo-bar") and not options.reinstalls("a-b")
    assert options.upgrades("a-b") and not options.upgrades("foo-bar")
    assert options.network.refreshes("foo-bar") and not options.network.refreshes("a-b")


# -- sync -----------------------------------------------------------------------------------

def test_sync_installs_and_removes_exactly_without_dependencies(
    run_wherry: RunWherry, venv: Path, index: IndexServer, tmp_path: Path
) -> None:
    assert install(run_wherry, venv, index, "solo").ok
    first = write(tmp_path / "first.txt", "alpha==1.0\ngamma==1.0  # no beta: not resolved\n")
    result = sync(run_wherry, venv, index, first)
    assert result.ok, result
    assert "Resolved 2 packages" in result.stderr
    assert "Uninstalled 1 package " in result.stderr
    assert "Installed 2 packages" in result.stderr
    assert {" - solo==1.0", " + alpha==1.0", " + gamma==1.0"} <= lines(result)
    assert freeze(run_wherry, venv) == ["alpha==1.0", "gamma==1.0"]

    # Same list again: nothing to do, answered from site-packages alone.
    index.reset_log()
    again = sync(run_wherry, venv, index, first)
    assert again.ok, again
    assert "Audited 2 packages" in again.stderr
    assert index.requests == []

    # Another version of one, an unpinned one (newest), one dropped; two files.
    second = write(tmp_path / "second.txt", "alpha==2.0\n")
    third = write(tmp_path / "third.txt", "beta\n")
    result = sync(run_wherry, venv, index, second, third)
    assert result.ok, result
    assert {" - alpha==1.0", " + alpha==2.0", " - gamma==1.0", " + beta==2.0"} <= lines(result)
    assert "Uninstalled 2 packages" in result.stderr
    assert freeze(run_wherry, venv) == ["alpha==2.0", "beta==2.0"]
    assert (site_packages(venv) / "alpha-2.0.dist-info" / "REQUESTED").exists()


def test_sync_reinstall(
    run_wherry: RunWherry, venv: Path, index: IndexServer, tmp_path: Path
) -> None:
    listed = write(tmp_path / "requirements.txt", "solo==1.0\nbeta==1.0\n")
    assert sync(run_wherry, venv, index, listed).ok
    result = sync(run_wherry, venv, index, listed, "--reinstall-package", "solo")
    assert result.ok, result
    assert {" - solo==1.0", " + solo==1.0"} <= lines(result)
    assert "beta==" not in result.stderr
    assert freeze(run_wherry, venv) == ["beta==1.0", "solo==1.0"]


def _set_pyvenv(venv: Path, *, seed: bool, ours: bool) -> None:
    cfg = venv / "pyvenv.cfg"
    kept = [line for line in cfg.read_text().splitlines()
            if not line.startswith("seed") and (ours or not line.startswith("wherry"))]
    cfg.write_text("\n".join(kept + (["seed = true"] if seed else [])) + "\n")


@pytest.mark.parametrize(
    ("seed", "ours", "kept"),
    [(False, True, False), (True, True, True), (False, False, True)],
    ids=["wherry-venv-without-seed", "wherry-venv-with-seed", "foreign-venv"],
)
def test_sync_seed_packages(
    run_wherry: RunWherry, venv: Path, index: IndexServer, tmp_path: Path,
    seed: bool, ours: bool, kept: bool,
) -> None:
    _set_pyvenv(venv, seed=seed, ours=ours)
    assert install(run_wherry, venv, index, "pip==99.0", "solo").ok
    result = sync(run_wherry, venv, index, write(tmp_path / "r.txt", "beta==1.0\n"))
    assert result.ok, result
    assert " - solo==1.0" in result.stderr
    assert (" - pip==99.0" in result.stderr) is not kept
    expected = ["beta==1.0", "pip==99.0"] if kept else ["beta==1.0"]
    assert freeze(run_wherry, venv) == expected


def test_sync_empty_file(
    run_wherry: RunWherry, venv: Path, index: IndexServer, tmp_path: Path
) -> None:
    assert install(run_wherry, venv, index, "solo").ok
    before = tree_state(venv)
    empty = write(tmp_path / "empty.txt", "# nothing here\n\n")
    result = sync(run_wherry, venv, index, empty)
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    assert "no requirements found" in result.stderr
    assert "--allow-empty-requirements" in result.stderr
    assert tree_state(venv) == before

    cleared = sync(run_wherry, venv, index, empty, "--allow-empty-requirements")
    assert cleared.ok, cleared
    assert "Resolved 0 packages" in cleared.stderr
    assert " - solo==1.0" in cleared.stderr
    assert freeze(run_wherry, venv) == []


def test_sync_dry_run_changes_nothing(
    run_wherry: RunWherry, venv: Path, index: IndexServer, tmp_path: Path
) -> None:
    assert install(run_wherry, venv, index, "solo").ok
    before = tree_state(venv)
    result = sync(run_wherry, venv, index, write(tmp_path / "r.txt", "alpha==1.0\n"),
                  "--dry-run")
    assert result.ok, result
    assert "Would uninstall 1 package" in result.stderr
    assert "Would install 1 package" in result.stderr
    assert {" - solo==1.0", " + alpha==1.0"} <= lines(result)
    assert tree_state(venv) == before


def test_failing_sync_leaves_environment_unchanged(
    run_wherry: RunWherry, venv: Path, index: IndexServer, tmp_path: Path
) -> None:
    assert install(run_wherry, venv, index, "solo", "beta==1.0").ok
    before = tree_state(venv)
    result = sync(run_wherry, venv, index,
                  write(tmp_path / "r.txt", "beta==2.0\nalpha==1.0\ncracked==1.0\n"))
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr
    assert "cracked-1.0-py3-none-any.whl" in result.stderr
    assert tree_state(venv) == before
    assert freeze(run_wherry, venv) == ["beta==1.0", "solo==1.0"]


def test_sync_into_a_target_directory(
    run_wherry: RunWherry, venv: Path, index: IndexServer, tmp_path: Path
) -> None:
    target = tmp_path / "target"
    requirements = write(tmp_path / "reqs.txt", "beta==1.0\n")
    result = run_wherry("pip", "sync", requirements, "--python", venv, "--index-url", index.url,
                        "--target", target)
    assert result.ok, result
    assert (target / "beta" / "__init__.py").is_file()
    assert freeze(run_wherry, venv) == []
