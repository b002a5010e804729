"""Source builds end to end: sdists from the test index built by real backends.

The backends (setuptools, hatchling, flit-core) are served by the test index like any
other package (tests/support/backends.py fetches their wheels once per machine), so
these tests run offline. A tiny in-tree backend (`backend-path`) covers what real
backends make slow or hard to observe: config settings, hook counts, failures, and
two processes building one sdist at once.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import MakeIndex, RunWherry
from tests.support.environments import make_venv, site_packages
from tests.support.packages import SdistBackend, Wheelhouse

IN_TREE_BACKEND = '''\
"""A minimal PEP 517 backend: writes a pure wheel by hand, records each hook call."""
import base64, hashlib, json, os, sys, time, zipfile

NAME, VERSION = "intree", "1.0"

def _log(hook):
    path = os.environ.get("INTREE_LOG")
    if path:
        with open(path, "a") as handle:
            handle.write(hook + "\\n")

def get_requires_for_build_wheel(config_settings=None):
    _log("get_requires_for_build_wheel")
    needs = (config_settings or {}).get("needs")
    return [needs] if needs else []

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    _log("build_wheel")
    settings = config_settings or {}
    if settings.get("fail"):
        print("intree: the compiler exploded", file=sys.stderr)
        raise RuntimeError("asked to fail")
    time.sleep(float(os.environ.get("INTREE_SLEEP", "0")))
    if settings.get("needs"):
        __import__(settings["needs"])  # installed from get_requires_for_build_wheel
    dist = NAME + "-" + VERSION
    files = {
        NAME + "/__init__.py": "CONFIG = " + repr(json.dumps(settings, sort_keys=True)) + "\\n",
        dist + ".dist-info/METADATA": "Metadata-Version: 2.1\\nName: " + NAME
            + "\\nVersion: " + VERSION + "\\n\\n",
        dist + ".dist-info/WHEEL": "Wheel-Version: 1.0\\nGenerator: intree\\n"
            "Root-Is-Purelib: true\\nTag: py3-none-any\\n",
    }
    rows = []
    filename = dist + "-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w") as archive:
        for path, text in files.items():
            data = text.encode()
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            rows.append(path + ",sha256=" + digest.decode() + "," + str(len(data)))
            archive.writestr(path, data)
        rows.append(dist + ".dist-info/RECORD,,")
        archive.writestr(dist + ".dist-info/RECORD", "\\n".join(rows) + "\\n")
    return filename
'''

IN_TREE_PYPROJECT = '''\
[build-system]
requires = []
build-backend = "intree_backend"
backend-path = ["backend"]
'''


def in_tree_sdist(wheelhouse: Wheelhouse) -> Path:
    return wheelhouse.sdist("intree", "1.0", files={
        "pyproject.toml": IN_TREE_PYPROJECT,
        "backend/intree_backend.py": IN_TREE_BACKEND,
    })


def installed_wheel_tag(venv: Path, dist: str) -> str:
    text = (site_packages(venv) / f"{dist}.dist-info" / "WHEEL").read_text()
    return next(line.split(":", 1)[1].strip() for line in text.splitlines()
                if line.startswith("Tag:"))


def run_python(venv: Path, code: str) -> str:
    done = subprocess.run([str(venv / "bin" / "python"), "-c", code],
                          capture_output=True, text=True, check=True)
    return done.stdout.strip()


def built_wheels(cache: Path) -> list[Path]:
    return sorted((cache / "built-v1").rglob("*.whl")) if (cache / "built-v1").is_dir() else []


@pytest.mark.parametrize("backend", ["setuptools", "hatchling", "flit"])
def test_sdist_from_the_index_is_built_and_installed(
    backend: SdistBackend, run_wherry: RunWherry, make_index: MakeIndex, wheelhouse: Wheelhouse,
    backends: list[Path], tmp_path: Path,
) -> None:
    name = f"pure-{backend}"
    index = make_index([*backends, wheelhouse.sdist(name, "1.0", backend=backend)])
    venv = make_venv(run_wherry, tmp_path / "venv")
    result = run_wherry("pip", "install", name, "--python", venv, "--index-url", index.url)
    assert result.ok, result
    assert f"+ {name}==1.0" in result.stderr
    module = name.replace("-", "_")
    assert run_python(venv, f"import {module}; print({module}.__version__)") == "1.0"
    assert installed_wheel_tag(venv, f"{module}-1.0").endswith("-none-any")
    # The build environment is gone, and its requirements were not installed in the target.
    assert not any(p.name.startswith(("setuptools", "hatchling", "flit"))
                   for p in site_packages(venv).iterdir())


def test_c_extension_is_compiled_and_the_build_is_reused(
    run_wherry: RunWherry, make_index: MakeIndex, wheelhouse: Wheelhouse,
    backends: list[Path], tmp_path: Path,
) -> None:
    index = make_index([*backends, wheelhouse.sdist("cfast", "1.0", c_extension=True)])
    venv = make_venv(run_wherry, tmp_path / "one")
    result = run_wherry("pip", "install", "cfast", "--python", venv, "--index-url", index.url,
                        "-v")
    assert result.ok, result
    assert "Calling build_wheel" in result.stderr
    # At -v the backend's output streams, each line labelled with the build.
    assert "[cfast==1.0] " in result.stderr
    # One build environment serves metadata and build, and get_requires is asked once.
    assert result.stderr.count("Creating a build environment") == 1
    assert result.stderr.count("Calling get_requires_for_build_wheel") == 1
    assert run_python(venv, "import cfast._speedups as s; print(s.answer())") == "42"
    assert installed_wheel_tag(venv, "cfast-1.0").endswith("-linux_x86_64")
    # A second environment: no hook runs at all (metadata and wheel from the cache).
    other = make_venv(run_wherry, tmp_path / "two")
    again = run_wherry("pip", "install", "cfast", "--python", other, "--index-url", index.url,
                       "-v")
    assert again.ok, again
    assert "Calling " not in again.stderr, again.stderr
    assert "Using the cached build of cfast==1.0" in again.stderr
    assert run_python(other, "import cfast._speedups as s; print(s.answer())") == "42"


def test_in_tree_backend_gets_config_settings(
    run_wherry: RunWherry, make_index: MakeIndex, wheelhouse: Wheelhouse, tmp_path: Path,
) -> None:
    index = make_index([in_tree_sdist(wheelhouse)])
    log = tmp_path / "hooks.log"
    venv = make_venv(run_wherry, tmp_path / "venv")
    result = run_wherry("pip", "install", "intree", "--python", venv, "--index-url", index.url,
                        "-C", "mode=fast", "-C", "flag=a", "-C", "flag=b",
                        env={"INTREE_LOG": str(log)})
    assert result.ok, result
    config = json.loads(run_python(venv, "import intree; print(intree.CONFIG)"))
    assert config == {"mode": "fast", "flag": ["a", "b"]}
    # No prepare_metadata hook: the metadata came from one build, whose wheel was kept.
    assert log.read_text().splitlines().count("build_wheel") == 1
    # Other settings are another build (the cache key holds them).
    other = make_venv(run_wherry, tmp_path / "other")
    again = run_wherry("pip", "install", "intree", "--python", other, "--index-url",
                       index.url, env={"INTREE_LOG": str(log)})
    assert again.ok, again
    assert json.loads(run_python(other, "import intree; print(intree.CONFIG)")) == {}
    assert log.read_text().splitlines().count("build_wheel") == 2


def test_failed_build_shows_the_hook_and_output_and_leaves_nothing(
    run_wherry: RunWherry, make_index: MakeIndex, wheelhouse: Wheelhouse, tmp_path: Path,
) -> None:
    index = make_index([in_tree_sdist(wheelhouse),
                        wheelhouse.wheel("helper", "1.0")])
    venv = make_venv(run_wherry, tmp_path / "venv")
    before = sorted(p.name for p in site_packages(venv).iterdir())
    result = run_wherry("pip", "install", "intree", "helper", "--python", venv,
                        "--index-url", index.url, "-C", "fail=1")
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr.split("backend output")[0]
    assert "`build_wheel` hook" in result.stderr
    assert "intree==1.0" in result.stderr
    assert "the compiler exploded" in result.stderr
    assert "hint:" in result.stderr
    assert sorted(p.name for p in site_packages(venv).iterdir()) == before
    cache = Path(os.environ["WHERRY_CACHE_DIR"])
    assert built_wheels(cache) == []


def test_setuptools_failure_in_metadata_hook(
    run_wherry: RunWherry, make_index: MakeIndex, wheelhouse: Wheelhouse,
    backends: list[Path], tmp_path: Path,
) -> None:
    sdist = wheelhouse.sdist("broken", "1.0", files={
        "setup.py": "raise SystemExit('broken: this package cannot be built here')\n"})
    index = make_index([*backends, sdist])
    venv = make_venv(run_wherry, tmp_path / "venv")
    result = run_wherry("pip", "install", "broken", "--python", venv, "--index-url", index.url)
    assert result.returncode == 1, result
    assert "hook of `setuptools.build_meta` failed" in result.stderr
    assert "broken: this package cannot be built here" in result.stderr
    assert not list(site_packages(venv).glob("broken*"))


def test_static_pkg_info_needs_no_backend_for_metadata(
    run_wherry: RunWherry, make_index: MakeIndex, wheelhouse: Wheelhouse, tmp_path: Path,
) -> None:
    pkg_info = "Metadata-Version: 2.2\nName: intree\nVersion: 1.0\nRequires-Dist: helper\n\n"
    sdist = wheelhouse.sdist("intree", "1.0", files={
        "pyproject.toml": IN_TREE_PYPROJECT, "backend/intree_backend.py": IN_TREE_BACKEND,
        "PKG-INFO": pkg_info})
    index = make_index([sdist, wheelhouse.wheel("helper", "1.0")])
    result = run_wherry("pip", "install", "intree", "--dry-run", "--python",
                        make_venv(run_wherry, tmp_path / "venv"), "--index-url", index.url,
                        "-v")
    assert result.ok, result
    assert "Using the static metadata of intree==1.0" in result.stderr
    assert "Calling " not in result.stderr
    assert "+ helper==1.0" in result.stderr


def test_legacy_setup_py_project_without_pyproject(
    run_wherry: RunWherry, make_index: MakeIndex, wheelhouse: Wheelhouse,
    backends: list[Path], tmp_path: Path,
) -> None:
    sdist = wheelhouse.sdist("oldstyle", "2.0", files={
        "pyproject.toml": "",
        "setup.py": "from setuptools import setup\n"
                    "setup(name='oldstyle', version='2.0', packages=['oldstyle'])\n"})
    index = make_index([*backends, sdist])
    venv = make_venv(run_wherry, tmp_path / "venv")
    result = run_wherry("pip", "install", "oldstyle", "--python", venv, "--index-url",
                        index.url, "-v")
    assert result.ok, result
    assert "setuptools.build_meta:__legacy__" in result.stderr
    assert "+ oldstyle==2.0" in result.stderr


def test_concurrent_processes_build_one_sdist_once(
    make_index: MakeIndex, wheelhouse: Wheelhouse, run_wherry: RunWherry, tmp_path: Path,
) -> None:
    index = make_index([in_tree_sdist(wheelhouse)])
    log = tmp_path / "hooks.log"
    venvs = [make_venv(run_wherry, tmp_path / f"venv{i}") for i in range(2)]
    env = {**os.environ, "INTREE_LOG": str(log), "INTREE_SLEEP": "1"}
    processes = [
        subprocess.Popen([sys.executable, "-m", "wherry", "pip", "install", "intree",
                          "--python", str(venv), "--index-url", index.url],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for venv in venvs
    ]
    for process in processes:
        _out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
    assert log.read_text().splitlines().count("build_wheel") == 1
    for venv in venvs:
        assert run_python(venv, "import intree; print(intree.CONFIG)") == "{}"


def test_binary_policy_is_applied_while_choosing(
    run_wherry: RunWherry, make_index: MakeIndex, wheelhouse: Wheelhouse,
    backends: list[Path], tmp_path: Path,
) -> None:
    index = make_index([
        *backends,
        in_tree_sdist(wheelhouse),
        wheelhouse.wheel("helper", "2.0"),
        wheelhouse.sdist("helper", "1.0"),
    ])
    venv = make_venv(run_wherry, tmp_path / "venv")

    def install(*args: str) -> str:
        result = run_wherry("pip", "install", "--dry-run", "--python", venv, "--index-url",
                            index.url, *args)
        assert result.returncode != 0 or "Would install" in result.stderr, result
        return result.stderr if result.returncode else "ok: " + result.stderr

    for flags in (["--no-build"], ["--only-binary", ":all:"], ["--only-binary", "intree"]):
        text = install("intree", *flags)
        assert text.startswith("error"), text
        assert "source distribution" in text and "--only-binary/--no-build" in text, text
    # --no-binary: the wheel of helper 2.0 is invisible, so 1.0 (an sdist) is chosen.
    assert "+ helper==1.0" in install("helper", "--no-binary", "helper")
    assert "+ helper==2.0" in install("helper", "--no-binary", ":all:",
                                      "--only-binary", "helper")
    text = install("helper==2.0", "--no-binary", ":all:")
    assert "--no-binary" in text, text


def test_no_build_isolation_uses_the_target_environment(
    run_wherry: RunWherry, make_index: MakeIndex, wheelhouse: Wheelhouse,
    backends: list[Path], tmp_path: Path,
) -> None:
    index = make_index([*backends, wheelhouse.sdist("noiso", "1.0", backend="flit")])
    venv = make_venv(run_wherry, tmp_path / "venv")
    failed = run_wherry("pip", "install", "noiso", "--python", venv, "--index-url", index.url,
                        "--no-build-isolation-package", "NoIso")
    assert failed.returncode == 1, failed
    assert "flit_core.buildapi" in failed.stderr and "cannot be imported" in failed.stderr
    assert run_wherry("pip", "install", "flit-core", "--python", venv, "--index-url",
                      index.url).ok
    result = run_wherry("pip", "install", "noiso", "--python", venv, "--index-url", index.url,
                        "--no-build-isolation")
    assert result.ok, result
    assert "+ noiso==1.0" in result.stderr

    def reinstall() -> str:
        assert run_wherry("pip", "uninstall", "noiso", "--python", venv).ok
        # Not the request above, whose stored resolution (commands/stored_resolution.py)
        # would install the same built wheel without asking the built-wheel cache.
        again = run_wherry("pip", "install", "noiso==1.0", "--python", venv, "--index-url",
                           index.url, "--no-build-isolation", "-v")
        assert again.ok, again
        return again.stderr

    # The same environment: the build is reused (its own install does not count)...
    assert "Using the cached build of noiso==1.0" in reinstall()
    # ...but not once the packages the build could see have changed.
    assert run_wherry("pip", "install", "packaging", "--python", venv, "--index-url",
                      index.url).ok
    assert "Calling build_wheel" in reinstall()


def test_wherry_concurrent_builds_must_be_a_positive_number(
    run_wherry: RunWherry, make_index: MakeIndex, wheelhouse: Wheelhouse, tmp_path: Path,
) -> None:
    index = make_index([in_tree_sdist(wheelhouse)])
    venv = make_venv(run_wherry, tmp_path / "venv")
    result = run_wherry("pip", "install", "intree", "--python", venv, "--index-url",
                        index.url, env={"WHERRY_CONCURRENT_BUILDS": "zero"})
    assert result.returncode == 2, result
    assert "WHERRY_CONCURRENT_BUILDS" in result.stderr
    ok = run_wherry("pip", "install", "intree", "--python", venv, "--index-url", index.url,
                    env={"WHERRY_CONCURRENT_BUILDS": "1"})
    assert ok.ok, ok


def test_build_constraints_apply_to_build_environments_only(
    run_wherry: RunWherry, make_index: MakeIndex, wheelhouse: Wheelhouse,
    backends: list[Path], tmp_path: Path,
) -> None:
    index = make_index([*backends, wheelhouse.sdist("constrained", "1.0")])
    venv = make_venv(run_wherry, tmp_path / "venv")
    old = tmp_path / "old-setuptools.txt"
    old.write_text("setuptools<60\n")
    failed = run_wherry("pip", "install", "constrained", "--python", venv, "--index-url",
                        index.url, "--build-constraint", old)
    assert failed.returncode == 1, failed
    assert "build dependencies of constrained==1.0" in failed.stderr
    assert "setuptools" in failed.stderr
    # `-c` constrains the target environment only, never a build environment (uv).
    result = run_wherry("pip", "install", "constrained", "--python", venv, "--index-url",
                        index.url, "-c", old)
    assert result.ok, result
    assert "+ constrained==1.0" in result.stderr


def test_cyclic_build_dependency_is_an_error(
    run_wherry: RunWherry, make_index: MakeIndex, wheelhouse: Wheelhouse, tmp_path: Path,
) -> None:
    sdist = wheelhouse.sdist("selfish", "1.0", files={
        "pyproject.toml": '[build-system]\nrequires = ["selfish"]\n'
                          'build-backend = "selfish_backend"\n'})
    outer = wheelhouse.sdist("outer", "1.0", files={
        "pyproject.toml": '[build-system]\nrequires = ["selfish"]\n'
                          'build-backend = "outer_backend"\n'})
    index = make_index([sdist, outer])
    venv = make_venv(run_wherry, tmp_path / "venv")
    result = run_wherry("pip", "install", "selfish", "--python", venv, "--index-url",
                        index.url, timeout=60)
    assert result.returncode == 1, result
    assert "cyclic build dependency: selfish==1.0 -> selfish" in result.stderr
    # A cycle one level down: found, not a hang on the environment being made.
    result = run_wherry("pip", "install", "outer", "--python", venv, "--index-url",
                        index.url, timeout=60)
    assert result.returncode == 1, result
    assert "cyclic build dependency: outer==1.0 -> selfish==1.0 -> selfish" in result.stderr


def test_binary_options_in_a_requirements_file(
    run_wherry: RunWherry, make_index: MakeIndex, wheelhouse: Wheelhouse, tmp_path: Path,
) -> None:
    index = make_index([in_tree_sdist(wheelhouse)])
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("--only-binary :all:\nintree\n")
    venv = make_venv(run_wherry, tmp_path / "venv")
    result = run_wherry("pip", "install", "-r", requirements, "--python", venv,
                        "--index-url", index.url)
    assert result.returncode == 1, result
    assert "--only-binary/--no-build" in result.stderr
    requirements.write_text("--only-binary :all:\n--no-binary intree\nintree\n")
    result = run_wherry("pip", "install", "-r", requirements, "--python", venv,
                        "--index-url", index.url)
    assert result.ok, result


def test_reinstall_package_rebuilds_once(
    run_wherry: RunWherry, make_index: MakeIndex, wheelhouse: Wheelhouse, tmp_path: Path,
) -> None:
    index = make_index([in_tree_sdist(wheelhouse)])
    log = tmp_path / "hooks.log"
    venv = make_venv(run_wherry, tmp_path / "venv")

    def install(*args: str) -> None:
        result = run_wherry("pip", "install", "intree", "--python", venv, "--index-url",
                            index.url, *args, env={"INTREE_LOG": str(log)})
        assert result.ok, result

    install()
    install("--reinstall-package", "intree")
    assert log.read_text().splitlines().count("build_wheel") == 2
    install("--reinstall-package", "other")
    venv = make_venv(run_wherry, tmp_path / "second")
    install()
    assert log.read_text().splitlines().count("build_wheel") == 2


def test_get_requires_for_build_wheel_adds_to_the_build_environment(
    run_wherry: RunWherry, make_index: MakeIndex, wheelhouse: Wheelhouse, tmp_path: Path,
) -> None:
    index = make_index([in_tree_sdist(wheelhouse), wheelhouse.wheel("buildhelper", "1.0")])
    venv = make_venv(run_wherry, tmp_path / "venv")
    result = run_wherry("pip", "install", "intree", "--python", venv, "--index-url",
                        index.url, "-C", "needs=buildhelper", "-v")
    assert result.ok, result
    assert "also needs buildhelper to build" in result.stderr
    # Needed by the build only: not installed into the target.
    assert not list(site_packages(venv).glob("buildhelper*"))


def test_a_relative_cache_dir_works_for_builds(
    run_wherry: RunWherry, make_index: MakeIndex, wheelhouse: Wheelhouse,
    backends: list[Path], tmp_path: Path,
) -> None:
    """Build hooks run in the project's directory and built wheels become file URLs: a
    relative `--cache-dir` is made absolute first."""
    index = make_index([*backends, wheelhouse.sdist("relcache", "1.0")])
    venv = make_venv(run_wherry, tmp_path / "venv")
    result = run_wherry("pip", "install", "relcache", "--python", venv, "--index-url",
                        index.url, "--cache-dir", "rel-cache", cwd=tmp_path)
    assert result.ok, result
    assert "+ relcache==1.0" in result.stderr
    assert any((tmp_path / "rel-cache").iterdir())


def _static_in_tree_sdist(wheelhouse: Wheelhouse, *requires: str) -> Path:
    """The in-tree sdist with static metadata (PKG-INFO 2.2): its resolution builds
    nothing, so the install's build of it can start ahead."""
    pkg_info = "Metadata-Version: 2.2\nName: intree\nVersion: 1.0\n" + "".join(
        f"Requires-Dist: {r}\n" for r in requires) + "\n"
    return wheelhouse.sdist("intree", "1.0", files={
        "pyproject.toml": IN_TREE_PYPROJECT, "backend/intree_backend.py": IN_TREE_BACKEND,
        "PKG-INFO": pkg_info})


def test_builds_start_ahead_of_the_install_and_run_once(
    run_wherry: RunWherry, make_index: MakeIndex, wheelhouse: Wheelhouse, tmp_path: Path,
) -> None:
    """An sdist whose metadata is static starts building as soon as the resolution has
    read it (before the resolution ends), and the install takes that build: one
    `build_wheel`, its wheel installed. A failing build fails the install as it would
    have then: its hook and output named, nothing installed or cached, built once."""
    index = make_index([_static_in_tree_sdist(wheelhouse, "helper"),
                        wheelhouse.wheel("helper", "1.0")])
    log = tmp_path / "hooks.log"
    venv = make_venv(run_wherry, tmp_path / "venv")
    before = sorted(p.name for p in site_packages(venv).iterdir())
    result = run_wherry("pip", "install", "intree", "--python", venv, "--index-url",
                        index.url, "-v", "-C", "fail=1", env={"INTREE_LOG": str(log)})
    assert result.returncode == 1, result
    assert "Building intree==1.0 ahead of the install" in result.stderr
    assert "`build_wheel` hook" in result.stderr and "the compiler exploded" in result.stderr
    # (-v streams the backend's own traceback, each line prefixed with its source)
    assert not any(line.startswith("Traceback") for line in result.stderr.splitlines())
    assert sorted(p.name for p in site_packages(venv).iterdir()) == before
    assert built_wheels(Path(os.environ["WHERRY_CACHE_DIR"])) == []
    assert log.read_text().splitlines().count("build_wheel") == 1
    log.unlink()
    result = run_wherry("pip", "install", "intree", "--python", venv, "--index-url",
                        index.url, "-v", env={"INTREE_LOG": str(log)})
    assert result.ok, result
    ahead = result.stderr.index("Building intree==1.0 ahead of the install")
    assert ahead < result.stderr.index("Resolved 2 packages"), result
    assert "+ intree==1.0" in result.stderr and "+ helper==1.0" in result.stderr
    assert log.read_text().splitlines().count("build_wheel") == 1
    assert run_python(venv, "import intree; print(intree.CONFIG)") == "{}"


def test_a_failed_resolution_waits_for_the_builds_it_started(
    run_wherry: RunWherry, make_index: MakeIndex, wheelhouse: Wheelhouse, tmp_path: Path,
) -> None:
    """The resolution fails after a build ahead started: the error is the resolution's,
    the build is finished (not abandoned mid-way: its wheel is a valid cache entry keyed
    by the sdist) and no backend outlives the command."""
    index = make_index([_static_in_tree_sdist(wheelhouse, "missing-dependency")])
    log = tmp_path / "hooks.log"
    venv = make_venv(run_wherry, tmp_path / "venv")
    result = run_wherry("pip", "install", "intree", "--python", venv, "--index-url",
                        index.url, "-v", env={"INTREE_LOG": str(log), "INTREE_SLEEP": "1"})
    assert result.returncode == 1, result
    assert "missing-dependency" in result.stderr and "Traceback" not in result.stderr
    assert "Building intree==1.0 ahead of the install" in result.stderr
    assert log.read_text().splitlines().count("build_wheel") == 1
    assert [p.name for p in built_wheels(Path(os.environ["WHERRY_CACHE_DIR"]))] == [
        "intree-1.0-py3-none-any.whl"]
    assert not list(site_packages(venv).glob("intree*"))


def test_two_builds_needing_each_other_fail_as_a_cycle_not_a_hang(
    run_wherry: RunWherry, make_index: MakeIndex, wheelhouse: Wheelhouse, tmp_path: Path,
) -> None:
    """`ay` builds with `bee`, `bee` with `ay`, both with static metadata: their builds
    start ahead side by side, each holding its own lock and soon needing the other's.
    That is reported as a cyclic build dependency (build/waits.py), never waited out."""
    sdists = [
        wheelhouse.sdist(name, "1.0", files={
            "pyproject.toml": f'[build-system]\nrequires = ["{other}"]\n'
                              f'build-backend = "{name}_backend"\n',
            "PKG-INFO": f"Metadata-Version: 2.2\nName: {name}\nVersion: 1.0\n\n"})
        for name, other in (("ay", "bee"), ("bee", "ay"))]
    index = make_index(sdists)
    venv = make_venv(run_wherry, tmp_path / "venv")
    for _ in range(3):  # which chain meets the other first varies from run to run
        result = run_wherry("pip", "install", "ay", "bee", "--python", venv, "--index-url",
                            index.url, timeout=60)
        assert result.returncode == 1, result
        assert re.search(r"cyclic build dependency: (ay|bee)==1\.0 -> .*(ay|bee)",
                         result.stderr), result
        assert not list(site_packages(venv).glob("ay*"))
