"""Requirements from the command line and from pip-style requirements files.

A requirements file holds PEP 508 requirements, one per logical line (backslash
continuations joined, `#` comments stripped), `${VAR}` environment variables expanded,
per-requirement `--hash` options, nested `-r`/`-c` files resolved relative to the file
that names them, and the index options pip accepts there (`-i/--index-url`,
`--extra-index-url`, `-f/--find-links`, `--no-index`). Errors name the file and line.

A relative path given as a requirement (`./proj`, `-e ../lib`, `name @ ./dir`) is read
from the current directory wherever the file is, as pip and uv read it (pip#8765,
uv#13239: both keep it for compatibility), so one file means the same thing to all three.
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from wherry.errors import RequirementError

if TYPE_CHECKING:
    from packaging.requirements import Requirement

_ENV_VAR = re.compile(r"\$\{([A-Z0-9_]+)\}")


class SourcedRequirement(msgspec.Struct, frozen=True):
    """A parsed requirement and where it was written (`-r reqs.txt (line 3)` or `command line`)."""

    requirement: Requirement
    source: str
    hashes: tuple[str, ...] = ()
    # `-e PATH` (PEP 660); and False when a path requirement's name is a placeholder until
    # the project's metadata is read (requirements/direct.py).
    editable: bool = False
    named: bool = True
    # A direct reference's path or URL as the user wrote it (before `${VAR}` expansion,
    # without name, extras and marker): `pip compile` writes it back verbatim, as uv does.
    given: str | None = None

    @property
    def name(self) -> str:
        from packaging.utils import canonicalize_name

        return str(canonicalize_name(self.requirement.name))


class RequirementsSpec(msgspec.Struct):
    """Everything the command line and requirements files asked for."""

    requirements: list[SourcedRequirement] = msgspec.field(default_factory=list)
    constraints: list[SourcedRequirement] = msgspec.field(default_factory=list)
    # `--override` files: each replaces every requirement on its name (uv semantics).
    overrides: list[SourcedRequirement] = msgspec.field(default_factory=list)
    # `--exclude` files: canonical names dropped from the resolution entirely.
    excludes: list[str] = msgspec.field(default_factory=list)
    # A `--pre` line in a requirements file (pip: allow pre-releases).
    pre: bool = False
    # `--no-binary` / `--only-binary` lines (pip's format: names, `:all:`, `:none:`).
    no_binary: list[str] = msgspec.field(default_factory=list)
    only_binary: list[str] = msgspec.field(default_factory=list)
    index_url: str | None = None
    extra_index_urls: list[str] = msgspec.field(default_factory=list)
    find_links: list[str] = msgspec.field(default_factory=list)
    no_index: bool = False
    # What the answer depended on besides the strings: every file read and every
    # `${VAR}` expanded, so a cached verdict about this request can be validated.
    files: list[Path] = msgspec.field(default_factory=list)
    variables: dict[str, str | None] = msgspec.field(default_factory=dict)

    @property
    def has_direct_references(self) -> bool:
        """Whether a requirement, constraint or override names a URL or a path."""
        return any(item.requirement.url
                   for items in (self.requirements, self.constraints, self.overrides)
                   for item in items)


def parse_requirement(
    text: str, source: str, *, editable: bool = False, base_dir: Path | None = None,
    written: str | None = None,
) -> SourcedRequirement:
    """One PEP 508 requirement, or a direct reference (a URL, a path, `-e PATH`: see
    requirements/direct.py); a clear error for anything else. `base_dir` anchors
    relative paths (the requirements file's directory; default the current one);
    `written` is `text` before `${VAR}` expansion, kept as the reference's `given`."""
    from packaging.requirements import InvalidRequirement, Requirement

    from wherry.requirements.direct import looks_direct, parse_direct

    stripped = text.strip()
    if editable or looks_direct(stripped):
        parts = re.split(r"\s+;\s*", stripped, maxsplit=1)  # `./proj ; marker`
        reference, marker = parts[0], (parts[1] if len(parts) > 1 else "")
        name, url, named = parse_direct(reference, source, editable=editable,
                                        base_dir=base_dir)
        text = f"{name} @ {url}" + (f" ; {marker}" if marker else "")
        try:
            requirement = Requirement(text)
        except InvalidRequirement as exc:
            raise RequirementError(f"invalid requirement `{stripped}` ({source}): {exc}",
                                   hint="markers follow the path or URL after ` ; `") from None
        return SourcedRequirement(requirement, source, editable=editable, named=named,
                                  given=_given(written or stripped, named=False))
    try:
        requirement = Requirement(stripped)
    except InvalidRequirement as exc:
        hint = (
            "requirements look like `name`, `name>=1.0`, "
            "`name[extra]==2.1; python_version>'3.8'`"
        )
        if stripped.startswith("-e") or stripped.startswith("--editable"):
            hint = "pass editable projects as `-e PATH` (two arguments)"
        detail = str(exc).splitlines()[0]
        raise RequirementError(
            f"invalid requirement `{stripped}` ({source}): {detail}", hint=hint
        ) from None
    reference_url = requirement.url
    if reference_url is None:
        return SourcedRequirement(requirement, source)
    given = _given(written or stripped, named=True)
    path_text = None
    if reference_url[:5].lower() == "file:" and reference_url[5:7] != "//":
        path_text = reference_url[5:]  # `name @ file:./path`, as uv reads it
    elif "://" not in reference_url and ":" not in reference_url[:2]:
        path_text = reference_url  # `name @ ./path` (uv accepts it)
    if path_text is not None:
        # A path, relative to the file naming it.
        _name, resolved, _named = parse_direct(path_text, source, base_dir=base_dir)
        requirement = Requirement(stripped.replace(reference_url, resolved, 1))
        reference_url = resolved
    scheme = reference_url.partition(":")[0].lower()
    if scheme not in ("http", "https", "file") and not scheme.startswith("git+"):
        raise RequirementError(
            f"unsupported URL scheme `{scheme}` in `{stripped}` ({source})",
            hint="use http(s)://, file:// or git+https:// URLs")
    return SourcedRequirement(requirement, source, given=given)


def _given(text: str, *, named: bool) -> str | None:
    """The path or URL of a direct reference as written: `./proj` of `./proj[x] ; m`,
    `file:///p` of `name[x] @ file:///p ; m`."""
    reference = re.split(r"\s+;\s*", text.strip(), maxsplit=1)[0]
    if named:
        reference = reference.partition("@")[2]
    else:
        reference = re.sub(r"\[[A-Za-z0-9._,\s-]*\]$", "", reference)
    return reference.strip() or None


def _logical_lines(text: str) -> list[tuple[int, str]]:
    lines: list[tuple[int, str]] = []
    buffer = ""
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if not buffer:
            start = number
        line = "" if re.match(r"^\s*#", raw) else re.sub(r"(^|\s+)#.*$", "", raw)
        if line.endswith("\\"):
            buffer += line[:-1]
            continue
        buffer += line
        if buffer.strip():
            lines.append((start, buffer.strip()))
        buffer = ""
    if buffer.strip():
        lines.append((start, buffer.strip()))
    return lines


def _expand(value: str, used: dict[str, str | None]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        used[name] = os.environ.get(name)
        return os.environ.get(name, match.group(0))

    return _ENV_VAR.sub(replace, value)


_OPTIONS_WITH_VALUE = {
    "-r": "requirement", "--requirement": "requirement",
    "-c": "constraint", "--constraint": "constraint",
    "-i": "index_url", "--index-url": "index_url",
    "--extra-index-url": "extra_index_url",
    "-f": "find_links", "--find-links": "find_links",
}
_IGNORED_OPTIONS = {"--prefer-binary", "--require-hashes", "--trusted-host"}


def read_requirements_file(
    path: Path, spec: RequirementsSpec, *, constraint: bool = False, _seen: set[Path] | None = None
) -> None:
    """Add the contents of a requirements (or constraints) file to `spec`."""
    seen = _seen if _seen is not None else set()
    try:
        resolved = path.resolve()
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RequirementError(
            f"requirements file not found: {path}",
            hint="check the path; a relative path is read from the current directory, or "
            "from the including file's directory for a nested -r/-c",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RequirementError(f"cannot read requirements file {path}: {exc}") from None
    if resolved in seen:
        return
    seen.add(resolved)
    spec.files.append(resolved)
    for number, line in _logical_lines(text):
        source = f"{path} (line {number})"
        written, line = line, _expand(line, spec.variables)
        if line.startswith("-"):
            _apply_option(line, path, source, spec, constraint, seen, written)
            continue
        requirement_text, hashes = _split_hashes(line, source)
        parsed = parse_requirement(requirement_text, source,
                                   written=re.split(r"\s+(?=--hash)", written)[0])
        parsed = SourcedRequirement(parsed.requirement, source, hashes,
                                    editable=parsed.editable, named=parsed.named,
                                    given=parsed.given)
        (spec.constraints if constraint else spec.requirements).append(parsed)


def _split_hashes(line: str, source: str) -> tuple[str, tuple[str, ...]]:
    parts = re.split(r"\s+(?=--hash)", line)
    hashes: list[str] = []
    for option in parts[1:]:
        match = re.match(r"--hash[=\s]+(\S+)$", option.strip())
        if not match or ":" not in match.group(1):
            raise RequirementError(
                f"invalid --hash option `{option.strip()}` ({source})",
                hint="hashes look like `--hash=sha256:<hex digest>`",
            )
        hashes.append(match.group(1))
    return parts[0], tuple(hashes)


def _apply_option(
    line: str, path: Path, source: str, spec: RequirementsSpec, constraint: bool,
    seen: set[Path], written: str | None = None,
) -> None:
    try:
        words = shlex.split(line)
    except ValueError as exc:
        raise RequirementError(f"cannot parse `{line}` ({source}): {exc}") from None
    option, value = words[0], (words[1] if len(words) > 1 else None)
    if "=" in option and option.startswith("--"):
        option, value = option.split("=", 1)
    elif value is None and len(option) > 2 and option[:2] in ("-r", "-c", "-i", "-f"):
        option, value = option[:2], option[2:]
    if option == "--no-index":
        spec.no_index = True
        return
    if option == "--pre":
        spec.pre = True
        return
    if option in _IGNORED_OPTIONS:
        return
    if option in ("--no-binary", "--only-binary"):
        if not value:
            raise RequirementError(f"option `{option}` needs a value ({source})")
        (spec.no_binary if option == "--no-binary" else spec.only_binary).append(value)
        return
    if option in ("-e", "--editable"):
        if not value:
            raise RequirementError(f"option `{option}` needs a value ({source})")
        if constraint:
            raise RequirementError(f"editable requirements cannot be constraints ({source})")
        written_value = _option_value(written) if written else None
        spec.requirements.append(parse_requirement(
            value, source, editable=True, written=written_value))
        return
    kind = _OPTIONS_WITH_VALUE.get(option)
    if kind is None:
        hint = "see `wherry pip install --help` for the options wherry reads"
        raise RequirementError(f"unsupported option `{option}` ({source})", hint=hint)
    if not value:
        raise RequirementError(f"option `{option}` needs a value ({source})")
    if kind in ("requirement", "constraint"):
        nested = Path(value)
        if not nested.is_absolute():
            nested = path.parent / nested
        read_requirements_file(nested, spec, constraint=constraint or kind == "constraint",
                               _seen=seen)
    elif kind == "index_url":
        spec.index_url = value
    elif kind == "extra_index_url":
        spec.extra_index_urls.append(value)
    else:
        if "://" not in value and not Path(value).is_absolute():
            value = str(path.parent / value)
        spec.find_links.append(value)


def _option_value(line: str) -> str | None:
    """The value of `-e VALUE` / `--editable=VALUE` as written (before expansion)."""
    try:
        words = shlex.split(line)
    except ValueError:
        return None
    if "=" in words[0] and words[0].startswith("--"):
        return words[0].split("=", 1)[1]
    return words[1] if len(words) > 1 else None
