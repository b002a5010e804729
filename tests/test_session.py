"""commands/session.py: which project pages a resolution is sure to read (the head start)."""

from __future__ import annotations

from pathlib import Path

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
