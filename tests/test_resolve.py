"""The resolver against in-memory universes: semantics, errors, and a brute-force oracle."""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.tags import Tag
from packaging.version import Version

from wherry.cache.layout import Cache
from wherry.errors import ResolutionError
from wherry.index.models import DistFile
from wherry.platform.tags import TargetTags
from wherry.requirements.parse import parse_requirement
from wherry.resolve.metadata import parse_core_metadata
from wherry.resolve.provider import InstalledPreference
from wherry.resolve.resolution import resolve

TAGS = TargetTags([Tag("cp312", "cp312", "manylinux_2_17_x86_64"), Tag("py3", "none", "any")])
MARKERS = {
    "python_version": "3.12", "python_full_version": "3.12.1", "sys_platform": "linux",
    "platform_machine": "x86_64", "os_name": "posix", "implementation_name": "cpython",
    "platform_system": "Linux", "platform_python_implementation": "CPython",
    "platform_release": "6.0", "platform_version": "#1", "implementation_version": "3.12.1",
}

# name -> version -> (requires_dist, requires_python, tag)
Universe = Mapping[str, Mapping[str, tuple[list[str], str | None, str]]]


def _metadata(name: str, version: str, requires: list[str], requires_python: str | None) -> bytes:
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    if requires_python:
        lines.append(f"Requires-Python: {requires_python}")
    lines += [f"Requires-Dist: {r}" for r in requires]
    return ("\n".join(lines) + "\n\n").encode()


def run(universe: Universe, *requirements: str, installed: dict[str, str] | None = None,
        constraints: tuple[str, ...] = ()) -> dict[str, str]:
    def files_for(name: str) -> list[DistFile]:
        files = []
        for version, (_req, requires_python, tag) in universe.get(name, {}).items():
            filename = f"{name.replace('-', '_')}-{version}-{tag}.whl"
            files.append(DistFile(filename, f"memory://{filename}", "memory",
                                  requires_python=None if requires_python == "metadata-only"
                                  else requires_python,
                                  yanked="bad" if version.endswith("9") else False))
        return files

    def fetch(file: DistFile) -> bytes:
        name, version = file.filename.split("-")[:2]
        name = name.replace("_", "-")
        requires, requires_python, _tag = universe[name][version]
        rp = None if requires_python is None else requires_python.replace("metadata-only", "")
        if requires_python == "metadata-only":
            rp = ">=3.13"
        return _metadata(name, version, requires, rp)

    prefs = {}
    for name, version in (installed or {}).items():
        requires, rp, _t = universe[name][version]
        metadata = parse_core_metadata(_metadata(name, version, requires, rp))
        prefs[name] = InstalledPreference(Version(version), metadata)
    result = resolve(
        [parse_requirement(r, "test") for r in requirements],
        files_for=files_for, fetch_metadata=fetch, tags=TAGS, markers=MARKERS,
        python_version=Version("3.12.1"), installed=prefs,
        constraints=[parse_requirement(c, "test") for c in constraints],
    )
    return {name: str(pin.version) for name, pin in result.pins.items()}


ANY = "py3-none-any"


def test_picks_newest_compatible_versions() -> None:
    universe: Universe = {
        "a": {"1.0": (["b>=1"], None, ANY), "2.0": (["b>=2"], None, ANY)},
        "b": {
            "1.0": ([], None, ANY),
            "2.0": ([], None, ANY),
            "3.0": ([], None, "cp311-cp311-win_amd64"),
        },
    }
    assert run(universe, "a") == {"a": "2.0", "b": "2.0"}


def test_backtracks_on_conflict() -> None:
    universe: Universe = {
        "a": {"1.0": (["b<2"], None, ANY), "2.0": (["b>=3"], None, ANY)},
        "b": {"1.0": ([], None, ANY), "2.0": ([], None, ANY)},
    }
    assert run(universe, "a", "b") == {"a": "1.0", "b": "2.0"} or run(universe, "a", "b") == {
        "a": "1.0", "b": "1.0"}


def test_markers_and_extras() -> None:
    universe: Universe = {
        "a": {"1.0": (["b; extra == 'x'", "c; sys_platform == 'win32'", "d>=1"], None, ANY)},
        "b": {"1.0": ([], None, ANY)},
        "c": {"1.0": ([], None, ANY)},
        "d": {"1.0": ([], None, ANY), "2.0": ([], None, ANY)},
    }
    assert run(universe, "a") == {"a": "1.0", "d": "2.0"}
    assert run(universe, "a[x]") == {"a": "1.0", "b": "1.0", "d": "2.0"}
    assert run(universe, "a; python_version < '3'") == {}


def test_requires_python_from_index_and_metadata() -> None:
    universe: Universe = {
        "a": {
            "1.0": ([], None, ANY),
            "2.0": ([], ">=3.13", ANY),
            "3.0": ([], "metadata-only", ANY),
        },
    }
    assert run(universe, "a") == {"a": "1.0"}


def test_yanked_only_when_pinned() -> None:
    universe: Universe = {"a": {"1.0": ([], None, ANY), "1.9": ([], None, ANY)}}
    assert run(universe, "a") == {"a": "1.0"}
    assert run(universe, "a==1.9") == {"a": "1.9"}


def test_prereleases_only_when_needed_or_explicit() -> None:
    universe: Universe = {"a": {"1.0": ([], None, ANY), "2.0b1": ([], None, ANY)},
                "b": {"1.0a1": ([], None, ANY)}}
    assert run(universe, "a") == {"a": "1.0"}
    assert run(universe, "a>=2.0b1") == {"a": "2.0b1"}
    assert run(universe, "b") == {"b": "1.0a1"}


def test_installed_version_is_preferred() -> None:
    universe: Universe = {"a": {"1.0": ([], None, ANY), "2.0": ([], None, ANY)}}
    assert run(universe, "a", installed={"a": "1.0"}) == {"a": "1.0"}
    assert run(universe, "a>1", installed={"a": "1.0"}) == {"a": "2.0"}


def test_constraints_limit_but_do_not_add() -> None:
    universe: Universe = {"a": {"1.0": (["b"], None, ANY)},
                "b": {"1.0": ([], None, ANY), "2.0": ([], None, ANY)},
                "c": {"1.0": ([], None, ANY)}}
    assert run(universe, "a", constraints=("b<2", "c==1.0")) == {"a": "1.0", "b": "1.0"}


def test_unsatisfiable_explains_and_hints() -> None:
    universe: Universe = {
        "a": {"1.0": (["b>=2"], None, ANY)},
        "b": {"1.0": ([], None, ANY), "2.0": ([], None, "cp39-cp39-win_amd64")},
    }
    with pytest.raises(ResolutionError) as info:
        run(universe, "a")
    text = info.value.render()
    assert "a" in text and "b" in text and "depends on" in text
    assert "no wheel compatible" in text and "cp312-cp312-manylinux_2_17_x86_64" in text


def test_unknown_package_hint() -> None:
    with pytest.raises(ResolutionError) as info:
        run({}, "nope")
    assert "`nope` was not found" in info.value.render()


# --- property test against a brute-force oracle ------------------------------------------

NAMES = ["a", "b", "c", "d"]
VERSIONS = ["1", "2", "3"]


@st.composite
def universes(draw: st.DrawFn) -> tuple[dict[str, dict[str, tuple[list[str], None, str]]],
                                        list[str]]:
    universe: dict[str, dict[str, tuple[list[str], None, str]]] = {}
    for name in NAMES:
        versions = draw(st.lists(st.sampled_from(VERSIONS), min_size=0, max_size=3, unique=True))
        universe[name] = {}
        for version in versions:
            deps = []
            for other in draw(st.lists(st.sampled_from(NAMES), max_size=2, unique=True)):
                if other == name:
                    continue
                op = draw(st.sampled_from(["==", ">=", "<", "!="]))
                deps.append(f"{other}{op}{draw(st.sampled_from(VERSIONS))}")
            universe[name][version] = (deps, None, ANY)
    roots = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=2, unique=True))
    return universe, roots


def _valid(universe: Universe, roots: list[str], pins: Mapping[str, str]) -> bool:
    from packaging.requirements import Requirement

    for root in roots:
        if root not in pins:
            return False
    for name, version in pins.items():
        if version not in universe[name]:
            return False
        for dep in universe[name][version][0]:
            requirement = Requirement(dep)
            if requirement.name not in pins:
                return False
            if not requirement.specifier.contains(pins[requirement.name]):
                return False
    return True


def _oracle(universe: Universe, roots: list[str]) -> bool:
    options = [[None, *universe[name]] for name in NAMES]
    for combo in itertools.product(*options):
        pins = {name: v for name, v in zip(NAMES, combo, strict=True) if v is not None}
        if _valid(universe, roots, pins):
            return True
    return False


@settings(max_examples=150, deadline=None)
@given(universes())
def test_resolver_agrees_with_brute_force(case: tuple[Universe, list[str]]) -> None:
    universe, roots = case
    try:
        pins = run(universe, *roots)
    except ResolutionError:
        assert not _oracle(universe, roots)
    else:
        assert _valid(universe, roots, pins)


def test_cache_layout_is_versioned(tmp_path: object) -> None:
    from pathlib import Path

    cache = Cache.at(Path(str(tmp_path)))
    assert cache.bucket("archives").name.endswith("-v1")
    assert (cache.root / "CACHEDIR.TAG").is_file()


# --- the string fast path for wheel filenames agrees with packaging ----------------------

_TAG_PARTS = st.tuples(
    st.sampled_from(["cp312", "py3", "py2.py3", "cp311", "pp310"]),
    st.sampled_from(["cp312", "none", "abi3", "cp311"]),
    st.sampled_from(["manylinux_2_17_x86_64", "any", "win_amd64",
                     "manylinux2014_x86_64.manylinux_2_17_x86_64", "macosx_11_0_arm64"]),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["1.0", "1.0.post1", "2.0rc1", "1.0_1", "bad!"]),
                          _TAG_PARTS, st.booleans()), max_size=12))
def test_build_versions_matches_packaging(
    files: list[tuple[str, tuple[str, str, str], bool]]
) -> None:
    from packaging.tags import Tag as PTag
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename

    from wherry.resolve.candidates import build_versions

    tags = TargetTags([PTag("cp312", "cp312", "manylinux_2_17_x86_64"),
                       PTag("cp312", "abi3", "manylinux_2_17_x86_64"),
                       PTag("py3", "none", "any")])
    dist_files = [
        DistFile(f"demo-{v}-{'-'.join(t)}.whl", f"memory://{i}", "memory",
                 yanked="x" if yanked else False)
        for i, (v, t, yanked) in enumerate(files)
    ]
    result = build_versions("demo", dist_files, tags, Version("3.12.1"))
    expected: dict[Version, int] = {}
    for file in dist_files:
        try:
            _n, version, _b, file_tags = parse_wheel_filename(file.filename)
        except InvalidWheelFilename:
            continue
        rank = tags.best_rank(file_tags)
        if rank is not None and (version not in expected or rank < expected[version]):
            expected[version] = rank
    assert set(result.candidates) | set(result.yanked) == set(expected)
