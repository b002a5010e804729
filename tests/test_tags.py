"""Compatible tags equal packaging's `sys_tags()` run inside each real interpreter.

Run with and without a `_manylinux` module, including a per-version hook (PEP 600) that
refuses glibc >= 2.17 but allows older manylinux wheels, and the legacy attributes.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import packaging
import pytest

from wherry.cache.layout import Cache
from wherry.platform.manylinux import is_compatible, manylinux_platforms
from wherry.platform.tags import compatible_tags
from wherry.python.info import query_interpreter

PYENV = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
VERSIONS = ["3.9", "3.10", "3.11", "3.12", "3.13"]


def interpreter(version: str) -> Path:
    found = sorted(PYENV.glob(f"{version}.*/bin/python{version}")) if PYENV.is_dir() else []
    if not found:
        pytest.skip(f"Python {version} is not installed")
    return found[-1]


HOOKS = {
    "none": None,
    "refuse-2.17-and-newer": "def manylinux_compatible(major, minor, arch):\n"
    "    return (major, minor) < (2, 17)\n",
    "no-opinion": "def manylinux_compatible(major, minor, arch):\n    return None\n",
    "legacy-attrs": "manylinux1_compatible = False\nmanylinux2014_compatible = True\n",
    "refuse-all": "def manylinux_compatible(major, minor, arch):\n    return False\n",
}


def _packaging_tags(executable: Path, env: dict[str, str]) -> list[str]:
    packaging_root = Path(packaging.__file__).parent.parent
    code = (
        "import sys, json\n"
        f"sys.path.insert(0, {str(packaging_root)!r})\n"
        "from packaging.tags import sys_tags\n"
        "print(json.dumps([str(t) for t in sys_tags()]))\n"
    )
    out = subprocess.run([str(executable), "-c", code], env=env, capture_output=True,
                         text=True, check=True)
    return list(json.loads(out.stdout))


# Every version plainly; the hooks on an old and a new version, to keep the suite fast.
CASES = [(v, "none") for v in VERSIONS] + [
    (v, h) for v in ("3.9", "3.12") for h in sorted(HOOKS) if h != "none"
]


@pytest.mark.parametrize(("version", "hook"), CASES)
def test_tags_match_packaging(version: str, hook: str, tmp_path: Path,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    executable = interpreter(version)
    source = HOOKS[hook]
    if source is not None:
        hook_dir = tmp_path / "hook"
        hook_dir.mkdir()
        (hook_dir / "_manylinux.py").write_text(source)
        monkeypatch.setenv("PYTHONPATH", str(hook_dir))
    cache = Cache.at(tmp_path / "cache")
    info = query_interpreter(executable, cache)
    ours = [str(tag) for tag in compatible_tags(info).tags]
    theirs = _packaging_tags(executable, dict(os.environ))
    assert ours == theirs


def test_per_version_override() -> None:
    hook = {"found": True, "per_minor": {str(m): m < 17 for m in range(5, 37)}, "legacy": {}}
    platforms = list(manylinux_platforms("x86_64", (2, 36), hook))
    assert platforms[0] == "manylinux_2_16_x86_64"
    assert "manylinux2014_x86_64" not in platforms
    assert "manylinux_2_5_x86_64" in platforms and "manylinux1_x86_64" in platforms
    assert not is_compatible((2, 36), (2, 17), hook)
    assert is_compatible((2, 36), (2, 12), hook)
    assert not is_compatible((2, 11), (2, 12), {"found": False})


def test_aarch64_starts_at_2_17() -> None:
    platforms = list(manylinux_platforms("aarch64", (2, 28), {"found": False}))
    assert platforms[-1] == "manylinux2014_aarch64"
    assert platforms[-2] == "manylinux_2_17_aarch64"


def test_32bit_interpreter_on_64bit_kernel_maps_like_packaging(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No 32-bit interpreter exists here, so the probe's facts are those of this one with a
    32-bit pointer size, and packaging is asked the same question in-process with its ELF
    check (which would read *this* 64-bit executable) answered "compatible"."""
    import platform
    import sys

    import packaging._manylinux
    import packaging.tags

    from wherry.platform.tags import platform_tags
    from wherry.python.info import InterpreterInfo

    if platform.machine() != "x86_64" or not sys.platform.startswith("linux"):
        pytest.skip("the i686 mapping is checked on x86_64 Linux")
    info = query_interpreter(Path(sys.executable), Cache.at(tmp_path / "cache"))
    if info.glibc is None:
        pytest.skip("needs glibc")
    raw = dict(info.raw)
    raw["pointer_size"] = 32
    raw["manylinux"] = {"found": False, "per_minor": {}, "legacy": {}}
    monkeypatch.setattr(packaging._manylinux, "_have_compatible_abi", lambda exe, archs: True)
    theirs = list(packaging.tags._linux_platforms(True))
    ours = platform_tags(InterpreterInfo(raw))
    assert ours == theirs
    assert ours[0] == "linux_i686" and "manylinux2014_i686" in ours
    assert "manylinux1_i686" in ours  # i686 goes down to glibc 2.5, as x86_64 does


@pytest.mark.parametrize(("machine", "bits", "expected"), [
    ("x86_64", 32, "i686"), ("AMD64", 32, "i686"), ("aarch64", 32, "armv8l"),
    ("x86_64", 64, "x86_64"), ("aarch64", 64, "aarch64"), ("armv7l", 32, "armv7l"),
])
def test_probe_arch_of_32bit_interpreters(machine: str, bits: int, expected: str,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The probe names the architecture as packaging does for a 32-bit process."""
    import types

    from wherry.python import probe

    monkeypatch.setattr(probe, "platform", types.SimpleNamespace(machine=lambda: machine))
    monkeypatch.setattr(probe, "struct", types.SimpleNamespace(calcsize=lambda fmt: bits // 8))
    assert probe._arch() == expected  # type: ignore[no-untyped-call]
