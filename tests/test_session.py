"""commands/session.py: which project pages a resolution is sure to read (the head start),
and what a command begins while its interpreter is probed (commands/install.py)."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest

from tests.support import MakeIndex
from tests.support.packages import Wheelhouse
from wherry.cache.layout import Cache
from wherry.commands.install import EarlyStart, InstallOptions
from wherry.commands.session import certain_lookups
from wherry.output import Printer
from wherry.requirements.parse import RequirementsSpec, parse_requirement

LINUX = {"sys_platform": "linux", "python_version": "3.12", "platform_system": "Linux",
         "python_full_version": "3.12.1", "implementation_name": "cpython",
         "platform_machine": "x86_64", "os_name": "posix",
         "platform_python_implementation": "CPython"}


def _spec(*lines: str, excludes: tuple[str, ...] = ()) -> RequirementsSpec:
    spec = RequirementsSpec(requirements=[parse_requirement(line, "test") for line in lines])
    spec.excludes.extend(excludes)
    return spec


def test_named_requirements_for_this_target_not_installed(tmp_path: Path) -> None:
    wheel = tmp_path / "direct-1.0-py3-none-any.whl"
    wheel.write_bytes(b"")
    spec = _spec("Flask>=3", "httpx", "pywin32; sys_platform == 'win32'",
                 "tomli; python_version < '3.11'", "requests[socks]", "flask",
                 f"direct @ {wheel.as_uri()}", "gone", excludes=("gone",))
    assert certain_lookups(spec, LINUX) == ["flask", "httpx", "requests"]


def test_installed_names_are_left_to_the_resolver_unless_upgraded() -> None:
    spec = _spec("flask", "httpx", "rich")
    assert certain_lookups(spec, LINUX, installed={"flask", "rich"}) == ["httpx"]
    assert certain_lookups(spec, LINUX, installed={"flask", "rich"},
                           upgrades=lambda name: name == "rich") == ["httpx", "rich"]


def test_early_start_reads_the_request_and_asks_for_unconditional_pages(
    tmp_path: Path, make_index: MakeIndex, wheelhouse: Wheelhouse, cache: Cache,
) -> None:
    """While the interpreter is probed the target is unknown: requirements with a marker
    wait, the others' pages are requested, and the resolver's modules are imported."""
    index = make_index([wheelhouse.wheel("alpha", "1.0"), wheelhouse.wheel("beta", "1.0")])
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("alpha\nbeta; sys_platform == 'linux'\n")
    early = EarlyStart(InstallOptions(requirement_files=[requirements],
                                      index_url=index.url), cache)
    early.begin()
    try:
        assert early.spec is not None and early.settings is not None
        assert [item.name for item in early.spec.requirements] == ["alpha", "beta"]
        assert early.session is not None
        assert len(early.session.sources.files_for("alpha")) == 1  # the early lookup
    finally:
        early.close()
    assert early.session is None
    assert "/simple/alpha/" in index.paths() and "/simple/beta/" not in index.paths()
    assert "wherry.commands.pipeline" in sys.modules


def test_early_start_leaves_a_bad_request_to_the_normal_path(
    tmp_path: Path, cache: Cache,
) -> None:
    early = EarlyStart(InstallOptions(requirement_files=[tmp_path / "missing.txt"]), cache)
    early.begin()  # no error here: the command reports it where it reads the request
    assert early.spec is None and early.session is None


def test_prepare_tls_builds_the_context_only_for_https(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from wherry.http import tls

    built: list[str | None] = []
    monkeypatch.setattr(tls, "verifying_context", lambda cert: built.append(cert))
    seen = threading.Event()

    def urls(found: list[str]) -> list[str]:
        seen.set()
        return found

    for found in (["http://127.0.0.1:1/simple"], ["https://example.test/simple"]):
        seen.clear()
        tls.prepare_tls("ca.pem", lambda found=found: urls(found))  # type: ignore[misc]
        assert seen.wait(5)
    deadline = time.monotonic() + 5
    while not built and time.monotonic() < deadline:
        time.sleep(0.01)
    assert built == ["ca.pem"]


def test_plain_requirements_are_requested_before_they_are_parsed(
    tmp_path: Path, make_index: MakeIndex, wheelhouse: Wheelhouse, cache: Cache,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Lines like `name==1.0` need no parser for their names: the pages are asked for
    first, and the parse (which imports packaging) runs while they travel."""
    import wherry.commands.install as install

    index = make_index([wheelhouse.wheel("alpha", "1.0"), wheelhouse.wheel("beta-pkg", "1.0")])
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("# pinned\nalpha==1.0  # why\n\nBeta_Pkg[extra] >=1.0, <2\n")
    seen_at_parse: list[bool] = []
    real = install.gather_requirements

    def gather(options: InstallOptions) -> RequirementsSpec:
        seen_at_parse.append(early.session is not None)
        return real(options)

    monkeypatch.setattr(install, "gather_requirements", gather)
    early = EarlyStart(InstallOptions(requirement_files=[requirements],
                                      index_url=index.url), cache)
    early.begin()
    try:
        assert seen_at_parse == [True]
        assert early.spec is not None and early.settings is not None
        assert early.settings.index_urls == [index.url]
        assert [item.name for item in early.spec.requirements] == ["alpha", "beta-pkg"]
        assert early.session is not None
        assert len(early.session.sources.files_for("beta-pkg")) == 1
    finally:
        early.close()
    assert {"/simple/alpha/", "/simple/beta-pkg/"} <= set(index.paths())


def test_a_plain_looking_line_the_parser_refuses_is_still_reported_later(
    tmp_path: Path, make_index: MakeIndex, cache: Cache,
) -> None:
    index = make_index([])
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("alpha==1.0.*.*\n")  # the scanner's pattern, not PEP 440's
    early = EarlyStart(InstallOptions(requirement_files=[requirements],
                                      index_url=index.url), cache)
    early.begin()
    assert early.spec is None  # the install parses again and reports the error
    early.close()
    assert early.session is None


@pytest.mark.parametrize("line", [
    "-r other.txt", "--index-url http://example.invalid/simple", "alpha; python_version<'4'",
    "alpha @ https://example.invalid/alpha-1.0.whl", "./project", "alpha==${VERSION}",
    "alpha==1.0 \\", "alpha==1.0 --hash=sha256:00", "-e .",
])
def test_quick_names_give_up_on_anything_but_plain_requirements(
        tmp_path: Path, line: str) -> None:
    from wherry.requirements.prescan import quick_names

    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"beta==1\n{line}\n")
    assert quick_names([], [requirements]) is None
    assert quick_names([line], []) is None


def test_quick_names_read_plain_requirements(tmp_path: Path) -> None:
    from wherry.requirements.prescan import quick_names

    requirements = tmp_path / "requirements.txt"
    requirements.write_text("#top\nZope.Interface==5.0 # comment\n\n  rich[jupyter,extra]\n"
                            "flask (>=2,<4)\nzope-interface>=5\n")
    assert quick_names(["httpx ~= 0.27"], [requirements]) == [
        "httpx", "zope-interface", "rich", "flask"]
    requirements.write_text("alpha#not-a-comment==1\n")  # `#` starts a comment after a space
    assert quick_names([], [requirements]) is None
    assert quick_names([], [tmp_path / "missing.txt"]) is None
    assert quick_names([], [Path("-")]) is None
    assert quick_names([], [tmp_path / "pyproject.toml"]) is None


def test_early_start_in_a_known_environment_skips_installed_pages(
    tmp_path: Path, make_index: MakeIndex, wheelhouse: Wheelhouse, cache: Cache,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With the interpreter's answer cached no probe runs, and the early requests are
    made once the environment is known not to satisfy the request: those of installed
    packages are left to the resolver (unless they may be upgraded)."""
    import subprocess

    from wherry.commands.session import IndexSession
    from wherry.python.info import query_interpreter

    index = make_index([wheelhouse.wheel("alpha", "1.0"), wheelhouse.wheel("beta", "1.0")])
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    env = query_interpreter(venv / "bin" / "python", cache)
    installed = Path(env.scheme["purelib"]) / "alpha-1.0.dist-info"
    installed.mkdir(parents=True)
    (installed / "METADATA").write_text("Metadata-Version: 2.1\nName: alpha\nVersion: 1.0\n")
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("alpha==1.0\nbeta==1.0\n")
    asked: list[list[str]] = []
    real = IndexSession.head_start

    def head_start(self: IndexSession, names: list[str]) -> None:
        asked.append(list(names))
        real(self, names)

    monkeypatch.setattr(IndexSession, "head_start", head_start)
    for upgrade, expected in ((False, ["beta"]), (True, ["alpha", "beta"])):
        early = EarlyStart(InstallOptions(requirement_files=[requirements],
                                          index_url=index.url, upgrade=upgrade), cache)
        assert early.begin_in(env, Printer(), time.perf_counter()) is None  # nothing stored
        try:
            assert early.begun and early.spec is not None and early.session is not None
            assert len(early.session.sources.files_for("beta")) == 1
        finally:
            early.close()
        assert asked.pop() == expected
