"""Tests of the test infrastructure itself: package factory, isolation, CLI runner.

Every other test trusts these helpers, so they are checked against independent
implementations: wheels against the reference `installer` package, sdists against the
real build backends, the environment against what the autouse fixture promises.
"""

from __future__ import annotations

import csv
import email.parser
import importlib.util
import io
import os
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from installer import install
from installer.destinations import SchemeDictionaryDestination
from installer.exceptions import InstallerError
from installer.sources import WheelFile
from packaging.utils import parse_sdist_filename, parse_wheel_filename
from pyproject_hooks import BuildBackendHookCaller

from tests.support import RunWherry
from tests.support import packages as packages_module
from tests.support.packages import (
    SDIST_BACKENDS,
    SdistBackend,
    Wheelhouse,
    build_sdist,
    build_wheel,
    sha256_of,
    wheel_metadata,
)

SCHEMES = ("purelib", "platlib", "headers", "scripts", "data")


def _zip_contents(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _parse_metadata(raw: bytes) -> email.message.Message:
    return email.parser.BytesParser().parsebytes(raw)


def _install(wheel: Path, root: Path) -> dict[str, Path]:
    """Install `wheel` with the reference installer into a fresh scheme under `root`."""
    scheme = {name: root / name for name in SCHEMES}
    destination = SchemeDictionaryDestination(
        {k: str(v) for k, v in scheme.items()},
        interpreter=sys.executable,
        script_kind="posix",
    )
    with WheelFile.open(wheel) as source:
        source.validate_record()
        install(source, destination, additional_metadata={"INSTALLER": b"wherry-tests\n"})
    return scheme


# --------------------------------------------------------------------------- wheels


def test_wheel_filename_is_escaped_and_parses(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path, "Foo.Bar-baz", "1.0.0-rc1")
    assert wheel.name == "foo_bar_baz-1.0.0rc1-py3-none-any.whl"
    name, version, _, tags = parse_wheel_filename(wheel.name)
    assert (name, str(version)) == ("foo-bar-baz", "1.0.0rc1")
    assert {str(t) for t in tags} == {"py3-none-any"}
    assert "foo_bar_baz-1.0.0rc1.dist-info/METADATA" in _zip_contents(wheel)


def test_wheel_is_deterministic_and_memoised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real = packages_module._wheel_bytes

    def counting(name: str, version: str, **kwargs: object) -> bytes:
        calls.append(name)
        return real(name, version, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(packages_module, "_wheel_bytes", counting)
    first = build_wheel(tmp_path / "a", "memo-probe", "1.0", requires=["x", "y>1"])
    second = build_wheel(tmp_path / "b", "memo-probe", "1.0", requires=["x", "y>1"])
    assert first.read_bytes() == second.read_bytes()
    assert sha256_of(first) == sha256_of(second)
    assert calls == ["memo-probe"]
    third = build_wheel(tmp_path / "c", "memo-probe", "1.0", requires=["x"])
    assert calls == ["memo-probe", "memo-probe"]
    assert sha256_of(third) != sha256_of(first)
    # With the memo emptied, a rebuild still gives identical bytes: the zip is deterministic.
    monkeypatch.setattr(packages_module, "_memo", {})
    rebuilt = build_wheel(tmp_path / "d", "memo-probe", "1.0", requires=["x", "y>1"])
    assert calls == ["memo-probe"] * 3
    assert rebuilt.read_bytes() == first.read_bytes()


def test_wheel_metadata_fields(tmp_path: Path) -> None:
    wheel = build_wheel(
        tmp_path,
        "Meta-Pkg",
        "2.0",
        requires=["attrs>=20", 'colorama; sys_platform == "win32"'],
        requires_python=">=3.8,<4",
        extras={"socks": ["PySocks>=1.5"], "win": ['pywin32; os_name == "nt"']},
        metadata_version="2.3",
        extra_metadata=[("License", "MIT"), ("Project-URL", "Home, http://example.invalid")],
    )
    raw = wheel_metadata(wheel)
    assert raw == _zip_contents(wheel)["meta_pkg-2.0.dist-info/METADATA"]
    meta = _parse_metadata(raw)
    assert meta["Metadata-Version"] == "2.3"
    assert meta["Name"] == "Meta-Pkg"
    assert meta["Version"] == "2.0"
    assert meta["Requires-Python"] == ">=3.8,<4"
    assert meta["License"] == "MIT"
    assert meta.get_all("Provides-Extra") == ["socks", "win"]
    assert meta.get_all("Requires-Dist") == [
        "attrs>=20",
        'colorama; sys_platform == "win32"',
        'PySocks>=1.5; extra == "socks"',
        'pywin32; (os_name == "nt") and extra == "win"',
    ]


@pytest.mark.parametrize(
    ("tag", "expected_tags", "purelib"),
    [
        ("py2.py3-none-any", ["py2-none-any", "py3-none-any"], "true"),
        (
            "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64",
            ["cp311-cp311-manylinux_2_17_x86_64", "cp311-cp311-manylinux2014_x86_64"],
            "false",
        ),
        ("py3-none-win_amd64", ["py3-none-win_amd64"], "false"),
    ],
)
def test_wheel_file_tags_and_purelib(
    tmp_path: Path, tag: str, expected_tags: list[str], purelib: str
) -> None:
    wheel = build_wheel(tmp_path, "tagged", "1.0", tag=tag)
    assert wheel.name == f"tagged-1.0-{tag}.whl"
    wheel_file = _parse_metadata(_zip_contents(wheel)["tagged-1.0.dist-info/WHEEL"])
    assert wheel_file["Wheel-Version"] == "1.0"
    assert wheel_file["Root-Is-Purelib"] == purelib
    assert wheel_file.get_all("Tag") == expected_tags


def test_root_is_purelib_override(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path, "forced", "1.0", root_is_purelib=False)
    assert b"Root-Is-Purelib: false" in _zip_contents(wheel)["forced-1.0.dist-info/WHEEL"]


def test_record_lists_every_file_with_correct_hash(tmp_path: Path) -> None:
    wheel = build_wheel(
        tmp_path,
        "recorded",
        "1.0",
        files={"recorded/__init__.py": "", "recorded/data.bin": bytes(range(256))},
        entry_points={"console_scripts": {"rec": "recorded:main"}},
        data={"data": {"share/recorded.txt": "hello"}, "headers": {"recorded.h": "int x;"}},
    )
    contents = _zip_contents(wheel)
    record_name = "recorded-1.0.dist-info/RECORD"
    rows = list(csv.reader(io.StringIO(contents[record_name].decode())))
    assert {row[0] for row in rows} == set(contents)
    for path, digest, size in rows:
        if path == record_name:
            assert (digest, size) == ("", "")
            continue
        assert digest == packages_module._record_hash(contents[path])
        assert "=" not in digest.removeprefix("sha256=")
        assert int(size) == len(contents[path])
    assert list(contents)[-1] == record_name


def test_installer_installs_wheel(tmp_path: Path) -> None:
    wheel = build_wheel(
        tmp_path / "dist",
        "Hello-World",
        "3.1",
        files={
            "hello_world/__init__.py": "def main() -> None:\n    print('hi from hello')\n",
            "hello_world/res.txt": "resource",
        },
        entry_points={"console_scripts": {"hello": "hello_world:main"}},
        data={
            "scripts": {"hello-raw": "#!python\nprint('raw')\n"},
            "data": {"share/hello/readme.txt": "data file"},
            "headers": {"hello.h": "/* header */"},
        },
    )
    scheme = _install(wheel, tmp_path / "root")
    purelib = scheme["purelib"]
    assert (purelib / "hello_world" / "res.txt").read_text() == "resource"
    assert (scheme["data"] / "share/hello/readme.txt").read_text() == "data file"
    assert (scheme["headers"] / "hello.h").exists()
    raw_script = scheme["scripts"] / "hello-raw"
    assert raw_script.read_text().startswith(f"#!{sys.executable}")
    assert os.access(raw_script, os.X_OK)
    assert os.access(scheme["scripts"] / "hello", os.X_OK)
    dist_info = purelib / "hello_world-3.1.dist-info"
    assert (dist_info / "INSTALLER").read_text() == "wherry-tests\n"
    installed_record = (dist_info / "RECORD").read_text()
    assert "hello_world/__init__.py,sha256=" in installed_record
    # The installed console script really runs the package.
    out = subprocess.run(
        [str(scheme["scripts"] / "hello")],
        env={**os.environ, "PYTHONPATH": str(purelib)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout == "hi from hello\n"


def test_default_package_has_version(tmp_path: Path) -> None:
    scheme = _install(build_wheel(tmp_path / "dist", "Dotted.Name", "0.5"), tmp_path / "root")
    init = scheme["purelib"] / "dotted_name" / "__init__.py"
    assert '__version__ = "0.5"' in init.read_text()


def test_platlib_wheel_goes_to_platlib(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "dist", "native", "1.0", tag="cp311-cp311-linux_x86_64")
    scheme = _install(wheel, tmp_path / "root")
    assert (scheme["platlib"] / "native" / "__init__.py").exists()
    assert not scheme["purelib"].exists()


@pytest.mark.parametrize("corrupt", ["truncate", "not-a-zip"])
def test_corrupt_archives_are_not_zips(tmp_path: Path, corrupt: str) -> None:
    wheel = build_wheel(tmp_path, "broken", "1.0", corrupt=corrupt)  # type: ignore[arg-type]
    assert wheel.name == "broken-1.0-py3-none-any.whl"
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(wheel)


def test_bad_record_hash_is_rejected_by_installer(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "dist", "badhash", "1.0", corrupt="bad-record-hash")
    zipfile.ZipFile(wheel).testzip()  # the archive itself is fine
    with pytest.raises(InstallerError, match=r"badhash/__init__\.py"):
        _install(wheel, tmp_path / "root")


def test_missing_metadata(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path, "nometa", "1.0", corrupt="missing-metadata")
    assert "nometa-1.0.dist-info/METADATA" not in _zip_contents(wheel)
    with pytest.raises(KeyError):
        wheel_metadata(wheel)
    with WheelFile.open(wheel) as source:
        source.validate_record()  # RECORD stays consistent: only METADATA is missing


def test_unknown_data_scheme_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="scheme"):
        build_wheel(tmp_path, "bad", "1.0", data={"lib": {"x": "y"}})


# --------------------------------------------------------------------------- sdists


@pytest.mark.parametrize("backend", SDIST_BACKENDS)
def test_sdist_layout(tmp_path: Path, backend: SdistBackend) -> None:
    sdist = build_sdist(
        tmp_path, "My.Lib", "1.2", backend=backend, requires=["six>=1"], requires_python=">=3.8"
    )
    assert sdist.name == "my_lib-1.2.tar.gz"
    assert tuple(map(str, parse_sdist_filename(sdist.name))) == ("my-lib", "1.2")
    with tarfile.open(sdist) as tar:
        names = tar.getnames()
        assert all(n.startswith("my_lib-1.2/") for n in names)
        pkg_info = tar.extractfile("my_lib-1.2/PKG-INFO")
        pyproject = tar.extractfile("my_lib-1.2/pyproject.toml")
        assert pkg_info is not None and pyproject is not None
        meta = _parse_metadata(pkg_info.read())
        toml = pyproject.read().decode()
    assert "my_lib-1.2/my_lib/__init__.py" in names
    assert (meta["Name"], meta["Version"], meta["Requires-Dist"]) == ("My.Lib", "1.2", "six>=1")
    assert meta["Requires-Python"] == ">=3.8"
    backend_module = {
        "setuptools": "setuptools.build_meta",
        "hatchling": "hatchling.build",
        "flit": "flit_core.buildapi",
    }[backend]
    assert f'build-backend = "{backend_module}"' in toml
    again = build_sdist(
        tmp_path / "again",
        "My.Lib",
        "1.2",
        backend=backend,
        requires=["six>=1"],
        requires_python=">=3.8",
    )
    assert sha256_of(again) == sha256_of(sdist)


def test_c_extension_needs_setuptools(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="setuptools"):
        build_sdist(tmp_path, "cext", "1.0", backend="hatchling", c_extension=True)


def _setuptools_builds_wheels() -> bool:
    """setuptools < 70.1 needs the separate `wheel` package for bdist_wheel.

    Asked of the installed metadata, not by importing setuptools here: importing it in
    the test process after anything loaded the stdlib's distutils breaks its shim.
    """
    from importlib.metadata import PackageNotFoundError, version

    from packaging.version import Version

    try:
        if Version(version("setuptools")) >= Version("70.1"):
            return True
    except PackageNotFoundError:
        return False
    return importlib.util.find_spec("wheel") is not None


def _build_with_backend(sdist: Path, work: Path) -> Path:
    """Unpack `sdist` and call its backend's `build_wheel` hook, without isolation."""
    with tarfile.open(sdist) as tar:
        tar.extractall(work / "src", filter="data")
    (source,) = (work / "src").iterdir()
    found = re.search(r'^build-backend = "(.+)"$', (source / "pyproject.toml").read_text(), re.M)
    assert found is not None
    hooks = BuildBackendHookCaller(str(source), found.group(1))
    out = work / "out"
    out.mkdir()
    return out / hooks.build_wheel(str(out))


@pytest.mark.slow
@pytest.mark.parametrize("backend", SDIST_BACKENDS)
def test_sdist_builds_with_backend(tmp_path: Path, backend: SdistBackend) -> None:
    if backend == "setuptools" and not _setuptools_builds_wheels():
        pytest.skip("this setuptools cannot build wheels (needs >= 70.1 or `wheel`)")
    sdist = build_sdist(tmp_path, "Built-Pkg", "4.5", backend=backend, requires=["idna"])
    wheel = _build_with_backend(sdist, tmp_path)
    name, version, _, tags = parse_wheel_filename(wheel.name)
    assert (name, str(version)) == ("built-pkg", "4.5")
    assert "py3-none-any" in {str(t) for t in tags}  # some backends add py2 too
    meta = _parse_metadata(wheel_metadata(wheel))
    assert meta.get_all("Requires-Dist") == ["idna"]
    scheme = _install(wheel, tmp_path / "root")
    assert '__version__ = "4.5"' in (scheme["purelib"] / "built_pkg/__init__.py").read_text()


@pytest.mark.slow
def test_sdist_c_extension_compiles(tmp_path: Path) -> None:
    if not _setuptools_builds_wheels():
        pytest.skip("this setuptools cannot build wheels (needs >= 70.1 or `wheel`)")
    sdist = build_sdist(tmp_path, "cext", "1.0", c_extension=True)
    wheel = _build_with_backend(sdist, tmp_path)
    _, _, _, tags = parse_wheel_filename(wheel.name)
    assert all(t.abi != "none" and t.platform != "any" for t in tags)
    scheme = _install(wheel, tmp_path / "root")
    out = subprocess.run(
        [sys.executable, "-c", "from cext._speedups import answer; print(answer())"],
        env={**os.environ, "PYTHONPATH": str(scheme["platlib"])},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout == "42\n"


# ------------------------------------------------------------------ wheelhouse


def test_wheelhouse_separates_same_filename(wheelhouse: Wheelhouse) -> None:
    plain = wheelhouse.wheel("twin", "1.0")
    with_dep = wheelhouse.wheel("twin", "1.0", requires=["dep"])
    assert plain.name == with_dep.name
    assert plain.parent != with_dep.parent
    assert wheelhouse.wheel("twin", "1.0") == plain
    assert plain.is_relative_to(wheelhouse.root)
    sdist = wheelhouse.sdist("twin", "1.0", backend="flit")
    assert sdist.name == "twin-1.0.tar.gz"


# --------------------------------------------------------------- isolation, runner


def test_environment_is_isolated() -> None:
    assert os.environ["PIP_CONFIG_FILE"] == os.devnull
    allowed = {"PIP_CONFIG_FILE", "WHERRY_CACHE_DIR"}
    leaked = [
        k for k in os.environ if k.startswith(("PIP_", "WHERRY_", "UV_")) and k not in allowed
    ]
    assert leaked == []
    for name in ("VIRTUAL_ENV", "CONDA_PREFIX", "PYTHONPATH"):
        assert name not in os.environ
    home = Path(os.environ["HOME"])
    assert home.is_dir() and list(home.iterdir()) == []
    assert Path("~").expanduser() == home
    for name in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "WHERRY_CACHE_DIR"):
        path = Path(os.environ[name])
        assert path.is_dir() and not path.is_relative_to(home)
    assert os.environ["PYENV_ROOT"] and not Path(os.environ["PYENV_ROOT"]).is_relative_to(home)


_FAKE_MAIN = """\
import json, os, sys
print(json.dumps({"argv": sys.argv[1:], "cwd": os.getcwd(), "stdin": sys.stdin.read(),
                  "flag": os.environ.get("WHERRY_TEST_FLAG"),
                  "config": os.environ.get("PIP_CONFIG_FILE"),
                  "home": os.environ.get("HOME")}))
print("to stderr", file=sys.stderr)
sys.exit(3)
"""


def test_run_wherry_runs_module_in_subprocess(
    run_wherry: RunWherry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stand-in `wherry` package on PYTHONPATH shows exactly what the runner passes."""
    import json

    fake = tmp_path / "fake" / "wherry"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "__main__.py").write_text(_FAKE_MAIN)
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    result = run_wherry(
        "pip",
        "install",
        tmp_path / "x.whl",
        cwd=workdir,
        env={"PYTHONPATH": str(fake.parent), "WHERRY_TEST_FLAG": "on"},
        input="piped",
    )
    assert not result.ok and result.returncode == 3
    seen = json.loads(result.stdout)
    assert seen == {
        "argv": ["pip", "install", str(tmp_path / "x.whl")],
        "cwd": str(workdir),
        "stdin": "piped",
        "flag": "on",
        "config": os.devnull,
        "home": os.environ["HOME"],
    }
    assert result.stderr == "to stderr\n"
    assert "pip install" in str(result) and "[exit 3]" in str(result)
    # A None value removes a variable; no input means an empty stdin, never a hang.
    monkeypatch.setenv("WHERRY_TEST_FLAG", "inherited")
    quiet = run_wherry("x", env={"PYTHONPATH": str(fake.parent), "WHERRY_TEST_FLAG": None})
    seen = json.loads(quiet.stdout)
    assert seen["flag"] is None and seen["stdin"] == ""
