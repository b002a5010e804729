"""The reason wherry exists: a `_manylinux` opt-out is noticed with every cache warm.

A package has a `manylinux_2_17` wheel and a `py3-none-any` wheel. wherry installs it
(warming every cache), then installs a wheel whose only content is a `_manylinux.py`
that refuses manylinux; a fresh install then picks the pure wheel, with no `--refresh`.
Uninstalling the opt-out brings the manylinux wheel back.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import MakeIndex, RunWherry
from tests.support.packages import Wheelhouse

TAG = "cp{0}{1}-cp{0}{1}-manylinux_2_17_x86_64".format(*sys.version_info[:2])


def flavour(venv: Path) -> str:
    out = subprocess.run([str(venv / "bin" / "python"), "-c",
                          "import fastlib; print(fastlib.FLAVOUR)"],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="manylinux is Linux-only")
def test_opt_out_is_noticed_without_refresh(
    run_wherry: RunWherry, make_index: MakeIndex, wheelhouse: Wheelhouse, tmp_path: Path
) -> None:
    import platform

    if platform.machine() != "x86_64":
        pytest.skip("the test wheels are x86_64")
    index = make_index([
        wheelhouse.wheel("fastlib", "1.0", tag=TAG,
                         files={"fastlib/__init__.py": "FLAVOUR = 'manylinux'\n"}),
        wheelhouse.wheel("fastlib", "1.0",
                         files={"fastlib/__init__.py": "FLAVOUR = 'pure'\n"}),
        wheelhouse.wheel("no-manylinux", "1.0", files={
            "_manylinux.py": "def manylinux_compatible(*args):\n    return False\n"}),
    ])
    venv = tmp_path / "venv"
    assert run_wherry("venv", venv, "--python", sys.executable).ok

    def pip(*args: str) -> None:
        extra = ["--index-url", index.url] if args[0] == "install" else []
        result = run_wherry("pip", *args, "--python", venv, *extra)
        assert result.ok, result

    pip("install", "fastlib")
    assert flavour(venv) == "manylinux"
    pip("install", "no-manylinux")
    pip("uninstall", "fastlib")
    pip("install", "fastlib")
    assert flavour(venv) == "pure"
    pip("uninstall", "no-manylinux", "fastlib")
    pip("install", "fastlib")
    assert flavour(venv) == "manylinux"
