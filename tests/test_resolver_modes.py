"""Resolver semantics beyond the basics, driven in memory: pre-release and resolution
modes, overrides, excludes, preferences, Requires-Python, yanked pins, cycles, batch
prefetch, the -v report line and the uv-style error prose with each of its hints."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from packaging.tags import Tag
from packaging.version import Version

from wherry.errors import ResolutionError
from wherry.index.models import DistFile
from wherry.platform.tags import TargetTags
from wherry.requirements.parse import parse_requirement
from wherry.resolve.resolution import Resolution, resolve, tried_versions_line

TAGS = TargetTags([Tag("cp312", "cp312", "manylinux_2_17_x86_64"), Tag("py3", "none", "any")])
MARKERS = {
    "python_version": "3.12", "python_full_version": "3.12.1", "sys_platform": "linux",
    "platform_machine": "x86_64", "os_name": "posix", "implementation_name": "cpython",
    "platform_system": "Linux", "platform_python_implementation": "CPython",
    "platform_release": "6.0", "platform_version": "#1", "implementation_version": "3.12.1",
}
ANY = "py3-none-any"


class Universe:
    """name -> version -> requires; per-file switches: `yanked`, `python`, `tag`."""

    def __init__(self, projects: Mapping[str, Mapping[str, Sequence[str]]], *,
                 yanked: Mapping[str, str] | None = None,
                 python: Mapping[str, str] | None = None,
                 tags: Mapping[str, str] | None = None) -> None:
        self.projects = projects
        self.yanked = dict(yanked or {})  # "name==version" -> reason
        self.python = dict(python or {})  # "name==version" -> Requires-Python
        self.tags = dict(tags or {})  # "name==version" -> wheel tag
        self.fetched: list[str] = []
        self.lock = threading.Lock()

    def files_for(self, name: str) -> list[DistFile]:
        files = []
        for version in self.projects.get(name, {}):
            key = f"{name}=={version}"
            filename = f"{name.replace('-', '_')}-{version}-{self.tags.get(key, ANY)}.whl"
            files.append(DistFile(filename, f"memory://{filename}", "memory",
                                  requires_python=self.python.get(key),
                                  yanked=self.yanked.get(key, False)))
        return files

    def fetch(self, file: DistFile) -> bytes:
        name, version = file.filename.split("-")[:2]
        name = name.replace("_", "-")
        with self.lock:
            self.fetched.append(f"{name}=={version}")
        lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
        lines += [f"Requires-Dist: {r}" for r in self.projects[name][version]]
        return ("\n".join(lines) + "\n\n").encode()

    def resolve(self, *requirements: str, **kwargs: Any) -> Resolution:
        constraints = [parse_requirement(c, "constraints.txt (line 1)")
                       for c in kwargs.pop("constraints", ())]
        overrides = [parse_requirement(c, "overrides.txt (line 1)")
                     for c in kwargs.pop("overrides", ())]
        return resolve(
            [parse_requirement(r, "requirements.in (line 1)") for r in requirements],
            files_for=self.files_for, fetch_metadata=self.fetch, tags=TAGS, markers=MARKERS,
            python_version=Version("3.12.1"), constraints=constraints, overrides=overrides,
            **kwargs,
        )

    def pins(self, *requirements: str, **kwargs: Any) -> dict[str, str]:
        result = self.resolve(*requirements, **kwargs)
        return {name: str(pin.version) for name, pin in sorted(result.pins.items())}

    def error(self, *requirements: str, **kwargs: Any) -> str:
        with pytest.raises(ResolutionError) as info:
            self.resolve(*requirements, **kwargs)
        text = info.value.render()
        assert "Traceback" not in text
        return text


# --- pre-releases ---------------------------------------------------------------------

PRE = Universe({
    "a": {"1.0": [], "2.0b1": []},
    "b": {"1.0a1": []},
    "c": {"1.0": ["a>=1.0b1"]},
})


@pytest.mark.parametrize(("mode", "requirement", "expected"), [
    ("if-necessary-or-explicit", "a", "1.0"),
    ("if-necessary-or-explicit", "a>=1.0b1", "2.0b1"),  # explicit: highest, pre allowed
    ("if-necessary-or-explicit", "b", "1.0a1"),  # necessary: only pre-releases
    ("if-necessary", "a>=1.0b1", "1.0"),  # stable first, even when named
    ("if-necessary", "a>=2.0a1", "2.0b1"),
    ("if-necessary", "b", "1.0a1"),
    ("explicit", "a>=1.0b1", "2.0b1"),
    ("allow", "a", "2.0b1"),
    ("disallow", "a", "1.0"),
])
def test_prerelease_modes(mode: str, requirement: str, expected: str) -> None:
    name = requirement[0]
    assert PRE.pins(requirement, prerelease=mode)[name] == expected


@pytest.mark.parametrize("mode", ["disallow", "explicit"])
def test_prerelease_modes_that_refuse_say_so(mode: str) -> None:
    text = PRE.error("b", prerelease=mode)
    assert "pre-releases are available for `b` in the requested range (e.g., 1.0a1)" in text
    assert "--prerelease=allow" in text


def test_a_transitive_prerelease_specifier_is_explicit() -> None:
    assert PRE.pins("c") == {"a": "2.0b1", "c": "1.0"}
    assert PRE.pins("c", prerelease="if-necessary") == {"a": "1.0", "c": "1.0"}


# --- resolution modes ---------------------------------------------------------------

MODES = Universe({
    "top": {"1.0": ["dep>=1"], "2.0": ["dep>=1"]},
    "dep": {"1.0": [], "1.5": [], "2.0": []},
})


def test_resolution_modes() -> None:
    assert MODES.pins("top") == {"dep": "2.0", "top": "2.0"}
    assert MODES.pins("top", resolution="lowest") == {"dep": "1.0", "top": "1.0"}
    assert MODES.pins("top", resolution="lowest-direct") == {"dep": "2.0", "top": "1.0"}
    assert MODES.pins("top", "dep>1.0", resolution="lowest-direct") == {
        "dep": "1.5", "top": "1.0"}


def test_preferences_are_kept_when_allowed() -> None:
    prefs = {"dep": Version("1.5"), "top": Version("1.0")}
    assert MODES.pins("top", preferences=prefs) == {"dep": "1.5", "top": "1.0"}
    assert MODES.pins("top>1", "dep>=2", preferences=prefs) == {"dep": "2.0", "top": "2.0"}


@pytest.mark.parametrize(("kwargs", "fetched"), [
    ({}, ["dep==2.0", "top==2.0"]),
    ({"resolution": "lowest"}, ["dep==1.0", "top==1.0"]),
    # Oldest for the root only; its dependency at its newest.
    ({"resolution": "lowest-direct"}, ["dep==2.0", "top==1.0"]),
    ({"preferences": {"dep": Version("1.5")}}, ["dep==1.5", "top==2.0"]),
    ({"resolution": "lowest", "preferences": {"top": Version("2.0")}},
     ["dep==1.0", "top==2.0"]),
], ids=["highest", "lowest", "lowest-direct", "preference", "lowest-with-preference"])
def test_prefetch_fetches_only_what_the_solver_tries_first(
        kwargs: dict[str, Any], fetched: list[str]) -> None:
    # The likely-candidate prefetch runs ahead of the solver; a prefetch of any other
    # version (the newest under --resolution lowest) would be a wasted request.
    universe = Universe(MODES.projects)
    result = universe.resolve("top", **kwargs)
    assert sorted(f"{n}=={p.version}" for n, p in result.pins.items()) == fetched
    assert sorted(universe.fetched) == fetched


def test_first_choice_follows_the_solver_order() -> None:
    from packaging.specifiers import SpecifierSet

    from wherry.resolve.candidates import build_versions
    from wherry.resolve.prefetch import FirstChoice
    from wherry.resolve.ranges import PubGrubRange

    universe = Universe({"dep": {"1.0": [], "1.5": [], "2.0": [], "3.0a1": []}})
    project = build_versions("dep", universe.files_for("dep"), TAGS, Version("3.12.1"))
    above_one = PubGrubRange.from_specifier(SpecifierSet(">1.0"))
    from_two = PubGrubRange.from_specifier(SpecifierSet(">=2,<3"))

    def first(choice: FirstChoice, allowed: Any = None) -> str | None:
        found = choice.candidate(project, allowed)
        return None if found is None else str(found.version)

    assert first(FirstChoice()) == "2.0"
    assert first(FirstChoice(resolution="lowest")) == "1.0"
    assert first(FirstChoice(resolution="lowest"), above_one) == "1.5"
    assert first(FirstChoice(resolution="lowest-direct")) == "2.0"  # not a root
    assert first(FirstChoice(resolution="lowest-direct", roots={"dep"})) == "1.0"
    assert first(FirstChoice(prerelease="allow")) == "3.0a1"
    assert first(FirstChoice(explicit_prereleases={"dep"})) == "3.0a1"
    assert first(FirstChoice(prerelease="disallow", explicit_prereleases={"dep"})) == "2.0"
    assert first(FirstChoice(preferences={"dep": Version("1.5")})) == "1.5"
    assert first(FirstChoice(preferences={"dep": Version("1.5")}), from_two) == "2.0"
    # An installed version the requirement allows is kept: no metadata to fetch.
    assert first(FirstChoice(installed={"dep": Version("1.5")})) is None
    assert first(FirstChoice(installed={"dep": Version("1.0")}), above_one) == "2.0"


# --- overrides, excludes, constraints ----------------------------------------------

LAYERS = Universe({
    "app": {"1.0": ["lib<2", "telemetry"]},
    "lib": {"1.0": [], "2.0": ["extra-dep"]},
    "extra-dep": {"1.0": []},
    "telemetry": {"1.0": []},
})


def test_overrides_replace_transitive_requirements() -> None:
    assert LAYERS.pins("app") == {"app": "1.0", "lib": "1.0", "telemetry": "1.0"}
    assert LAYERS.pins("app", overrides=["lib>=2"]) == {
        "app": "1.0", "extra-dep": "1.0", "lib": "2.0", "telemetry": "1.0"}
    # An override whose marker does not match drops the requirement it replaces.
    assert LAYERS.pins("app", overrides=["lib; sys_platform == 'win32'"]) == {
        "app": "1.0", "telemetry": "1.0"}
    # Overrides replace root requirements too, and add nothing by themselves.
    assert LAYERS.pins("lib<2", overrides=["lib==2.0", "telemetry"]) == {
        "extra-dep": "1.0", "lib": "2.0"}


def test_excludes_drop_packages_entirely() -> None:
    assert LAYERS.pins("app", excludes=["telemetry"]) == {"app": "1.0", "lib": "1.0"}
    assert LAYERS.pins("app", "telemetry", excludes=["telemetry"]) == {
        "app": "1.0", "lib": "1.0"}


def test_constraints_with_prerelease_make_it_explicit() -> None:
    assert PRE.pins("a", constraints=["a>=1.0b1"]) == {"a": "2.0b1"}


# --- Requires-Python, yanked, cycles ------------------------------------------------

def test_requires_python_is_explained() -> None:
    universe = Universe({"new": {"1.0": [], "2.0": []}}, python={"new==2.0": ">=3.13"})
    assert universe.pins("new") == {"new": "1.0"}
    text = universe.error("new>=2")
    assert "`new` 2.0 requires Python >=3.13, and the target Python is 3.12.1" in text
    assert "your requirements are unsatisfiable" in text


def test_requires_python_in_metadata_is_a_dependency_on_python() -> None:
    projects: dict[str, dict[str, list[str]]] = {"new": {"1.0": []}}

    class WithPython(Universe):
        def fetch(self, file: DistFile) -> bytes:
            return b"Metadata-Version: 2.1\nName: new\nVersion: 1.0\nRequires-Python: >=3.13\n\n"

    universe = WithPython(projects)
    text = universe.error("new")
    assert "new==1.0 depends on Python>=3.13" in text
    assert "the current Python version (3.12.1) does not satisfy Python>=3.13" in text
    text = universe.error("new", python_requested=True)
    assert "the requested Python version (3.12.1)" in text


def test_yanked_versions_only_when_pinned() -> None:
    universe = Universe({"y": {"1.0": [], "2.0": []}}, yanked={"y==2.0": "broken build"})
    assert universe.pins("y") == {"y": "1.0"}
    assert universe.pins("y==2.0") == {"y": "2.0"}
    assert universe.pins("y===2.0") == {"y": "2.0"}
    text = universe.error("y>=2")
    assert "`y` 2.0 was yanked (reason: broken build); pin it with `y==2.0` to use it" in text


def test_dependency_cycles_resolve() -> None:
    universe = Universe({"a": {"1.0": ["b"]}, "b": {"1.0": ["c"]}, "c": {"1.0": ["a"]}})
    result = universe.resolve("a")
    assert {n: str(p.version) for n, p in result.pins.items()} == {
        "a": "1.0", "b": "1.0", "c": "1.0"}
    assert result.dependents == {"a": {"c"}, "b": {"a"}, "c": {"b"}}


def test_extras_are_proxies_pinned_to_their_base() -> None:
    universe = Universe({
        "web": {"1.0": ["fast; extra == 'speed'"], "2.0": ["fast>=2; extra == 'speed'"]},
        "fast": {"1.0": []},
    })
    assert universe.pins("web[speed]") == {"fast": "1.0", "web": "1.0"}
    result = universe.resolve("web[speed]")
    assert result.extras == {"web": {"speed"}}
    assert result.dependents == {"fast": {"web"}}


# --- version specifier semantics -----------------------------------------------------

SPECS = Universe({"v": {"1.0": [], "1.4.2": [], "1.5": [], "2.0": [], "2.0+local": [],
                        "2.0.post1": [], "2.1": [], "3.0": []}})


@pytest.mark.parametrize(("specifier", "expected"), [
    ("~=1.4", "1.5"),
    ("~=1.4.0", "1.4.2"),
    ("!=3.*", "2.1"),
    ("!=2.*,<3", "1.5"),
    ("==2.0", "2.0+local"),  # a local version satisfies a pin without one (PEP 440)
    ("==2.0+local", "2.0+local"),
    ("===2.0.post1", "2.0.post1"),
    (">2.0,<2.1", ""),  # `>2.0` excludes 2.0's post- and local releases
    ("<=2.0", "2.0+local"),
    ("==2.*", "2.1"),
])
def test_specifier_semantics(specifier: str, expected: str) -> None:
    if not expected:
        assert "unsatisfiable" in SPECS.error(f"v{specifier}")
    else:
        assert SPECS.pins(f"v{specifier}") == {"v": expected}


# --- errors: prose and hints -------------------------------------------------------

def test_conflict_prose_reads_like_uv() -> None:
    universe = Universe({"a": {"1.0": ["b>=2"]}, "b": {"1.0": [], "2.0": []}})
    text = universe.error("a", "b<2")
    assert text.splitlines()[:3] == [
        "error: no solution found when resolving dependencies:",
        "  Because only a==1.0 is available and a==1.0 depends on b>=2, we can conclude "
        "that all versions of a depend on b>=2.",
        "  And because you require a and b<2, we can conclude that your requirements are "
        "unsatisfiable.",
    ]


def test_shared_steps_are_numbered() -> None:
    universe = Universe({"a": {"1.0": ["c==1"]}, "b": {"1.0": ["c==2"]},
                         "c": {"1": [], "2": []}})
    text = universe.error("a", "b")
    assert "(1)" in text and "we know from (1) that" in text
    proof, _, hint = text.partition("\n  hint: ")
    assert proof.rstrip().endswith("your requirements are unsatisfiable.")
    assert hint.startswith("loosen one of the requirements named above")


def test_hint_no_wheel_for_platform() -> None:
    universe = Universe({"native": {"1.0": [], "2.0": []}},
                        tags={"native==2.0": "cp39-cp39-win_amd64"})
    text = universe.error("native>=2")
    assert "`native` 2.0 has no wheel compatible with this platform" in text
    assert "cp39-cp39-win_amd64" in text and "cp312-cp312-manylinux_2_17_x86_64" in text


def test_hint_unknown_project() -> None:
    assert "`ghost` was not found in the package index" in Universe({}).error("ghost")


def test_hint_other_index() -> None:
    universe = Universe({"split": {"1.0": []}})
    text = universe.error("split>=2", other_index=lambda name: f"{name} lives elsewhere")
    assert "hint: split lives elsewhere" in text


def test_other_index_hint_text() -> None:
    from wherry.commands.pipeline import _other_index_hint
    from wherry.settings import IndexSettings

    class Sources:
        def index_for(self, name: str) -> str:
            return "http://one.invalid/simple"

    # Extra indexes come first (as uv), then --index-url.
    settings = IndexSettings("http://two.invalid/simple", ["http://one.invalid/simple"])
    hint = _other_index_hint(Sources(), settings, "split")  # type: ignore[arg-type]
    assert hint is not None
    assert "`split` was found on http://one.invalid/simple" in hint
    assert "later index (http://two.invalid/simple)" in hint
    assert "--index-strategy unsafe-best-match" in hint
    best = IndexSettings("http://two.invalid/simple", ["http://one.invalid/simple"],
                         strategy="unsafe-best-match")
    assert _other_index_hint(Sources(), best, "split") is None  # type: ignore[arg-type]


# --- speed: batch prefetch while walking back, and the -v line ---------------------

def walk_back_universe(count: int) -> Universe:
    """`a` N..1 each need `b==N`; only `b` 1 is usable (the others need a missing
    project), so the solver must walk `a` back through every version."""
    a = {f"{i}.0": [f"b=={i}.0"] for i in range(1, count + 1)}
    b = {f"{i}.0": ([] if i == 1 else ["missing-project"]) for i in range(1, count + 1)}
    return Universe({"a": a, "b": b})


def test_walking_back_prefetches_batches_of_older_versions() -> None:
    universe = walk_back_universe(60)
    result = universe.resolve("a")
    assert {n: str(p.version) for n, p in result.pins.items()} == {"a": "1.0", "b": "1.0"}
    assert result.versions_tried >= 60
    # The batches ask for versions ahead of the solver: all of `a` gets fetched, and
    # never more than once.
    fetched_a = [f for f in universe.fetched if f.startswith("a==")]
    assert len(fetched_a) == len(set(fetched_a)) == 60


def test_hard_backtracking_finishes_in_seconds() -> None:
    universe = walk_back_universe(300)
    start = time.perf_counter()
    assert universe.pins("a") == {"a": "1.0", "b": "1.0"}
    assert time.perf_counter() - start < 5


def test_two_conflicting_packages_with_many_versions() -> None:
    """`a` i needs `b>=i`, `b` j needs `a<=j-100`: only `a` <= 100 works, and the solver
    must learn that through the top hundred versions of both."""
    universe = Universe({
        "a": {f"{i}": [f"b>={i}"] for i in range(1, 201)},
        "b": {f"{j}": [f"a<={j - 100}"] for j in range(1, 201)},
    })
    start = time.perf_counter()
    assert universe.pins("a", "b") == {"a": "100", "b": "200"}
    assert time.perf_counter() - start < 5


def test_tried_versions_line() -> None:
    assert tried_versions_line({"a": 3, "b": 1, "Python": 1, "c": 3}) == (
        "Tried 7 versions: a 3, c 3, b 1")
