"""Requirements strings and pip-style requirements files."""

from __future__ import annotations

from pathlib import Path

import pytest

from wherry.errors import RequirementError
from wherry.requirements.parse import RequirementsSpec, parse_requirement, read_requirements_file


def test_requirement_strings() -> None:
    parsed = parse_requirement("Foo_Bar[x,y]>=1.0,!=1.5.*; python_version >= '3.8'", "cli")
    assert parsed.name == "foo-bar"
    assert parsed.requirement.extras == {"x", "y"}
    assert str(parsed.requirement.marker) == 'python_version >= "3.8"'


@pytest.mark.parametrize(
    ("text", "hint"),
    [("foo>=>1", "requirements look like"), ("-e .", "editable"),
     ("./some/dir", "check the path")],
)
def test_bad_requirement_strings(text: str, hint: str) -> None:
    with pytest.raises(RequirementError) as info:
        parse_requirement(text, "command line")
    assert "command line" in info.value.message
    assert info.value.hint is not None and hint in info.value.hint
    assert info.value.exit_code == 2


def test_requirements_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WHERRY_TEST_VERSION", "2.0")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "more.txt").write_text("gamma\n-c ../constraints.txt\n")
    (tmp_path / "constraints.txt").write_text("delta<3\n")
    (tmp_path / "requirements.txt").write_text(
        "# comment line\n"
        "alpha>=1  # trailing comment\n"
        "beta==${WHERRY_TEST_VERSION} \\\n"
        "    --hash=sha256:abcd\n"
        "-r sub/more.txt\n"
        "--index-url https://index.invalid/simple\n"
        "--extra-index-url=https://extra.invalid/simple\n"
        "-f ./wheels\n"
        "--no-index\n"
        "-r requirements.txt\n"
    )
    spec = RequirementsSpec()
    read_requirements_file(tmp_path / "requirements.txt", spec)
    assert [str(r.requirement) for r in spec.requirements] == ["alpha>=1", "beta==2.0", "gamma"]
    assert spec.requirements[1].hashes == ("sha256:abcd",)
    assert "requirements.txt (line 3)" in spec.requirements[1].source
    assert [str(r.requirement) for r in spec.constraints] == ["delta<3"]
    assert spec.index_url == "https://index.invalid/simple"
    assert spec.extra_index_urls == ["https://extra.invalid/simple"]
    assert spec.find_links == [str(tmp_path / "wheels")]
    assert spec.no_index


def test_requirements_file_errors(tmp_path: Path) -> None:
    with pytest.raises(RequirementError, match="not found"):
        read_requirements_file(tmp_path / "missing.txt", RequirementsSpec())
    bad = tmp_path / "bad.txt"
    bad.write_text("ok\nnot a requirement!\n")
    with pytest.raises(RequirementError, match=r"bad.txt \(line 2\)"):
        read_requirements_file(bad, RequirementsSpec())
    unknown = tmp_path / "unknown.txt"
    unknown.write_text("--frobnicate\n")
    with pytest.raises(RequirementError, match="unsupported option `--frobnicate`"):
        read_requirements_file(unknown, RequirementsSpec())
