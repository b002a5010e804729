"""Direct-URL dependencies in package metadata (`Requires-Dist: child @ URL`), as uv
treats them: used only when the request itself names `child` by the same URL (as a
requirement, a constraint or an override), an error otherwise; never resolved by name
from the index in their place."""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from tests.support import MakeIndex, Result, RunWherry
from tests.support.environments import make_venv, site_packages
from tests.support.index_server import IndexServer
from tests.support.packages import Wheelhouse, sha256_of
from wherry.errors import ResolutionError
from wherry.resolve.url_dependencies import RootUrls, check_url_dependency, url_key

HINT = "URL dependencies must be expressed as direct requirements or constraints"


@dataclass
class Universe:
    """`parent` depends on `child @ url` (child 1.0, served by a second server); the
    index also has child 2.0, which a resolution by name would wrongly pick."""

    index: IndexServer
    url: str
    child: Path


@pytest.fixture
def universe(make_index: MakeIndex, wheelhouse: Wheelhouse) -> Universe:
    child = wheelhouse.wheel("child", "1.0", files={"child/__init__.py": "VALUE = 1\n"})
    files = make_index([child])
    url = files.file_url(child.name)
    index = make_index([
        wheelhouse.wheel("parent", "1.0", requires=[f"child @ {url}"]),
        wheelhouse.wheel("child", "2.0", files={"child/__init__.py": "VALUE = 2\n"}),
        wheelhouse.wheel("app", "1.0", requires=["parent"]),
    ])
    return Universe(index, url, child)


def install(run_wherry: RunWherry, venv: Path, index: IndexServer, *args: str | Path,
            cwd: Path | None = None) -> Result:
    return run_wherry("pip", "install", *args, "--python", venv, "--index-url", index.url,
                      cwd=cwd)


def installed_names(venv: Path) -> list[str]:
    return sorted(p.name for p in site_packages(venv).glob("*.dist-info"))


def assert_refused(result: Result, parent: str, url: str) -> None:
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr
    assert f"error: {parent} depends on `child @ {url}`" in result.stderr, result
    assert HINT in result.stderr
    assert f"hint: consider adding `child @ {url}` to your dependencies or constraints " \
           "file" in result.stderr


def test_install_refuses_a_url_dependency_the_request_does_not_name(
    run_wherry: RunWherry, universe: Universe, tmp_path: Path,
) -> None:
    venv = make_venv(run_wherry, tmp_path / "venv")
    before = installed_names(venv)
    result = install(run_wherry, venv, universe.index, "app")
    assert_refused(result, "parent 1.0", universe.url)
    assert installed_names(venv) == before  # nothing half-installed
    # Naming `child` by version only is no better: the metadata asks for that URL.
    result = install(run_wherry, venv, universe.index, "parent", "child==1.0")
    assert_refused(result, "parent 1.0", universe.url)


def test_install_uses_the_url_the_request_names(
    run_wherry: RunWherry, universe: Universe, tmp_path: Path,
) -> None:
    venv = make_venv(run_wherry, tmp_path / "venv")
    result = install(run_wherry, venv, universe.index, "app", f"child @ {universe.url}")
    assert result.ok, result
    assert "+ child==1.0" in result.stderr and "+ parent==1.0" in result.stderr
    record = json.loads((site_packages(venv) / "child-1.0.dist-info" / "direct_url.json")
                        .read_text())
    digest = sha256_of(universe.child)
    assert record["url"] == universe.url
    assert record["archive_info"]["hashes"] == {"sha256": digest}
    # The hash fragment (and an `#egg=` one) do not make it another reference (as uv).
    other = make_venv(run_wherry, tmp_path / "other")
    result = install(run_wherry, other, universe.index, "parent",
                     f"child @ {universe.url}#sha256={digest}")
    assert result.ok, result
    assert "+ child==1.0" in result.stderr


def test_a_constraint_or_an_override_can_supply_the_url(
    run_wherry: RunWherry, universe: Universe, tmp_path: Path,
) -> None:
    constraints = tmp_path / "constraints.txt"
    constraints.write_text(f"child @ {universe.url}\n")
    venv = make_venv(run_wherry, tmp_path / "venv")
    result = install(run_wherry, venv, universe.index, "app", "-c", constraints)
    assert result.ok, result
    assert "+ child==1.0" in result.stderr
    assert (site_packages(venv) / "child-1.0.dist-info" / "direct_url.json").is_file()
    # An override replaces parent's requirement: here by an index requirement.
    overrides = tmp_path / "overrides.txt"
    overrides.write_text("child>=2\n")
    other = make_venv(run_wherry, tmp_path / "other")
    result = install(run_wherry, other, universe.index, "app", "--override", overrides)
    assert result.ok, result
    assert "+ child==2.0" in result.stderr


def test_another_url_for_the_same_package_is_a_conflict(
    run_wherry: RunWherry, universe: Universe, wheelhouse: Wheelhouse, tmp_path: Path,
) -> None:
    local = tmp_path / "local"
    local.mkdir()
    copy = Path(shutil.copy(universe.child, local))
    venv = make_venv(run_wherry, tmp_path / "venv")
    result = install(run_wherry, venv, universe.index, "parent", f"child @ {copy.as_uri()}")
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr
    assert (f"parent 1.0 depends on `child @ {universe.url}`, but child is required from "
            f"another URL ({copy.as_uri()})") in result.stderr, result
    assert "--override" in result.stderr


def test_a_url_dependency_whose_marker_is_false_is_skipped(
    run_wherry: RunWherry, make_index: MakeIndex, wheelhouse: Wheelhouse, tmp_path: Path,
) -> None:
    url = "https://user:secret@127.0.0.1:9/child-1.0-py3-none-any.whl"
    index = make_index([
        wheelhouse.wheel("quiet", "1.0", requires=[f"child @ {url} ; sys_platform == 'nope'",
                                                   f"child @ {url} ; extra == 'more'"],
                         extra_metadata=[("Provides-Extra", "more")]),
        wheelhouse.wheel("child", "2.0"),
    ])
    venv = make_venv(run_wherry, tmp_path / "venv")
    result = install(run_wherry, venv, index, "quiet")
    assert result.ok, result
    assert "+ quiet==1.0" in result.stderr and "child" not in result.stderr
    # The extra that adds it, once requested, is refused, and the password never shown.
    result = install(run_wherry, venv, index, "quiet[more]")
    assert result.returncode == 1, result
    assert "secret" not in result.stderr and "Traceback" not in result.stderr
    assert "quiet 1.0 depends on `child @ https://user:****@127.0.0.1:9/" in result.stderr


def compile_(run_wherry: RunWherry, cwd: Path, index: IndexServer, *args: str) -> Result:
    return run_wherry("pip", "compile", *args, "--index-url", index.url, "--python",
                      sys.executable, cwd=cwd)


@pytest.mark.parametrize("universal", [False, True], ids=["target", "universal"])
def test_compile_refuses_then_pins_the_named_url(
    run_wherry: RunWherry, universe: Universe, tmp_path: Path, universal: bool,
) -> None:
    flags = ("--universal",) if universal else ()
    (tmp_path / "requirements.in").write_text("app\n")
    result = compile_(run_wherry, tmp_path, universe.index, "requirements.in", *flags)
    assert_refused(result, "parent 1.0", universe.url)
    (tmp_path / "requirements.in").write_text(f"app\nchild @ {universe.url}\n")
    result = compile_(run_wherry, tmp_path, universe.index, "requirements.in", *flags)
    assert result.ok, result
    assert f"\nchild @ {universe.url}\n" in result.stdout, result
    assert "child==2.0" not in result.stdout


def test_download_refuses_then_saves_the_named_url(
    run_wherry: RunWherry, universe: Universe, tmp_path: Path,
) -> None:
    dest = tmp_path / "wheels"
    result = run_wherry("pip", "download", "app", "-d", dest, "--index-url",
                        universe.index.url)
    assert_refused(result, "parent 1.0", universe.url)
    result = run_wherry("pip", "download", "app", f"child @ {universe.url}", "-d", dest,
                        "--index-url", universe.index.url)
    assert result.ok, result
    assert sha256_of(dest / "child-1.0-py3-none-any.whl") == sha256_of(universe.child)


def test_sync_follows_no_dependencies_so_never_meets_one(
    run_wherry: RunWherry, universe: Universe, tmp_path: Path,
) -> None:
    """`pip sync` installs exactly the listed packages (uv and pip-tools): a URL in a
    listed package's metadata is never read, so it cannot be refused."""
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("parent==1.0\n")
    venv = make_venv(run_wherry, tmp_path / "venv")
    result = run_wherry("pip", "sync", requirements, "--python", venv, "--index-url",
                        universe.index.url)
    assert result.ok, result
    assert "+ parent==1.0" in result.stderr and "child" not in result.stderr


def test_url_dependencies_of_direct_references_are_followed(
    run_wherry: RunWherry, make_index: MakeIndex, wheelhouse: Wheelhouse, tmp_path: Path,
) -> None:
    """uv's lookahead: a URL can come from a URL. `top @ URL` needs `mid @ URL`, which
    needs `leaf @ URL` (only through an extra it asks for); each comes from its URL,
    recursively, while the index's copies of them are never used. A URL dependency whose
    marker does not hold is not even fetched (its host does not exist)."""
    local = tmp_path / "local"
    local.mkdir()
    leaf = Path(shutil.copy(wheelhouse.wheel("leaf", "1.0"), local))
    mid = Path(shutil.copy(wheelhouse.wheel(
        "mid", "1.0", requires=[f"leaf @ {leaf.as_uri()} ; extra == 'deep'"],
        extra_metadata=[("Provides-Extra", "deep")]), local))
    top = Path(shutil.copy(wheelhouse.wheel("top", "1.0", requires=[
        f"mid[deep] @ {mid.as_uri()}",
        "ghost @ https://127.0.0.1:9/ghost-1.0-py3-none-any.whl ; sys_platform == 'nope'",
        "helper",
    ]), local))
    index = make_index([wheelhouse.wheel("helper", "1.0"), wheelhouse.wheel("mid", "2.0"),
                        wheelhouse.wheel("leaf", "2.0")])
    venv = make_venv(run_wherry, tmp_path / "venv")
    result = install(run_wherry, venv, index, f"top @ {top.as_uri()}")
    assert result.ok, result
    for line in ("+ top==1.0", "+ mid==1.0", "+ leaf==1.0", "+ helper==1.0"):
        assert line in result.stderr, result
    assert "ghost" not in result.stderr
    for dist, path in (("mid-1.0", mid), ("leaf-1.0", leaf)):
        record = json.loads((site_packages(venv) / f"{dist}.dist-info" / "direct_url.json")
                            .read_text())
        assert record == {"url": path.as_uri(), "archive_info": {}}
    (tmp_path / "requirements.in").write_text(f"top @ {top.as_uri()}\n")
    result = compile_(run_wherry, tmp_path, index, "requirements.in")
    assert result.ok, result
    assert f"\nleaf @ {leaf.as_uri()}\n    # via mid\n" in result.stdout, result
    # From an index, the same `top` may not bring URLs in.
    listed = make_index([top, wheelhouse.wheel("helper", "1.0")])
    other = make_venv(run_wherry, tmp_path / "other")
    result = install(run_wherry, other, listed, "top")
    assert result.returncode == 1, result
    assert f"top 1.0 depends on `mid[deep] @ {mid.as_uri()}`" in result.stderr, result


def test_a_local_project_gets_its_url_dependency(
    run_wherry: RunWherry, make_index: MakeIndex, wheelhouse: Wheelhouse,
    backends: list[Path], tmp_path: Path,
) -> None:
    """The common case: `pip install ./app` where app's pyproject says
    `lib @ file:///...`; lib comes from there (built metadata, then the lookahead)."""
    from tests.test_direct import make_project

    local = tmp_path / "local"
    local.mkdir()
    lib = Path(shutil.copy(wheelhouse.wheel("lib", "1.0"), local))
    make_project(tmp_path / "app", "app", deps=(f"lib @ {lib.as_uri()}",))
    index = make_index([*backends, wheelhouse.wheel("lib", "2.0")])
    venv = make_venv(run_wherry, tmp_path / "venv")
    result = install(run_wherry, venv, index, "./app", cwd=tmp_path)
    assert result.ok, result
    assert "+ lib==1.0" in result.stderr and "+ app==1.0" in result.stderr


# -- URL comparison (pure) -----------------------------------------------------------------


@pytest.mark.parametrize(("one", "other"), [
    ("https://host/x-1.0-py3-none-any.whl",
     "HTTPS://HOST:443/x-1.0-py3-none-any.whl#sha256=" + "0" * 64),
    ("https://host/x-1.0-py3-none-any.whl", "https://u:p@host/x-1.0-py3-none-any.whl#egg=x"),
    ("https://host/a%2Bb/x.tar.gz", "https://host/a+b/x.tar.gz"),
    ("https://host/x.tar.gz#subdirectory=sub", "https://host/x.tar.gz#egg=x&subdirectory=sub"),
    ("git+https://host/repo.git@v1", "git+https://host/repo@v1"),
    ("git+https://host/repo/", "git+https://host/repo.git"),
    ("file:///tmp/x/../x/y.whl", "file:///tmp/x/y.whl"),
])
def test_same_reference(one: str, other: str) -> None:
    assert url_key(one) == url_key(other)


@pytest.mark.parametrize(("one", "other"), [
    ("https://host/x-1.0-py3-none-any.whl", "https://host/x-2.0-py3-none-any.whl"),
    ("https://host/x.whl", "http://host/x.whl"),
    ("https://host:8443/x.whl", "https://host/x.whl"),
    ("https://host/x.tar.gz#subdirectory=a", "https://host/x.tar.gz#subdirectory=b"),
    ("git+https://host/repo@v1", "git+https://host/repo@v2"),
    ("git+https://host/repo@v1", "git+https://host/repo"),
    ("https://host/x.whl?a=1", "https://host/x.whl?a=2"),
])
def test_different_reference(one: str, other: str) -> None:
    assert url_key(one) != url_key(other)


def test_check_url_dependency_unit() -> None:
    roots = RootUrls.of([("Child", "https://host/child.whl"), ("other", "")])
    version = Version("1.0")
    check_url_dependency(roots, "parent", version, "child",
                         Requirement("child @ https://host/child.whl#sha256=" + "a" * 64))
    check_url_dependency(roots, "parent", version, "other", Requirement("other>=1"))
    with pytest.raises(ResolutionError, match="another URL"):
        check_url_dependency(roots, "parent", version, "child",
                             Requirement("child @ https://host/elsewhere/child.whl"))
    with pytest.raises(ResolutionError, match="does not name") as caught:
        check_url_dependency(roots, "parent", version, "other",
                             Requirement("other @ https://u:pw@host/other.whl"))
    assert "pw" not in caught.value.message and "pw" not in str(caught.value.hint)


def test_universal_lookahead_follows_urls_for_other_platforms(
    run_wherry: RunWherry, make_index: MakeIndex, wheelhouse: Wheelhouse, tmp_path: Path,
) -> None:
    """In a universal resolution the lookahead asks whether a URL dependency's marker
    can hold anywhere, not whether it holds here: `top @ URL` needs `mid @ URL` on
    Windows only, and the lock says so (it used to skip `mid`'s URL on this machine,
    then refuse it as an undeclared URL dependency)."""
    local = tmp_path / "local"
    local.mkdir()
    mid = Path(shutil.copy(wheelhouse.wheel("mid", "1.0"), local))
    top = Path(shutil.copy(wheelhouse.wheel("top", "1.0", requires=[
        f"mid @ {mid.as_uri()} ; sys_platform == 'win32'"]), local))
    index = make_index([wheelhouse.wheel("mid", "2.0")])
    (tmp_path / "requirements.in").write_text(f"top @ {top.as_uri()}\n")
    result = compile_(run_wherry, tmp_path, index, "requirements.in", "--universal",
                      "--no-header")
    assert result.ok, result
    assert result.stdout == (f"mid @ {mid.as_uri()} ; sys_platform == 'win32'\n"
                             "    # via top\n"
                             f"top @ {top.as_uri()}\n"
                             "    # via -r requirements.in\n"), result
    result = compile_(run_wherry, tmp_path, index, "requirements.in", "--no-header")
    assert result.ok, result
    assert "mid" not in result.stdout, result
