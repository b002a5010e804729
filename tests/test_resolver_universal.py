"""Universal resolution (`pip compile --universal`): forks on disjoint markers, markers
on the output, Requires-Python against the floor, and a property check that for every
concrete environment the pins whose markers hold form a valid resolution."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.requirements import Requirement
from packaging.version import Version

from tests.test_resolver_modes import Universe
from wherry.errors import ResolutionError
from wherry.requirements.parse import parse_requirement
from wherry.resolve.universal import UniversalResolution, resolve_universal


def universal(universe: Universe, *requirements: str, floor: str = "3.8",
              **kwargs: Any) -> UniversalResolution:
    return resolve_universal(
        [parse_requirement(r, "requirements.in (line 1)") for r in requirements],
        python_floor=Version(floor), files_for=universe.files_for,
        fetch_metadata=universe.fetch, **kwargs,
    )


def lines(result: UniversalResolution) -> list[str]:
    out = []
    for pin in result.pins:
        marker = result.marker_text(pin)
        out.append(f"{pin.name}=={pin.version}" + (f" ; {marker}" if marker else ""))
    return out


def test_forks_on_disjoint_markers() -> None:
    universe = Universe({
        "app": {"1.0": ["numpy>=2; python_version >= '3.10'",
                        "numpy<2; python_version < '3.10'",
                        "colorama; sys_platform == 'win32'", "click"]},
        "numpy": {"1.26.4": [], "2.1.0": []},
        "colorama": {"0.4.6": []},
        "click": {"8.1.7": ["colorama; platform_system == 'Windows'"]},
    })
    result = universal(universe, "app")
    assert result.forks == 2
    assert lines(result) == [
        "app==1.0",
        "click==8.1.7",
        "colorama==0.4.6 ; sys_platform == 'win32'",
        "numpy==1.26.4 ; python_full_version < '3.10'",
        "numpy==2.1.0 ; python_full_version >= '3.10'",
    ]


def test_root_requirements_fork_and_platform_wheels_count() -> None:
    universe = Universe({"lib": {"1.0": [], "2.0": []}, "winonly": {"1.0": []}},
                        tags={"winonly==1.0": "cp312-cp312-win_amd64"})
    result = universal(universe, "lib<2; sys_platform == 'win32'",
                       "lib>=2; sys_platform != 'win32'", "winonly; os_name == 'nt'")
    assert lines(result) == [
        "lib==1.0 ; sys_platform == 'win32'",
        "lib==2.0 ; sys_platform != 'win32'",
        "winonly==1.0 ; os_name == 'nt'",
    ]


def test_requires_python_forks_so_newer_pythons_get_newer_versions() -> None:
    # uv's default `requires-python` fork strategy: each Python gets the newest version
    # it can run.
    universe = Universe({"new": {"1.0": [], "2.0": [], "3.0": []}},
                        python={"new==2.0": ">=3.10", "new==3.0": ">=3.11"})
    result = universal(universe, "new")
    assert result.forks == 3
    assert lines(result) == ["new==1.0 ; python_full_version < '3.10'",
                             "new==2.0 ; python_full_version == '3.10.*'",
                             "new==3.0 ; python_full_version >= '3.11'"]
    assert lines(universal(universe, "new", floor="3.11")) == ["new==3.0"]
    assert lines(universal(universe, "new<3", floor="3.8")) == [
        "new==1.0 ; python_full_version < '3.10'", "new==2.0 ; python_full_version >= '3.10'"]
    # A metadata-only Requires-Python (no file says it) is a plain constraint.
    only_metadata = Universe({"old": {"1.0": []}})
    assert lines(universal(only_metadata, "old")) == ["old==1.0"]


def test_failures_name_the_fork() -> None:
    universe = Universe({"lib": {"1.0": []}})
    with pytest.raises(ResolutionError) as info:
        universal(universe, "lib>=2; sys_platform == 'win32'", "lib<2; sys_platform != 'win32'")
    assert "for sys_platform == 'win32'" in info.value.render()


# --- property: every concrete environment gets a valid resolution ------------------

NAMES = ["a", "b", "c"]
VERSIONS = ["1.0", "2.0", "3.0"]
MARKERS = ["", "; sys_platform == 'win32'", "; sys_platform != 'win32'",
           "; python_version >= '3.10'", "; python_version < '3.10'",
           "; python_version < '3.10' and sys_platform == 'linux'"]
PYTHON_FLOORS = [None, None, ">=3.9", ">=3.10"]
FORKING_PAIRS = [("python_version >= '3.10'", "python_version < '3.10'"),
                 ("sys_platform == 'win32'", "sys_platform != 'win32'"),
                 ("sys_platform == 'linux' and python_version < '3.9'",
                  "sys_platform == 'darwin'")]
ENVS = [
    {"python_full_version": full, "python_version": full.rsplit(".", 1)[0],
     "sys_platform": plat, "os_name": "posix",
     "platform_system": {"linux": "Linux", "win32": "Windows", "darwin": "Darwin"}[plat],
     "platform_machine": "x86_64", "implementation_name": "cpython",
     "platform_python_implementation": "CPython", "platform_release": "",
     "platform_version": "", "implementation_version": full, "extra": ""}
    for full, plat in itertools.product(["3.8.0", "3.9.5", "3.10.0", "3.12.1"],
                                        ["linux", "win32", "darwin"])
]


@st.composite
def cases(draw: st.DrawFn) -> tuple[Universe, list[str]]:
    projects: dict[str, dict[str, list[str]]] = {}
    python: dict[str, str] = {}
    for name in NAMES:
        projects[name] = {}
        for version in draw(st.lists(st.sampled_from(VERSIONS), min_size=1, max_size=3,
                                     unique=True)):
            deps = []
            for other in draw(st.lists(st.sampled_from(NAMES), max_size=2)):
                if other == name:
                    continue
                op = draw(st.sampled_from([">=", "<", "!=", "=="]))
                deps.append(f"{other}{op}{draw(st.sampled_from(VERSIONS))}"
                            f"{draw(st.sampled_from(MARKERS))}")
            if draw(st.booleans()):  # a pair that makes the resolution fork
                other = draw(st.sampled_from([n for n in NAMES if n != name]))
                split = draw(st.sampled_from(FORKING_PAIRS))
                bound = draw(st.sampled_from(VERSIONS[1:]))
                deps += [f"{other}>={bound}; {split[0]}", f"{other}<{bound}; {split[1]}"]
            projects[name][version] = deps
            floor = draw(st.sampled_from(PYTHON_FLOORS))
            if floor:
                python[f"{name}=={version}"] = floor
    roots = [f"{name}{draw(st.sampled_from(MARKERS))}"
             for name in draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=2))]
    return Universe(projects, python=python), roots


@settings(max_examples=200, deadline=None)
@given(cases())
def test_each_environment_gets_a_valid_resolution(case: tuple[Universe, list[str]]) -> None:
    universe, roots = case
    try:
        result = universal(universe, *roots)
    except ResolutionError:
        return  # unsatisfiable somewhere; nothing to check
    for env in ENVS:
        chosen: dict[str, str] = {}
        for pin in result.pins:
            if pin.marker.contains(env):
                assert pin.name not in chosen, (pin.name, env)
                chosen[pin.name] = str(pin.version)
        python = Version(env["python_full_version"])
        needed = [Requirement(r) for r in roots]
        for name, version in chosen.items():
            needed += [Requirement(d) for d in universe.projects[name][version]]
            requires_python = universe.python.get(f"{name}=={version}")
            if requires_python:
                assert python in Requirement(f"x{requires_python}").specifier
        for requirement in needed:
            if requirement.marker is not None and not requirement.marker.evaluate(env):
                continue
            assert requirement.name in chosen, (requirement, env, chosen)
            assert requirement.specifier.contains(chosen[requirement.name]), (
                requirement, env, chosen)
