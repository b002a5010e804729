"""Markers as sets of environments (universal resolution's algebra), checked against
`packaging`'s evaluation of the same markers in concrete environments."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.markers import Marker
from packaging.version import Version

from wherry.resolve.marker_algebra import PYTHON, MarkerSet, _interval, from_marker

PYTHONS = ["3.8.0", "3.8.10", "3.9.1", "3.10.0", "3.10.4", "3.11.2", "3.12.0", "3.13.1"]
PLATFORMS = [("linux", "Linux", "posix"), ("win32", "Windows", "nt"),
             ("darwin", "Darwin", "posix")]
MACHINES = ["x86_64", "aarch64"]


def environments() -> list[dict[str, str]]:
    found = []
    for full, (sys_platform, system, os_name), machine in itertools.product(
            PYTHONS, PLATFORMS, MACHINES):
        found.append({
            "python_full_version": full, "python_version": ".".join(full.split(".")[:2]),
            "sys_platform": sys_platform, "platform_system": system, "os_name": os_name,
            "platform_machine": machine, "implementation_name": "cpython",
            "platform_python_implementation": "CPython", "platform_release": "",
            "platform_version": "", "implementation_version": full, "extra": "",
        })
    return found


ENVIRONMENTS = environments()

ATOMS = [
    "python_version >= '3.10'", "python_version < '3.9'", "python_version == '3.10'",
    "python_version != '3.11'", "python_version <= '3.9'", "python_version > '3.11'",
    "python_version ~= '3.9'", "python_full_version >= '3.10.4'",
    "python_full_version < '3.8.10'", "python_full_version == '3.12.*'",
    "python_full_version != '3.9.1'", "sys_platform == 'win32'", "sys_platform != 'linux'",
    "platform_system == 'Darwin'", "os_name == 'nt'", "platform_machine == 'aarch64'",
    "'linux' in sys_platform", "'3.9' <= python_version", "implementation_name == 'pypy'",
]


@st.composite
def markers(draw: st.DrawFn, depth: int = 2) -> str:
    if depth == 0 or draw(st.booleans()):
        return draw(st.sampled_from(ATOMS))
    left = draw(markers(depth - 1))
    right = draw(markers(depth - 1))
    return f"({left}) {draw(st.sampled_from(['and', 'or']))} ({right})"


@settings(max_examples=300, deadline=None)
@given(markers(), markers())
def test_set_operations_agree_with_evaluation(first: str, second: str) -> None:
    a, b = Marker(first), Marker(second)
    sa, sb = from_marker(a), from_marker(b)
    for env in ENVIRONMENTS:
        ina, inb = a.evaluate(env), b.evaluate(env)
        assert sa.contains(env) == ina, (first, env)
        assert (sa & sb).contains(env) == (ina and inb)
        assert (sa | sb).contains(env) == (ina or inb)
        assert (~sa).contains(env) == (not ina), (first, env)
    if (sa & sb).is_empty:
        assert not any(a.evaluate(e) and b.evaluate(e) for e in ENVIRONMENTS)


@settings(max_examples=200, deadline=None)
@given(markers())
def test_rendered_markers_mean_the_same(text: str) -> None:
    marker = from_marker(Marker(text))
    rendered = marker.render()
    if rendered is None:
        assert marker.is_empty or all(Marker(text).evaluate(e) for e in ENVIRONMENTS)
        return
    again = Marker(rendered)
    for env in ENVIRONMENTS:
        assert again.evaluate(env) == Marker(text).evaluate(env), (text, rendered, env)


def test_rendering_relative_to_the_python_floor() -> None:
    base = MarkerSet.atom(PYTHON, _interval(Version("3.8"), True, None, False))
    new = from_marker(Marker("python_version >= '3.10'"))
    old = from_marker(Marker("python_version < '3.10'"))
    assert new.is_disjoint(old)
    assert (new | old).render(base) is None
    assert old.render(base) == "python_full_version < '3.10'"
    assert (~new).render(base) == "python_full_version < '3.10'"
    windows = from_marker(Marker("sys_platform == 'win32'"))
    assert ((windows & new) | (windows & old)).render(base) == "sys_platform == 'win32'"
    assert from_marker(Marker("python_version < '3.8'")).render(base) == (
        "python_full_version < '3.8'")
    assert (base & from_marker(Marker("python_version < '3.8'"))).is_empty


def test_extras_are_fixed() -> None:
    marker = Marker("extra == 'd' and os_name == 'nt'")
    assert from_marker(marker).is_empty
    assert from_marker(marker, frozenset({"d"})).render() == "os_name == 'nt'"


def test_python_lower_bound() -> None:
    floor = Version("3.8")
    assert from_marker(Marker("python_version >= '3.10'")).python_lower_bound(floor) == \
        Version("3.10")
    assert from_marker(Marker("sys_platform == 'win32'")).python_lower_bound(floor) == floor
