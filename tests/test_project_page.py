"""The lazy version map (index/project_page.py, resolve/candidates.py) under hypothesis.

A project's files grouped by version, stored in the page cache's shape and read back
lazily, must give exactly the versions a plain file list gives, and both must agree with a
brute-force oracle written from the rules (best-ranked compatible wheel, else an sdist;
Requires-Python; yanked; other projects' files and bad versions ignored). Deciding only
some versions (as the resolver does) must give the same answers as deciding all.
"""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packaging.tags import Tag
from packaging.version import InvalidVersion, Version

from wherry.errors import IndexError_
from wherry.index.models import DistFile
from wherry.index.project_page import ProjectFiles, ProjectPage, StoredFiles
from wherry.index.simple import file_row, malformed_json_page, split_json_page
from wherry.platform.tags import TargetTags
from wherry.resolve.candidates import BinaryPolicy, build_versions, python_allows

TAGS = TargetTags([Tag("cp312", "cp312", "manylinux_2_17_x86_64"), Tag("py3", "none", "any")])
PY = Version("3.12.1")
INDEX = "https://index.example/simple"
FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_versions = st.sampled_from(["1.0", "1.0.0", "1.1", "2.0rc1", "2.0", "10.0", "0.9.post1",
                             "bad!", "1.0-1"])
_names = st.sampled_from(["demo", "Demo", "demo_x", "other"])
_YANKED: list[bool | str] = [False, False, "", "broken"]
_wheel_tags = st.sampled_from(["py3-none-any", "cp312-cp312-manylinux_2_17_x86_64",
                               "cp311-cp311-win32", "py2-none-any"])


@st.composite
def dist_files(draw: st.DrawFn) -> DistFile:
    name = draw(_names)
    version = draw(_versions)
    kind = draw(st.sampled_from(["wheel", "sdist", "zip", "junk"]))
    if kind == "wheel":
        filename = f"{name}-{version}-{draw(_wheel_tags)}.whl"
    elif kind == "sdist":
        filename = f"{name}-{version}.tar.gz"
    elif kind == "zip":
        filename = f"{name}-{version}.zip"
    else:
        filename = f"{name}-{version}-extra-parts-py3-none-any.whl"
    return DistFile(
        filename=filename,
        url=f"https://files.example/{draw(st.integers(0, 10**6))}/{filename}",
        index_url=INDEX,
        hashes={"sha256": "ab" * 32},
        requires_python=draw(st.sampled_from([None, ">=3.8", "<3", ">=3.13"])),
        yanked=draw(st.sampled_from(_YANKED)),
    )


def _oracle(files: list[DistFile], builds: bool = True
            ) -> tuple[dict[Version, DistFile], set[Version], set[Version]]:
    """`(usable and yanked versions -> chosen file, yanked versions, all versions)`."""
    groups: dict[Version, list[DistFile]] = {}
    for file in files:
        filename = file.filename
        if filename.endswith(".whl"):
            parts = filename[:-4].split("-")
            if len(parts) not in (5, 6):
                continue
            name, text = parts[0], parts[1]
        elif filename.endswith((".tar.gz", ".zip")):
            stem = filename[:-7] if filename.endswith(".tar.gz") else filename[:-4]
            name, _, text = stem.rpartition("-")
        else:
            continue
        if name.lower().replace("_", "-") != "demo":
            continue
        try:
            version = Version(text)
        except InvalidVersion:
            continue
        groups.setdefault(version, []).append(file)
    chosen: dict[Version, DistFile] = {}
    for version, members in groups.items():
        ok = [f for f in members if python_allows(f.requires_python, PY)]
        wheels = []
        for f in ok:
            if f.filename.endswith(".whl"):
                rank = TAGS.rank_of_filename_tags(*f.filename[:-4].split("-")[-3:])
                if rank is not None:
                    wheels.append((rank, f.is_yanked, members.index(f), f))
        if wheels:
            chosen[version] = min(wheels, key=lambda w: w[:3])[3]
            continue
        sdists = [f for f in ok if not f.filename.endswith(".whl")]
        if sdists and builds:
            chosen[version] = min(sdists, key=lambda f: (f.is_yanked, members.index(f)))
    yanked = {v for v, f in chosen.items() if f.is_yanked}
    return chosen, yanked, set(groups)


def _round_trip(files: list[DistFile]) -> ProjectFiles:
    """The files as the page cache stores and reads them back (groups still undecoded)."""
    stored = ProjectPage.from_files(files, "demo").to_stored()
    again = msgspec.msgpack.decode(msgspec.msgpack.encode(stored), type=StoredFiles)
    return ProjectFiles([ProjectPage.from_stored(again, INDEX)])


@FAST
@given(st.lists(dist_files(), max_size=30), st.booleans())
def test_lazy_and_plain_versions_agree_with_the_oracle(files: list[DistFile],
                                                       builds: bool) -> None:
    policy = None if builds else BinaryPolicy(only_binary_all=True)
    plain = build_versions("demo", files, TAGS, PY, policy=policy)
    lazy = build_versions("demo", _round_trip(files), TAGS, PY, policy=policy)
    chosen, yanked, every = _oracle(files, builds)
    # Lazy first, a version at a time, newest first, as the resolver reads it.
    walked = [(c.version, c.wheel.filename) for c in lazy.ordered()]
    assert walked == sorted(((v, f.filename) for v, f in chosen.items() if v not in yanked),
                            key=lambda item: item[0], reverse=True)
    for version in every:
        found = lazy.candidates.get(version) or lazy.yanked.get(version)
        assert (found.wheel.filename if found else None) == (
            chosen[version].filename if version in chosen else None)
    assert lazy == plain
    assert set(plain.all_versions()) == every
    assert plain.all_versions() == sorted(every, reverse=True)
    assert set(plain.yanked) == yanked
    assert set(plain.rejected) == every - set(chosen)


@FAST
@given(st.lists(dist_files(), max_size=30))
def test_a_stored_page_keeps_every_file_in_page_order(files: list[DistFile]) -> None:
    project = _round_trip(files)
    assert list(project) == files
    assert project.pages[0].count == len(files)
    assert list(ProjectFiles([ProjectPage.from_files(files, "demo")])) == files


PAGE_URL = f"{INDEX}/demo/"


def _json_page(files: list[DistFile]) -> ProjectPage:
    """The files as a fetched PEP 691 page, split and grouped without decoding its files."""
    body = msgspec.json.encode({"meta": {"api-version": "1.1"}, "name": "demo",
                                "files": [file_row(file) for file in files]})
    filenames, raws = split_json_page(body, PAGE_URL)
    return ProjectPage.from_json(PAGE_URL, filenames, raws, INDEX, "demo")


@FAST
@given(st.lists(dist_files(), max_size=30), st.booleans())
def test_a_json_page_grouped_undecoded_gives_the_same_files_and_versions(
        files: list[DistFile], builds: bool) -> None:
    policy = None if builds else BinaryPolicy(only_binary_all=True)
    fresh = ProjectFiles([_json_page(files)])
    assert list(fresh) == files
    assert build_versions("demo", fresh, TAGS, PY, policy=policy) == build_versions(
        "demo", files, TAGS, PY, policy=policy)
    stored = msgspec.msgpack.decode(
        msgspec.msgpack.encode(_json_page(files).to_stored()), type=StoredFiles)
    assert list(ProjectFiles([ProjectPage.from_stored(stored, INDEX)])) == files


def test_a_malformed_file_object_is_reported_when_its_version_is_read() -> None:
    good = {"filename": "demo-1.0-py3-none-any.whl", "url": "https://files.example/a.whl",
            "hashes": {"sha256": "ab" * 32}}
    bad = {"filename": "demo-2.0-py3-none-any.whl", "url": "https://files.example/b.whl",
           "hashes": 7}
    body = msgspec.json.encode({"files": [good, bad]})
    filenames, raws = split_json_page(body, PAGE_URL)

    def damaged(detail: str) -> None:
        raise malformed_json_page(PAGE_URL, detail)

    page = ProjectPage.from_json(PAGE_URL, filenames, raws, INDEX, "demo", damaged)
    older, newer = page.groups[1], page.groups[0]
    assert [file.filename for _, file in older.files()] == ["demo-1.0-py3-none-any.whl"]
    with pytest.raises(IndexError_, match="Malformed JSON project page") as caught:
        newer.files()
    assert caught.value.hint


@pytest.mark.parametrize("body", [b"{", b'{"files": [{"url": "x"}]}', b'{"files": 3}',
                                  b'{"files": [{"filename": 1, "url": "x"}]}'])
def test_a_page_that_is_not_pep_691_is_refused_at_once(body: bytes) -> None:
    with pytest.raises(IndexError_, match="Malformed JSON project page"):
        split_json_page(body, PAGE_URL)
