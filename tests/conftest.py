"""Fixtures shared by every test: isolation from the machine, packages, indexes, the CLI.

wherry honours pip's configuration and environment, and the machines this runs on have
their own (pip config files adding local indexes, `PIP_*` variables, a netrc...). The
autouse `_isolate` fixture gives every test an empty, private environment for all of
that (DESIGN.md section 8), so results never depend on the machine.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import MakeIndex, RunWherry
from tests.support import run_wherry as _run_wherry
from tests.support.backends import backend_wheels
from tests.support.index_server import IndexServer
from tests.support.packages import Wheelhouse
from wherry.cache.layout import Cache
from wherry.http.client import HttpClient

#: Computed before any test changes HOME, so tests that look for interpreters under
#: pyenv still find the real ones.
_REAL_PYENV_ROOT = os.environ.get("PYENV_ROOT") or os.path.join(os.path.expanduser("~"), ".pyenv")
_DROPPED_PREFIXES = ("PIP_", "WHERRY_", "UV_")
_DROPPED_NAMES = ("VIRTUAL_ENV", "CONDA_PREFIX", "PYTHONPATH", "NETRC")


@pytest.fixture(autouse=True)
def _isolate(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Strip the machine's installer configuration and point every per-user path at temp dirs.

    Temp dirs come from `tmp_path_factory`, not `tmp_path`, so a test's own `tmp_path`
    stays empty for it to use.
    """
    for name in list(os.environ):
        if name.startswith(_DROPPED_PREFIXES) or name in _DROPPED_NAMES:
            monkeypatch.delenv(name)
    root = tmp_path_factory.mktemp("isolated")
    for sub in ("home", "config", "cache", "wherry-cache"):
        (root / sub).mkdir()
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("HOME", str(root / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(root / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(root / "cache"))
    monkeypatch.setenv("WHERRY_CACHE_DIR", str(root / "wherry-cache"))
    monkeypatch.setenv("PYENV_ROOT", _REAL_PYENV_ROOT)


@pytest.fixture
def client() -> Iterator[HttpClient]:
    """An HTTP client that retries once, quickly (files may override it)."""
    with HttpClient(retries=1) as made:
        made.backoff = 0.01
        yield made


@pytest.fixture
def cache(tmp_path_factory: pytest.TempPathFactory) -> Cache:
    """An empty cache root of its own (files may override it)."""
    return Cache.at(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="session")
def backends() -> list[Path]:
    """Wheels of the real build backends (setuptools, hatchling, flit-core), fetched once
    per machine (tests/support/backends.py), for test indexes that must serve them."""
    found = backend_wheels()
    if isinstance(found, str):
        pytest.skip(found)
    return found


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Wheelhouse:
    """A session-wide pool of built wheels/sdists: `wheelhouse.wheel(name, version, ...)`."""
    return Wheelhouse(tmp_path_factory.mktemp("wheelhouse"))


@pytest.fixture
def make_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MakeIndex]:
    """Start `IndexServer`s over a folder or a list of files; all stop at teardown.

    Given files, they are hard-linked (or copied) into a fresh folder, so each index
    serves exactly what the test listed.
    """
    servers: list[IndexServer] = []

    def factory(files: Path | Iterable[Path] = (), **switches: Any) -> IndexServer:
        if isinstance(files, Path) and files.is_dir():
            folder = files
        else:
            folder = tmp_path_factory.mktemp("index")
            for item in [files] if isinstance(files, Path) else files:
                target = folder / item.name
                try:
                    os.link(item, target)
                except OSError:
                    shutil.copy2(item, target)
        server = IndexServer(folder, **switches).start()
        servers.append(server)
        return server

    yield factory
    for server in servers:
        server.stop()


@pytest.fixture
def run_wherry() -> RunWherry:
    """Run `python -m wherry ARGS` in a subprocess: `run_wherry("pip", "list").ok`."""
    return _run_wherry
