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
