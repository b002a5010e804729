"""`--exclude-newer`: parsing the cutoff, hiding files by upload time, hints, end to end."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from packaging.tags import Tag
from packaging.version import Version

from tests.support import MakeIndex, RunWherry
from tests.support.packages import Wheelhouse
from wherry.errors import ResolutionError, UsageError
from wherry.index.models import DistFile
from wherry.platform.tags import TargetTags
from wherry.requirements.parse import parse_requirement
from wherry.resolve import candidates
from wherry.resolve.candidates import build_versions, format_cutoff, parse_exclude_newer
from wherry.resolve.report import hints_for
from wherry.resolve.resolution import resolve

TAGS = TargetTags([Tag("cp312", "cp312", "manylinux_2_17_x86_64"), Tag("py3", "none", "any")])
PY = Version("3.12.1")
UTC = timezone.utc
INDEX = "http://index.invalid/simple"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0,
        microsecond: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, microsecond, tzinfo=UTC)


@pytest.fixture
def local_zone() -> Iterator[None]:
    """Restore the process's time zone after a test changed `TZ`."""
    saved = os.environ.get("TZ")
    yield
    if saved is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = saved
    time.tzset()


def set_zone(zone: str) -> None:
    os.environ["TZ"] = zone
    time.tzset()


# -- parsing the cutoff -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-25T00:00:00Z", utc(2024, 3, 25)),
        ("2024-03-25t10:20:30z", utc(2024, 3, 25, 10, 20, 30)),
        ("2024-03-25 10:20:30Z", utc(2024, 3, 25, 10, 20, 30)),
        ("2024-03-25T10:00:00+02:00", utc(2024, 3, 25, 8)),
        ("2024-03-25T10:00:00-05:30", utc(2024, 3, 25, 15, 30)),
        ("2024-03-25T10:00:00.5Z", utc(2024, 3, 25, 10, 0, 0, 500000)),
        ("2024-03-25T10:00:00.123456789Z", utc(2024, 3, 25, 10, 0, 0, 123456)),
        ("  2024-03-25T10:00Z ", utc(2024, 3, 25, 10)),
    ],
)
def test_timestamps_are_exact_instants(text: str, expected: datetime) -> None:
    cutoff = parse_exclude_newer(text)
    assert cutoff == expected
    assert cutoff.tzinfo is not None


def test_a_date_means_the_end_of_that_day_in_local_time(local_zone: None) -> None:
    set_zone("UTC0")
    assert parse_exclude_newer("2024-03-25") == utc(2024, 3, 26)
    set_zone("EST5")  # POSIX: five hours behind UTC, no daylight saving
    assert parse_exclude_newer("2024-03-25") == utc(2024, 3, 26, 5)
    set_zone("JST-9")
    assert parse_exclude_newer("2024-03-25") == utc(2024, 3, 25, 15)
    # a date-time without an offset is local time too
    assert parse_exclude_newer("2024-03-25T09:00:00") == utc(2024, 3, 25)


@pytest.mark.parametrize(
    "text",
    ["", "yesterday", "2024-13-01", "2024-02-30", "2024-03-25T25:00:00Z", "2024-W13-1",
     "20240325", "2024-03-25T00:00:00+25:00", "2024-03-25T00:00:00Q", "9999-12-31",
     "2024-03-25T", "٢٠٢٤-٠٣-٢٥", "7 days"],
)
def test_bad_values_are_usage_errors_with_a_hint(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_exclude_newer(text)
    assert caught.value.exit_code == 2
    assert f"`{text}`" in caught.value.message
    assert caught.value.hint is not None and "2024-03-25T00:00:00Z" in caught.value.hint


def test_format_cutoff() -> None:
    assert format_cutoff(utc(2024, 3, 25)) == "2024-03-25T00:00:00Z"
    assert format_cutoff(utc(2024, 3, 25, 1, 2, 3, 500000)) == "2024-03-25T01:02:03.5Z"


# -- filtering candidates ---------------------------------------------------------------


def wheel(name: str, version: str, upload_time: str | None, *, index: str = INDEX,
          tag: str = "py3-none-any") -> DistFile:
    filename = f"{name}-{version}-{tag}.whl"
    return DistFile(filename, f"{index}/{filename}", index, upload_time=upload_time)


FILES = [
    wheel("pkg", "1.0", "2024-01-01T00:00:00.000000Z"),
    wheel("pkg", "1.5", "2024-03-24T23:59:59.999999Z"),
    wheel("pkg", "2.0", "2024-03-25T00:00:00Z"),  # exactly at the cutoff: hidden, as uv
    wheel("pkg", "3.0", "2024-06-01T12:00:00+02:00"),
]


def test_without_a_cutoff_nothing_is_hidden() -> None:
    project = build_versions("pkg", FILES, TAGS, PY)
    assert sorted(map(str, project.candidates)) == ["1.0", "1.5", "2.0", "3.0"]


def test_files_at_or_after_the_cutoff_are_hidden() -> None:
    project = build_versions("pkg", FILES, TAGS, PY, exclude_newer=utc(2024, 3, 25))
    assert [str(c.version) for c in project.ordered()] == ["1.5", "1.0"]
    assert project.hidden_by_exclude_newer() == [Version("3.0"), Version("2.0")]
    assert "--exclude-newer cutoff (2024-03-25T00:00:00Z)" in project.rejected[Version("3.0")]


def test_offsets_are_compared_as_instants() -> None:
    files = [wheel("pkg", "1.0", "2024-03-25T01:00:00+02:00")]  # 2024-03-24T23:00Z
    project = build_versions("pkg", files, TAGS, PY, exclude_newer=utc(2024, 3, 25))
    assert list(project.candidates) == [Version("1.0")]


def test_a_hidden_file_does_not_hide_its_older_sibling() -> None:
    files = [
        wheel("pkg", "2.0", "2024-01-01T00:00:00Z"),
        wheel("pkg", "2.0", "2024-05-01T00:00:00Z", tag="cp312-cp312-manylinux_2_17_x86_64"),
    ]
    project = build_versions("pkg", files, TAGS, PY, exclude_newer=utc(2024, 3, 25))
    assert project.candidates[Version("2.0")].wheel.filename == "pkg-2.0-py3-none-any.whl"
    unfiltered = build_versions("pkg", files, TAGS, PY)
    assert "manylinux" in unfiltered.candidates[Version("2.0")].wheel.filename


def test_visible_files_explain_a_version_before_hidden_ones() -> None:
    files = [
        wheel("pkg", "2.0", "2024-01-01T00:00:00Z", tag="cp39-cp39-win_amd64"),
        wheel("pkg", "2.0", "2024-05-01T00:00:00Z"),
    ]
    project = build_versions("pkg", files, TAGS, PY, exclude_newer=utc(2024, 3, 25))
    assert project.rejected == {Version("2.0"): "has no wheel compatible with this platform"}


def test_files_without_upload_time_are_hidden_when_their_index_publishes_times() -> None:
    files = [wheel("pkg", "1.0", "2024-01-01T00:00:00Z"), wheel("pkg", "1.1", None),
             wheel("pkg", "1.2", "not a time")]
    project = build_versions("pkg", files, TAGS, PY, exclude_newer=utc(2024, 3, 25))
    assert list(project.candidates) == [Version("1.0")]
    assert "has no upload time" in project.rejected[Version("1.1")]
    assert "has no upload time" in project.rejected[Version("1.2")]


def test_locations_without_any_upload_time_are_kept_with_a_warning(
    capsys: pytest.CaptureFixture[str],
) -> None:
    flat = "file:///srv/wheels"
    candidates._warned_sources.discard(flat)
    files = [wheel("pkg", "1.0", "2024-01-01T00:00:00Z"),
             wheel("pkg", "9.0", None, index=flat), wheel("pkg", "9.1", None, index=flat)]
    project = build_versions("pkg", files, TAGS, PY, exclude_newer=utc(2024, 3, 25))
    assert sorted(map(str, project.candidates)) == ["1.0", "9.0", "9.1"]
    build_versions("pkg", files, TAGS, PY, exclude_newer=utc(2024, 3, 25))
    err = capsys.readouterr().err
    assert err.count("warning:") == 1
    assert f"{flat} publishes no upload times" in err


def test_hint_names_the_hidden_versions() -> None:
    project = build_versions("pkg", FILES, TAGS, PY, exclude_newer=utc(2024, 3, 25))
    [hint] = hints_for([project], TAGS, "3.12.1", "the test index")
    assert hint.startswith("`pkg` 3.0 was uploaded after the --exclude-newer cutoff")
    assert "(1 other newer version hidden too)" in hint
    everything = build_versions("pkg", FILES, TAGS, PY, exclude_newer=utc(2000, 1, 1))
    [hint] = hints_for([everything], TAGS, "3.12.1", "the test index")
    assert "all 4 versions of `pkg` are hidden by --exclude-newer" in hint
    assert "not found" not in hint


def test_resolve_uses_the_cutoff_and_explains_failures() -> None:
    metadata = {
        f.url: f"Metadata-Version: 2.1\nName: pkg\nVersion: {f.filename.split('-')[1]}\n\n".encode()
        for f in FILES
    }

    def run(requirement: str, cutoff: datetime | None) -> str:
        resolution = resolve(
            [parse_requirement(requirement, "test")],
            files_for=lambda name: FILES if name == "pkg" else [],
            fetch_metadata=lambda file: metadata[file.url],
            tags=TAGS, markers={"python_version": "3.12", "sys_platform": "linux"},
            python_version=PY, exclude_newer=cutoff,
        )
        return str(resolution.version_of("pkg"))

    assert run("pkg", None) == "3.0"
    assert run("pkg", utc(2024, 3, 25)) == "1.5"
    with pytest.raises(ResolutionError) as caught:
        run("pkg>=2", utc(2024, 3, 25))
    assert caught.value.hint is not None
    assert "`pkg` 3.0 was uploaded after the --exclude-newer cutoff" in caught.value.hint


# -- end to end -------------------------------------------------------------------------


@pytest.fixture
def venv(tmp_path: Path, run_wherry: RunWherry) -> Path:
    path = tmp_path / "env"
    result = run_wherry("venv", path, "--python", sys.executable)
    assert result.ok, result
    return path


@pytest.mark.parametrize("page", ["json", "html"])
def test_install_picks_the_version_uploaded_before_the_cutoff(
    page: str, run_wherry: RunWherry, venv: Path, make_index: MakeIndex, wheelhouse: Wheelhouse,
) -> None:
    old = wheelhouse.wheel("timely", "1.0")
    new = wheelhouse.wheel("timely", "2.0")
    index = make_index([old, new], json=page == "json", upload_times={
        old.name: "2024-01-10T08:00:00Z", new.name: "2024-04-02T08:00:00Z",
    })

    def install(*args: str) -> tuple[int, str]:
        result = run_wherry("pip", "install", *args, "--python", venv,
                            "--index-url", index.url, "--dry-run")
        return result.returncode, result.stdout + result.stderr

    code, output = install("timely", "--exclude-newer", "2024-03-25T00:00:00Z")
    assert code == 0, output
    assert "+ timely==1.0" in output
    code, output = install("timely", "--exclude-newer", "2024-04-02")  # the day it came out
    assert code == 0, output
    assert "+ timely==2.0" in output

    code, output = install("timely==2.0", "--exclude-newer", "2024-03-25T00:00:00+01:00")
    assert code == 1, output
    assert "timely` 2.0 was uploaded after the --exclude-newer cutoff (2024-03-24T23:00:00Z)" \
        in output

    result = run_wherry("pip", "install", "timely", "--exclude-newer", "2024-03-25T00:00:00Z",
                        "--python", venv, "--index-url", index.url)
    assert result.ok, result
    assert "+ timely==1.0" in result.stderr + result.stdout
    freeze = run_wherry("pip", "freeze", "--python", venv)
    assert freeze.stdout.split() == ["timely==1.0"]
    if page == "html":
        served = [r for r in index.requests if r.path == "/simple/timely/"]
        assert served  # the page really was read; the server ignores Accept with json=False


def test_a_bad_cutoff_is_a_usage_error(
    run_wherry: RunWherry, venv: Path, make_index: MakeIndex, wheelhouse: Wheelhouse,
) -> None:
    index = make_index([wheelhouse.wheel("timely", "1.0")])
    result = run_wherry("pip", "install", "timely", "--exclude-newer", "last tuesday",
                        "--python", venv, "--index-url", index.url)
    assert result.returncode == 2, result
    assert "invalid --exclude-newer value `last tuesday`" in result.stderr
    assert "hint:" in result.stderr
    assert index.paths() == []  # rejected before touching the index


def test_bad_value_is_refused_even_when_satisfied(
    run_wherry: RunWherry, make_index: MakeIndex, wheelhouse: Wheelhouse, tmp_path: Path
) -> None:
    index = make_index([wheelhouse.wheel("plain", "1.0")])
    venv = tmp_path / "venv"
    assert run_wherry("venv", venv, "--python", sys.executable).ok
    assert run_wherry("pip", "install", "plain", "--python", venv, "--index-url", index.url).ok
    result = run_wherry("pip", "install", "plain", "--python", venv, "--index-url", index.url,
                        "--exclude-newer", "yesterday-ish")
    assert result.returncode == 2 and "--exclude-newer" in result.stderr, result
