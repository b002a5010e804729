"""The header scan that feeds resolution reads what `email.parser` would."""

from __future__ import annotations

from email.parser import HeaderParser

from hypothesis import given
from hypothesis import strategies as st

from wherry.resolve.metadata import parse_core_metadata

FOLDED = (
    "Metadata-Version: 2.5\n"
    "Name: jupyter_client\n"
    "Version: 8.10.0\n"
    "License: BSD 3-Clause License\n"
    "        \n"
    "        - Copyright (c) 2001-2015\n"
    "        \n"
    "Requires-Python: >=3.10\n"
    "Requires-Dist: jupyter-core>=5.1\n"
    "Requires-Dist: pyzmq>=25.0\n"
    "Provides-Extra: docs\n"
    "Requires-Dist: sphinx; extra == 'docs'\n"
    "\n"
    "Requires-Dist: not-a-header-this-is-the-body\n"
)


def test_folded_header_with_whitespace_only_lines() -> None:
    metadata = parse_core_metadata(FOLDED.encode())
    assert metadata.name == "jupyter_client" and metadata.version == "8.10.0"
    assert metadata.requires_dist == (
        "jupyter-core>=5.1", "pyzmq>=25.0", "sphinx; extra == 'docs'")
    assert metadata.requires_python == ">=3.10"
    assert metadata.provides_extra == ("docs",)


header_text = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=20)


@given(st.lists(st.tuples(st.sampled_from(["Requires-Dist", "License", "Name", "Summary"]),
                          header_text, st.lists(st.sampled_from(["", "  ", " x", "\tmore"]),
                                                max_size=3)), max_size=6))
def test_agrees_with_email_parser(headers: list[tuple[str, str, list[str]]]) -> None:
    lines = ["Metadata-Version: 2.1"]
    for key, value, continuations in headers:
        lines.append(f"{key}: {value.strip()}")
        lines += [c for c in continuations if c.strip() or c]
    text = "\n".join(lines) + "\n\nbody\n"
    ours = parse_core_metadata(text.encode()).requires_dist
    message = HeaderParser().parsestr(text)
    theirs = tuple(" ".join(v.split()) for v in message.get_all("Requires-Dist") or [])
    assert tuple(" ".join(v.split()) for v in ours) == theirs
