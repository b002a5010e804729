"""The prefetch's read-ahead and its priority pool: dependencies of dependencies are
fetched before the solver reaches them, never what the target's markers, `--exclude` or a
build rule out, nothing once resolution is over, and never a different answer."""

from __future__ import annotations

import random
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from packaging.version import Version

from tests.support import MakeIndex, RunWherry
from tests.support.index_server import IndexServer
from tests.support.packages import Wheelhouse
from tests.test_resolver_modes import MARKERS, TAGS, Universe
from wherry.index.models import DistFile
from wherry.resolve.prefetch import PackageData, ReadAhead, read_ahead_for
from wherry.resolve.priority_pool import GUESSED, NAMED, URGENT, PriorityPool
from wherry.resolve.provider import ProviderConfig

PYTHON = Version("3.12.1")


class Gated(Universe):
    """A universe whose `gate` page is answered only once every page in `awaited` was
    requested (or after `patience` seconds): the solver, which decides `gate` before
    the packages listed after it, is stuck on it meanwhile. Records page requests."""

    def __init__(self, projects: Mapping[str, Mapping[str, Sequence[str]]],
                 awaited: set[str], patience: float) -> None:
        super().__init__(projects)
        self.awaited = set(awaited)
        self.patience = patience
        self.pages: list[str] = []
        self.seen_awaited = threading.Event()
        self.gate_saw_them: bool | None = None

    def files_for(self, name: str) -> list[DistFile]:
        with self.lock:
            self.pages.append(name)
            if self.awaited <= set(self.pages):
                self.seen_awaited.set()
        if name == "gate":
            self.gate_saw_them = self.seen_awaited.wait(self.patience)
        return super().files_for(name)


GATED: dict[str, dict[str, list[str]]] = {
    "top": {"1.0": ["gate", "mid"]},
    "gate": {"1.0": []},
    "mid": {"1.0": ["deep", "lib[fast]", "winonly; sys_platform == 'win32'"]},
    "deep": {"1.0": []},
    "lib": {"1.0": ["speedup; extra == 'fast'"]},
    "speedup": {"1.0": []},
    "winonly": {"1.0": []},
}


def test_read_ahead_fetches_grandchildren_before_the_solver_reaches_them() -> None:
    # `deep` and `speedup` (through the `fast` extra of `lib`) are two levels below
    # `top`; the solver learns of them only when it decides `mid`, after `gate`.
    universe = Gated(GATED, {"deep", "speedup"}, patience=10)
    result = universe.resolve("top")
    assert universe.gate_saw_them is True
    assert {n: str(p.version) for n, p in result.pins.items()} == {
        "top": "1.0", "gate": "1.0", "mid": "1.0", "deep": "1.0", "lib": "1.0",
        "speedup": "1.0"}
    # The target is Linux: a Windows-only dependency is not even looked at.
    assert "winonly" not in universe.pages


def test_without_read_ahead_the_solver_reaches_them_only_after_the_gate() -> None:
    # The same resolution, read-ahead off: nothing asks for `deep` while the solver
    # waits on `gate` (what makes the test above meaningful).
    universe = Gated(GATED, {"deep"}, patience=0.3)
    result = universe.resolve("top", read_ahead=False)
    assert universe.gate_saw_them is False
    assert "deep" in result.pins


def test_read_ahead_skips_excluded_names() -> None:
    # The solver is held for a second: time enough for the read-ahead to ask for `lib`
    # and `speedup` if it ignored the excludes (it asks for `deep` meanwhile).
    universe = Gated(GATED, {"deep", "speedup"}, patience=1)
    result = universe.resolve("top", excludes=["speedup", "lib"])
    assert universe.gate_saw_them is False  # `speedup` was never asked for
    assert "speedup" not in universe.pages and "lib" not in universe.pages
    assert "deep" in universe.pages and "lib" not in result.pins


def test_read_ahead_follows_overrides_and_constraints() -> None:
    # `mid` 1.0 wants `deep<2`; the override lifts that, the constraint caps at 2.x: the
    # read-ahead fetches the metadata of deep 2.0, the version the solver will take.
    projects: dict[str, dict[str, list[str]]] = {**GATED, "mid": {"1.0": ["deep<2"]},
                "deep": {"1.0": [], "2.0": [], "3.0": []}}
    universe = Gated(projects, {"deep"}, patience=10)
    result = universe.resolve("top", overrides=["deep>=2"], constraints=["deep<3"])
    assert universe.gate_saw_them is True
    assert str(result.pins["deep"].version) == "2.0"
    assert [f for f in universe.fetched if f.startswith("deep==")] == ["deep==2.0"]


class Sdists(Universe):
    """Projects in `source_only` have only an sdist; every file read is recorded."""

    def __init__(self, projects: Mapping[str, Mapping[str, Sequence[str]]],
                 source_only: set[str]) -> None:
        super().__init__(projects)
        self.source_only = source_only
        self.pages: list[str] = []

    def files_for(self, name: str) -> list[DistFile]:
        with self.lock:
            self.pages.append(name)
        if name not in self.source_only:
            return super().files_for(name)
        return [DistFile(f"{name}-{v}.tar.gz", f"memory://{name}-{v}.tar.gz", "memory")
                for v in self.projects[name]]

    def fetch(self, file: DistFile) -> bytes:
        if not file.filename.endswith(".tar.gz"):
            return super().fetch(file)
        with self.lock:
            self.fetched.append(file.filename)
        name, version = file.filename.removesuffix(".tar.gz").rsplit("-", 1)
        lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
        lines += [f"Requires-Dist: {r}" for r in self.projects[name][version]]
        return ("\n".join(lines) + "\n\n").encode()  # "built" (a real one takes seconds)


def wait_for(condition: Any, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return bool(condition())


def reads() -> ReadAhead:
    """The read-ahead as resolution.py builds it, for a plain Linux target."""
    return read_ahead_for(ProviderConfig(markers=MARKERS, python_version=PYTHON))


def test_read_ahead_fetches_only_the_page_of_a_source_only_dependency() -> None:
    universe = Sdists({"top": {"1.0": ["built", "wheel-dep"]}, "built": {"1.0": []},
                       "wheel-dep": {"1.0": []}}, source_only={"built"})
    data = PackageData(universe.files_for, universe.fetch, TAGS, PYTHON,
                       read_ahead=reads())
    try:
        data.prefetch([("top", None)])
        assert wait_for(lambda: "wheel-dep==1.0" in universe.fetched)
        assert data.versions("built").all_versions() == [Version("1.0")]
        time.sleep(0.2)  # the page's callbacks have run: no build was started
        assert "built" in universe.pages
        assert not [f for f in universe.fetched if f.endswith(".tar.gz")]
    finally:
        data.close()


def test_root_sdists_built_ahead_are_the_versions_constraints_allow() -> None:
    # Root requirements' likely sdists are built ahead, side by side: under `-c built<2`
    # that is built 1.0, never 2.0 (a build costs seconds).
    universe = Sdists({"built": {"1.0": [], "2.0": []}}, source_only={"built"})
    result = universe.resolve("built", constraints=["built<2"])
    assert str(result.pins["built"].version) == "1.0"
    assert universe.fetched == ["built-1.0.tar.gz"]


def test_read_ahead_stops_when_the_pool_is_shut_down() -> None:
    holding = threading.Event()
    release = threading.Event()

    class Held(Universe):
        pages: list[str]

        def files_for(self, name: str) -> list[DistFile]:
            self.pages.append(name)
            return super().files_for(name)

        def fetch(self, file: DistFile) -> bytes:
            holding.set()
            release.wait(10)
            return super().fetch(file)

    universe = Held({"top": {"1.0": ["child"]}, "child": {"1.0": []}})
    universe.pages = []
    data = PackageData(universe.files_for, universe.fetch, TAGS, PYTHON,
                       read_ahead=reads())
    data.prefetch([("top", None)])
    assert holding.wait(10)  # top's metadata is being fetched, and held there
    data.close()
    release.set()
    assert wait_for(lambda: universe.fetched == ["top==1.0"])
    time.sleep(0.3)
    assert universe.pages == ["top"]  # its dependencies were read after the close: no


def random_universe(seed: int) -> dict[str, dict[str, list[str]]]:
    """Small universes with conflicts, markers, extras and pre-releases, so that the
    solver backtracks and first choices often turn out wrong."""
    rng = random.Random(seed)
    names = [f"p{i}" for i in range(8)]
    projects: dict[str, dict[str, list[str]]] = {}
    for index, name in enumerate(names):
        versions: dict[str, list[str]] = {}
        for major in range(1, rng.randint(2, 5)):
            version = f"{major}.0" if rng.random() > 0.15 else f"{major}.0b1"
            requires = []
            for other in rng.sample(names[index + 1:], min(len(names) - index - 1,
                                                           rng.randint(0, 3))):
                spec = rng.choice(["", f">={rng.randint(1, 3)}.0", f"<{rng.randint(2, 4)}.0"])
                marker = rng.choice(["", "; sys_platform == 'win32'",
                                     "; python_version >= '3.8'", "; extra == 'x'"])
                requires.append(f"{other}{spec}{marker}")
            if index + 1 < len(names) and rng.random() < 0.3:
                requires.append(f"{names[index + 1]}[x]")
            versions[version] = requires
        projects[name] = versions
    return projects


@pytest.mark.parametrize("seed", range(40))
def test_read_ahead_never_changes_the_answer(seed: int) -> None:
    projects = random_universe(seed)
    rng = random.Random(seed)
    kwargs: dict[str, Any] = rng.choice([
        {}, {"excludes": ["p3"]}, {"overrides": ["p2>=2"]}, {"constraints": ["p4<3"]},
        {"resolution": "lowest"}, {"prerelease": "allow"},
    ])
    roots = ["p0", "p1[x]"]

    def outcome(read_ahead: bool) -> object:
        universe = Universe(projects)
        try:
            result = universe.resolve(*roots, read_ahead=read_ahead, **dict(kwargs))
        except Exception as exc:
            return type(exc).__name__, str(exc)
        return sorted((n, str(p.version)) for n, p in result.pins.items()), result.extras

    assert outcome(True) == outcome(False)


def test_priority_pool_runs_the_most_urgent_first_and_cancels_on_shutdown() -> None:
    pool = PriorityPool(1, "test-pool")
    started = threading.Event()
    release = threading.Event()
    order: list[str] = []

    def blocker() -> None:
        started.set()
        release.wait(10)

    def job(label: str) -> Any:
        return lambda: order.append(label)

    pool.submit(blocker, NAMED)
    assert started.wait(10)
    guessed = pool.submit(job("guessed"), GUESSED)
    named = pool.submit(job("named"), NAMED)
    late = pool.submit(job("late guess, now urgent"), GUESSED)
    late.hurry(URGENT)
    late.hurry(GUESSED)  # never less urgent again
    release.set()
    guessed.result(10)
    named.result(10)
    late.result(10)
    assert order == ["late guess, now urgent", "named", "guessed"]

    release.clear()
    started.clear()
    pool.submit(blocker, NAMED)
    assert started.wait(10)
    queued = pool.submit(job("never"), GUESSED)
    pool.shutdown()
    assert queued.cancelled()
    with pytest.raises(RuntimeError):
        pool.submit(job("after"), URGENT)
    release.set()
    assert order == ["late guess, now urgent", "named", "guessed"]


def test_priority_pool_hands_exceptions_to_the_waiter() -> None:
    pool = PriorityPool(2, "test-pool")

    def boom() -> None:
        raise ValueError("bad page")

    task = pool.submit(boom, NAMED)
    with pytest.raises(ValueError, match="bad page"):
        task.result(10)
    pool.shutdown()


# --- end to end, over HTTP: the order of requests in the index's log ------------------

@pytest.fixture
def index(make_index: MakeIndex, wheelhouse: Wheelhouse) -> IndexServer:
    """`top` needs `gate` then `mid`; `mid` needs `deep`, `telemetry` and, on Windows
    only, `winonly`. `gate`'s page fails once (503), so the solver waits on its retry
    (a quarter to half a second) before it can decide `gate`, then `mid`."""
    return make_index([
        wheelhouse.wheel("top", "1.0", requires=["gate", "mid"]),
        wheelhouse.wheel("gate", "1.0"),
        wheelhouse.wheel("mid", "1.0", requires=[
            "deep", "telemetry", "winonly; sys_platform == 'win32'"]),
        wheelhouse.wheel("deep", "1.0"),
        wheelhouse.wheel("telemetry", "1.0"),
        wheelhouse.wheel("winonly", "1.0"),
    ], metadata_files=True, fail={"/simple/gate/": 503}, fail_times={"/simple/gate/": 1})


def compile_top(run_wherry: RunWherry, tmp_path: Path, index: IndexServer,
                *args: str) -> str:
    (tmp_path / "requirements.in").write_text("top\n")
    result = run_wherry("pip", "compile", "requirements.in", "--no-header", "--no-annotate",
                        *args, "--index-url", index.url, "--python", sys.executable,
                        cwd=tmp_path)
    assert result.ok, result
    return result.stdout


def pages(index: IndexServer) -> list[str]:
    return [path.split("/")[2] for path in index.paths("GET") if path.startswith("/simple/")]


def test_grandchild_page_is_requested_while_the_solver_waits(
    run_wherry: RunWherry, tmp_path: Path, index: IndexServer
) -> None:
    out = compile_top(run_wherry, tmp_path, index)
    assert out == "deep==1.0\ngate==1.0\nmid==1.0\ntelemetry==1.0\ntop==1.0\n"
    requested = pages(index)
    # The first `gate` request failed; `deep` (two levels down, named only by `mid`)
    # was requested before the retry that let the solver decide `gate` and then `mid`.
    assert requested.count("gate") == 2
    second_gate = len(requested) - 1 - requested[::-1].index("gate")
    assert requested.index("deep") < second_gate
    assert requested.index("telemetry") < second_gate
    assert "winonly" not in requested  # its marker is false for this target


def test_excluded_grandchild_is_never_requested(
    run_wherry: RunWherry, tmp_path: Path, index: IndexServer
) -> None:
    (tmp_path / "excludes.txt").write_text("telemetry\n")
    out = compile_top(run_wherry, tmp_path, index, "--excludes", "excludes.txt")
    assert out == "deep==1.0\ngate==1.0\nmid==1.0\ntop==1.0\n"
    requested = pages(index)
    assert "telemetry" not in requested
    assert "deep" in requested
