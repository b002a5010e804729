"""Resolving for another platform or Python: `--python-platform` and `--python-version`.

A target replaces the parts of the real interpreter's answer that describe where the
packages will run: the platform markers and platform tags for `--python-platform`, the
version markers and interpreter/ABI tags for `--python-version`. Names follow uv's
target triples (`linux`, `x86_64-manylinux_2_28`, `aarch64-apple-darwin`, `windows`...).
Like uv, a Linux glibc target defaults to manylinux_2_17 and musl to musllinux_1_2, and
a macOS target to macOS 13.0 unless MACOSX_DEPLOYMENT_TARGET says otherwise. One
deliberate difference: Windows x86-64 reports `platform_machine == "AMD64"`, which is
what CPython on Windows says (uv uses "x86_64").
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

import msgspec

from wherry.errors import UsageError
from wherry.platform.manylinux import manylinux_platforms, musllinux_platforms

if TYPE_CHECKING:
    from wherry.platform.tags import TargetTags
    from wherry.python.info import InterpreterInfo

_ALIASES = {
    "linux": "x86_64-unknown-linux-gnu",
    "macos": "aarch64-apple-darwin",
    "windows": "x86_64-pc-windows-msvc",
}
_MACHINE = {"x86_64": "x86_64", "aarch64": "aarch64", "i686": "i686"}


class TargetPlatform(msgspec.Struct, frozen=True):
    """A platform to resolve for: its markers and its wheel platform tags, best first."""

    name: str
    os_name: str
    sys_platform: str
    platform_system: str
    platform_machine: str
    platforms: tuple[str, ...]

    def markers(self) -> dict[str, str]:
        return {
            "os_name": self.os_name,
            "sys_platform": self.sys_platform,
            "platform_system": self.platform_system,
            "platform_machine": self.platform_machine,
            "platform_release": "",
            "platform_version": "",
        }


def _macos_version() -> tuple[int, int]:
    value = os.environ.get("MACOSX_DEPLOYMENT_TARGET", "")
    match = re.fullmatch(r"(\d+)(?:\.(\d+))?", value.strip())
    if not match:
        return (13, 0)
    return (int(match.group(1)), int(match.group(2) or 0))


def _linux(name: str, arch: str, platforms: list[str]) -> TargetPlatform:
    return TargetPlatform(name, "posix", "linux", "Linux", _MACHINE[arch],
                          tuple([f"linux_{arch}", *platforms]))


def parse_platform(text: str) -> TargetPlatform:
    """A `--python-platform` value; a usage error listing the accepted forms otherwise."""
    name = _ALIASES.get(text.strip().lower(), text.strip().lower())
    no_hook: dict[str, object] = {"found": False}
    match = re.fullmatch(r"(x86_64|aarch64)-(?:unknown-linux-gnu|manylinux(2014|_2_(\d+)))", name)
    if match:
        arch = match.group(1)
        minor = int(match.group(3)) if match.group(3) else 17
        if minor < 17 and arch == "aarch64":
            minor = 17
        return _linux(text, arch, list(manylinux_platforms(arch, (2, minor), no_hook)))
    match = re.fullmatch(r"(x86_64|aarch64)-unknown-linux-musl", name)
    if match:
        arch = match.group(1)
        return _linux(text, arch, list(musllinux_platforms(arch, (1, 2))))
    match = re.fullmatch(r"(x86_64|aarch64)-apple-darwin", name)
    if match:
        from packaging.tags import mac_platforms

        arch = "arm64" if match.group(1) == "aarch64" else "x86_64"
        platforms = tuple(mac_platforms(_macos_version(), arch))
        return TargetPlatform(text, "posix", "darwin", "Darwin", arch, platforms)
    if name == "x86_64-pc-windows-msvc":
        return TargetPlatform(text, "nt", "win32", "Windows", "AMD64", ("win_amd64",))
    if name == "i686-pc-windows-msvc":
        return TargetPlatform(text, "nt", "win32", "Windows", "x86", ("win32",))
    raise UsageError(
        f"unknown --python-platform `{text}`",
        hint="use linux, macos, windows, or a target such as x86_64-manylinux_2_28, "
        "aarch64-manylinux_2_17, x86_64-unknown-linux-musl, aarch64-apple-darwin, "
        "x86_64-apple-darwin or x86_64-pc-windows-msvc",
    )


def parse_python_version(text: str) -> tuple[tuple[int, int, int], bool]:
    """`3.12`, `3.12.4` or `3.13t` -> ((3, 12, 0), free_threaded)."""
    match = re.fullmatch(r"(\d+)\.(\d+)(?:\.(\d+))?(t?)", text.strip())
    if not match:
        raise UsageError(f"invalid --python-version `{text}`",
                         hint="use a version such as `3.12` or `3.12.4`")
    major, minor, micro = int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)
    return (major, minor, micro), bool(match.group(4))


class Target(msgspec.Struct, frozen=True):
    """What resolution targets: markers, compatible tags and the Python version."""

    markers: dict[str, str]
    tags: TargetTags
    python_full_version: str


def target_for(
    info: InterpreterInfo, *, python_platform: str | None = None,
    python_version: str | None = None,
) -> Target:
    """The target of an interpreter, with the platform and/or version overridden."""
    from packaging.tags import compatible_tags, cpython_tags

    from wherry.platform.tags import TargetTags
    from wherry.platform.tags import compatible_tags as interpreter_tags

    markers = info.markers
    if python_platform is None and python_version is None:
        return Target(markers, interpreter_tags(info), info.full_version)
    from wherry.platform.tags import platform_tags

    platforms = list(platform_tags(info))
    if python_platform is not None:
        platform = parse_platform(python_platform)
        markers.update(platform.markers())
        platforms = list(platform.platforms)
    version = info.version
    threaded = bool(info.raw.get("gil_disabled"))
    if python_version is not None:
        version, threaded = parse_python_version(python_version)
        full = "{}.{}.{}".format(*version)
        markers.update(python_version="{}.{}".format(*version[:2]), python_full_version=full,
                       implementation_version=full)
    short = version[:2]
    abi = "cp{}{}{}".format(*short, "t" if threaded else "")
    tags = list(cpython_tags(short, [abi], platforms))
    tags += compatible_tags(short, "cp{}{}".format(*short), platforms)
    return Target(markers, TargetTags(tags), markers["python_full_version"])
