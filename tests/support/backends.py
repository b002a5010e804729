"""Real build backends (setuptools, hatchling, flit-core) as wheels, for an offline index.

Build tests install `build-system.requires` from the test index like any other package,
so the index must hold the backends' wheels. They are fetched once per machine with
`pip download --only-binary :all:` into a per-user cache directory outside the
repository (`$WHERRY_TEST_BACKENDS`, else `~/.cache/wherry-test-backends`); later runs
find them there and need no network. When they can be neither found nor fetched, the
tests that need them are skipped with the reason.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# Captured at import, before the per-test isolation fixture empties pip's configuration
# (the download needs the machine's own index settings).
_REAL_ENV = dict(os.environ)
_REAL_HOME = os.path.expanduser("~")
BACKENDS = ("setuptools", "hatchling", "flit-core")
_PREFIXES = ("setuptools-", "hatchling-", "flit_core-", "packaging-", "pathspec-", "pluggy-",
             "trove_classifiers-")


def backends_dir() -> Path:
    configured = _REAL_ENV.get("WHERRY_TEST_BACKENDS")
    if configured:
        return Path(configured)
    cache = _REAL_ENV.get("XDG_CACHE_HOME") or os.path.join(_REAL_HOME, ".cache")
    return Path(cache) / "wherry-test-backends"


def _complete(folder: Path) -> bool:
    names = [p.name for p in folder.glob("*.whl")] if folder.is_dir() else []
    return all(any(n.startswith(prefix) for n in names) for prefix in _PREFIXES)


def backend_wheels() -> list[Path] | str:
    """The backend wheels and their dependencies, or why they are unavailable."""
    folder = backends_dir()
    if not _complete(folder):
        folder.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in _REAL_ENV.items() if not k.startswith("WHERRY_")}
        done = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
             "--only-binary", ":all:", "-d", str(folder), *BACKENDS],
            env=env, capture_output=True, text=True, timeout=300, check=False)
        if done.returncode != 0 or not _complete(folder):
            return f"cannot fetch the build backends' wheels: {done.stderr.strip()[-300:]}"
    return sorted(folder.glob("*.whl"))
