"""The resolver against a brute-force oracle on small random universes.

Versions include post and local releases and specifiers use every PEP 440 operator that
matters for ranges (`==`, `!=`, `>=`, `<`, `>`, `<=`, `~=`, `==X.*`, `!=X.*`), so this
also checks that wherry's ranges mean what `packaging`'s specifiers mean. Besides
"satisfiable exactly when a solution exists" and "the answer is valid", it checks the
choices `--resolution highest` promises: the first root gets the highest version any
solution allows, and when the newest version of everything works, that is the answer.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.requirements import Requirement
from packaging.version import Version

from tests.test_resolver_modes import Universe
from wherry.errors import ResolutionError

NAMES = ["a", "b", "c", "d"]
VERSIONS = ["1.0", "1.5", "2.0", "2.0.post1", "2.0+loc", "3.0"]
OPERATORS = ["==", ">=", "<", ">", "<=", "!=", "~=", "==*", "!=*"]

Projects = dict[str, dict[str, list[str]]]


def _specifier(op: str, version: str) -> str:
    base = Version(version).base_version  # wildcards and ~= take no local/post part
    if op == "==*":
        return f"=={base.rsplit('.', 1)[0]}.*"
    if op == "!=*":
        return f"!={base.rsplit('.', 1)[0]}.*"
    if op == "~=":
        return f"~={base}"
    if op in ("<", ">", "<=", ">=") and "+" in version:
        return f"{op}{base}"  # ordered comparisons take no local version
    return f"{op}{version}"


@st.composite
def universes(draw: st.DrawFn) -> tuple[Projects, list[str]]:
    projects: Projects = {}
    for name in NAMES:
        versions = draw(st.lists(st.sampled_from(VERSIONS), max_size=4, unique=True))
        projects[name] = {}
        for version in versions:
            deps = []
            for other in draw(st.lists(st.sampled_from(NAMES), max_size=2, unique=True)):
                if other == name:
                    continue
                op = draw(st.sampled_from(OPERATORS))
                deps.append(f"{other}{_specifier(op, draw(st.sampled_from(VERSIONS)))}")
            projects[name][version] = deps
    roots = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=2, unique=True))
    return projects, roots


def _valid(projects: Projects, roots: list[str], pins: Mapping[str, str]) -> bool:
    if any(root not in pins for root in roots):
        return False
    for name, version in pins.items():
        if version not in projects[name]:
            return False
        for dep in projects[name][version]:
            requirement = Requirement(dep)
            pinned = pins.get(requirement.name)
            if pinned is None or not requirement.specifier.contains(pinned, prereleases=True):
                return False
    return True


def _solutions(projects: Projects, roots: list[str]) -> list[dict[str, str]]:
    options = [[None, *projects[name]] for name in NAMES]
    found = []
    for combo in itertools.product(*options):
        pins = {name: v for name, v in zip(NAMES, combo, strict=True) if v is not None}
        if _valid(projects, roots, pins):
            found.append(pins)
    return found


def _newest_closure(projects: Projects, roots: list[str]) -> dict[str, str] | None:
    """Every reachable package at its newest version, if that is a consistent answer."""
    pins: dict[str, str] = {}
    pending = list(roots)
    while pending:
        name = pending.pop()
        if name in pins:
            continue
        if not projects[name]:
            return None
        pins[name] = str(max(projects[name], key=Version))
        pending.extend(Requirement(dep).name for dep in projects[name][pins[name]])
    return pins if _valid(projects, roots, pins) else None


@settings(max_examples=600, deadline=None)
@given(universes())
def test_resolver_agrees_with_brute_force(case: tuple[Projects, list[str]]) -> None:
    projects, roots = case
    universe = Universe(projects)
    solutions = _solutions(projects, roots)
    try:
        pins = universe.pins(*roots)
    except ResolutionError as exc:
        assert not solutions, f"missed solution {solutions[0]}"
        assert "unsatisfiable" in exc.render()
        return
    assert _valid(projects, roots, pins), pins
    # The first package decided is the only root when there is one: PubGrub rules a
    # version out only by proof, so it ends at the highest version any solution has.
    if len(roots) == 1:
        best = max(Version(s[roots[0]]) for s in solutions)
        assert Version(pins[roots[0]]) == best
    newest = _newest_closure(projects, roots)
    if newest is not None:
        assert pins == newest
