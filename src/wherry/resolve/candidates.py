"""From an index's file list to the installable versions of a project for one target.

A version is a candidate when it has a wheel whose tags the target accepts and whose
Requires-Python admits the target's Python; the best-ranked wheel is kept. A version with
no such wheel but a source distribution is a candidate to build, unless the binary policy
(`--only-binary`, `--no-build`) forbids building it; `--no-binary` makes a project's
wheels invisible. Wheels win over an sdist of the same version (pip and uv agree), so a
build happens only where the index has no compatible wheel. Versions that fail are
remembered with the reason, so "no version" errors can say *why* (no wheel for this
platform, Requires-Python, yanked, hidden by `--exclude-newer`, builds disabled) instead
of just "not found".

A `Candidate` may also be a direct reference (`name @ URL`, a path, a git URL, `-e`):
the command layer makes it before resolution and the resolver offers it as the only
version of that name.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import InvalidSdistFilename, canonicalize_name, parse_sdist_filename
from packaging.version import InvalidVersion, Version

from wherry.errors import UsageError
from wherry.index.models import DistFile
from wherry.output import log
from wherry.platform.tags import TargetTags


@dataclass(frozen=True)
class DirectReference:
    """Where a direct-reference candidate comes from (PEP 610 terms).

    `kind` is `archive` (a wheel or sdist by URL or path), `directory` (a local project)
    or `vcs`; `local` is the file or tree on disk wherry builds or installs from."""

    url: str
    kind: str
    local: str
    editable: bool = False
    subdirectory: str | None = None
    vcs: str | None = None
    requested_revision: str | None = None
    commit_id: str | None = None
    hashes: tuple[tuple[str, str], ...] = ()

    @property
    def is_wheel(self) -> bool:
        return self.kind == "archive" and self.local.endswith(".whl")

    def direct_url(self) -> dict[str, object]:
        """The `direct_url.json` content (PEP 610) of an install from this reference."""
        data: dict[str, object] = {"url": self.url}
        if self.kind == "directory":
            data["dir_info"] = {"editable": True} if self.editable else {}
        elif self.kind == "vcs":
            info: dict[str, object] = {"vcs": self.vcs or "git",
                                       "commit_id": self.commit_id or ""}
            if self.requested_revision:
                info["requested_revision"] = self.requested_revision
            data["vcs_info"] = info
        else:
            archive: dict[str, object] = {}
            if self.hashes:
                archive["hashes"] = dict(self.hashes)
                algo, digest = self.hashes[0]
                archive["hash"] = f"{algo}={digest}"
            data["archive_info"] = archive
        if self.subdirectory:
            data["subdirectory"] = self.subdirectory
        return data


@dataclass(frozen=True)
class Candidate:
    """One installable version of a project: its best file for the target.

    `wheel` is the file to install: a wheel, or (`needs_build`) a source distribution
    to build first. `direct` is set for direct references."""

    name: str
    version: Version
    wheel: DistFile
    yanked: bool
    direct: DirectReference | None = None

    @property
    def file(self) -> DistFile:
        return self.wheel

    @property
    def needs_build(self) -> bool:
        if self.direct is not None:
            return not self.direct.is_wheel
        return not self.wheel.is_wheel


@dataclass(frozen=True)
class BinaryPolicy:
    """`--no-binary`, `--only-binary` and `--no-build`, as pip means them: a project named
    in a flag follows that flag; `:all:` applies to every other project."""

    no_binary_all: bool = False
    only_binary_all: bool = False
    no_binary: frozenset[str] = frozenset()
    only_binary: frozenset[str] = frozenset()

    def wheels_allowed(self, name: str) -> bool:
        if name in self.only_binary:
            return True
        return not (name in self.no_binary or self.no_binary_all)

    def builds_allowed(self, name: str) -> bool:
        if name in self.no_binary:
            return True
        return not (name in self.only_binary or self.only_binary_all)

    @property
    def is_default(self) -> bool:
        return self == BinaryPolicy()


#: Why a version is unusable because of the binary policy (report.py shows these).
BUILDS_DISABLED_REASON = (
    "has only a source distribution, and building from source is disabled "
    "(--only-binary/--no-build)"
)
WHEELS_DISABLED_REASON = "has only wheels, and --no-binary forbids using them"


@dataclass
class ProjectVersions:
    """Every version of a project seen on the index, split into usable and unusable."""

    name: str
    candidates: dict[Version, Candidate] = field(default_factory=dict)
    yanked: dict[Version, Candidate] = field(default_factory=dict)
    rejected: dict[Version, str] = field(default_factory=dict)
    seen_tags: set[str] = field(default_factory=set)
    # Under `unsafe-first-match`, the position of the index each version came from.
    index_position: dict[Version, int] = field(default_factory=dict)
    _ordered: list[Candidate] | None = field(default=None, repr=False, compare=False)

    def ordered(self) -> list[Candidate]:
        """Usable candidates in the order to try them: newest first, or, under
        `unsafe-first-match`, every version of the first index before the next index's.

        Computed once: the solver asks for it on every decision about the project."""
        if self._ordered is None or len(self._ordered) != len(self.candidates):
            versions = sorted(self.candidates, reverse=True)
            if self.index_position:
                versions.sort(key=lambda v: self.index_position.get(v, 0))
            self._ordered = [self.candidates[v] for v in versions]
        return self._ordered

    def all_versions(self) -> list[Version]:
        return sorted({*self.candidates, *self.yanked, *self.rejected}, reverse=True)

    def hidden_by_exclude_newer(self) -> list[Version]:
        """Versions every file of which was hidden by `--exclude-newer`, newest first."""
        return sorted(
            (v for v, why in self.rejected.items() if EXCLUDE_NEWER_REASON in why), reverse=True
        )


# -- --exclude-newer ----------------------------------------------------------------------

#: Marks a rejection reason as coming from `--exclude-newer` (report.py looks for it).
EXCLUDE_NEWER_REASON = "--exclude-newer"

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_RFC3339 = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:[Tt ](?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:[.,](?P<fraction>\d+))?)?"
    r"(?P<offset>[Zz]|[+-]\d{2}:?\d{2})?)?",
    re.ASCII,
)


def _parse_moment(text: str) -> datetime | None:
    """An RFC 3339 / ISO 8601 date-time as an aware datetime; None when malformed.

    Accepts what indexes write for PEP 700 (`2024-03-25T10:00:00.123456Z`, any number of
    fractional digits, `Z` or a `+HH:MM` offset) on every supported Python (3.10's
    `fromisoformat` takes neither `Z` nor 3 or 9 fractional digits). A date-time without
    an offset is returned naive, for the caller to place in a time zone.
    """
    found = _RFC3339.fullmatch(text.strip())
    if found is None or found["hour"] is None:
        return None
    try:
        day = date.fromisoformat(found["date"])
        fraction = (found["fraction"] or "0")[:6].ljust(6, "0")
        moment = datetime(day.year, day.month, day.day, int(found["hour"]),
                          int(found["minute"]), int(found["second"] or 0), int(fraction))
        offset = found["offset"]
        if offset is None:
            return moment
        if offset in ("Z", "z"):
            return moment.replace(tzinfo=timezone.utc)
        sign = -1 if offset[0] == "-" else 1
        digits = offset[1:].replace(":", "")
        delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        return moment.replace(tzinfo=timezone(sign * delta))
    except ValueError:  # month 13, hour 25, offset +24:00...
        return None


def parse_exclude_newer(text: str) -> datetime:
    """The cutoff of `--exclude-newer TEXT`, as an aware UTC datetime; files uploaded at or
    after it are hidden (uv keeps only what was uploaded strictly *before* it).

    - An RFC 3339 timestamp (`2024-03-25T00:00:00Z`, `2024-03-25T09:30:00+02:00`,
      fractional seconds allowed) is that exact instant.
    - A date (`2024-03-25`) means the end of that day in the system's local time zone
      (midnight starting the next day), so everything uploaded *on* the named day is kept.
      This is uv's rule ("local dates ... in your system's configured time zone", and
      "midnight that day is 00:00:00 the next day"). It depends on the machine's time
      zone, like uv; pass a full timestamp for a cutoff that is the same everywhere.
    - A date-time without an offset (`2024-03-25T12:00:00`) is local time, as uv does.

    A malformed value is a usage error (exit code 2) with a hint showing both forms.
    """
    value = text.strip()
    try:
        if _DATE.fullmatch(value):
            day = date.fromisoformat(value)
            midnight = datetime(day.year, day.month, day.day) + timedelta(days=1)
            return midnight.astimezone().astimezone(timezone.utc)
        moment = _parse_moment(value)
        if moment is not None:
            if moment.tzinfo is None:
                moment = moment.astimezone()  # naive = local time
            return moment.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        pass
    raise UsageError(
        f"invalid --exclude-newer value `{text}`: expected an RFC 3339 timestamp or a date",
        hint="use a timestamp like `2024-03-25T00:00:00Z` (or with an offset, "
        "`2024-03-25T00:00:00+01:00`), or a date like `2024-03-25`, which means the end of "
        "that day in the local time zone",
    )


def format_cutoff(cutoff: datetime) -> str:
    """`2024-03-25T00:00:00Z`: a cutoff as messages show it."""
    utc = cutoff.astimezone(timezone.utc)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += f".{utc.microsecond:06d}".rstrip("0")
    return text + "Z"


def upload_time_of(file: DistFile) -> datetime | None:
    """A file's PEP 700 upload time as an aware datetime (UTC when it names no offset)."""
    if not file.upload_time:
        return None
    moment = _parse_moment(file.upload_time)
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment


_warned_sources: set[str] = set()
_warned_lock = threading.Lock()


def _warn_unfiltered(source: str) -> None:
    """Say once per run that a location's files could not be filtered by upload time."""
    with _warned_lock:
        if source in _warned_sources:
            return
        _warned_sources.add(source)
    log.warning(
        "%s publishes no upload times, so --exclude-newer cannot filter its files; "
        "they are all considered", source,
    )


def _hidden_files(files: list[DistFile], cutoff: datetime) -> dict[int, str]:
    """`id(file)` → why `--exclude-newer` hides it, for the files it hides.

    A file uploaded at or after the cutoff is hidden. A file *without* an upload time is
    hidden when its location (index page) publishes upload times for other files, as uv
    does: its age is unknown, so it cannot be shown to predate the cutoff. A location that
    publishes no upload time at all (a find-links directory or flat page, a static index
    without PEP 700 data) cannot be filtered: its files are kept, with a warning, rather
    than making the project unusable (uv hides them all; its flat find-links indexes are
    never filtered). A malformed upload time counts as missing.
    """
    shown = format_cutoff(cutoff)
    times = {id(f): upload_time_of(f) for f in files}
    publishing = {f.index_url for f in files if times[id(f)] is not None}
    hidden: dict[int, str] = {}
    for file in files:
        moment = times[id(file)]
        if moment is None:
            if file.index_url in publishing:
                hidden[id(file)] = (
                    f"has no upload time, so {EXCLUDE_NEWER_REASON} {shown} hides it"
                )
            else:
                _warn_unfiltered(file.index_url)
        elif moment >= cutoff:
            hidden[id(file)] = (
                f"was uploaded after the {EXCLUDE_NEWER_REASON} cutoff ({shown})"
            )
    return hidden


@lru_cache(maxsize=4096)
def _requires_python(text: str) -> SpecifierSet | None:
    try:
        return SpecifierSet(text)
    except InvalidSpecifier:
        return None


@lru_cache(maxsize=8192)
def python_allows(requires_python: str | None, python_version: Version) -> bool:
    """Whether a Requires-Python string admits the target (an invalid one admits it, as pip).

    Memoised: a resolution asks this for tens of thousands of files that share a few
    hundred distinct strings, and `SpecifierSet.contains` is the costliest step."""
    if not requires_python:
        return True
    specifier = _requires_python(requires_python)
    return specifier is None or specifier.contains(python_version, prereleases=True)


_NAME_SEPARATORS = re.compile(r"[-_.]+")


def _canonical(name: str) -> str:
    return _NAME_SEPARATORS.sub("-", name).lower()


# Tag ranks stay below this, so rank + position * stride orders by index first.
_INDEX_RANK_STRIDE = 1 << 30


def build_versions(
    name: str,
    files: list[DistFile],
    tags: TargetTags,
    python_version: Version,
    *,
    exclude_newer: datetime | None = None,
    first_match: bool = False,
    policy: BinaryPolicy | None = None,
) -> ProjectVersions:
    """Group `files` by version and keep, per version, the best-ranked compatible wheel,
    else (builds allowed) the version's source distribution.

    With `first_match` (uv's `unsafe-first-match`), a version's file comes from the
    earliest index offering it (files arrive in index priority order), and `ordered()`
    tries the first index's versions before any other's.

    Big projects list thousands of files, so this works on filename strings: a version
    string is parsed once however many files carry it, and a wheel's tags are ranked
    by string lookup. Filenames packaging would reject are skipped, as pip does.

    With `exclude_newer` (see `parse_exclude_newer`), files `_hidden_files` hides are
    treated as absent; a version all of whose files are hidden is rejected with the
    reason, so "no version" errors can say `--exclude-newer` hid it.
    """
    project = ProjectVersions(name)
    best: dict[Version, tuple[int, DistFile]] = {}
    reasons: dict[Version, str] = {}
    versions: dict[str, Version | None] = {}
    hidden = _hidden_files(files, exclude_newer) if exclude_newer is not None else {}
    hidden_reasons: dict[Version, str] = {}

    def version_of(text: str) -> Version | None:
        if text not in versions:
            try:
                versions[text] = Version(text)
            except InvalidVersion:
                versions[text] = None
        return versions[text]

    positions: dict[str, int] = {}
    same_name: dict[str, bool] = {}  # a project's files spell its name a handful of ways
    wheels_ok = policy is None or policy.wheels_allowed(name)
    builds_ok = policy is None or policy.builds_allowed(name)
    sdists: dict[Version, DistFile] = {}
    for file in files:
        filename = file.filename
        if file.is_wheel:
            parts = filename[:-4].split("-")
            if len(parts) not in (5, 6):
                continue
            spelled = parts[0]
            matches = same_name.get(spelled)
            if matches is None:
                matches = same_name[spelled] = _canonical(spelled) == name
            if not matches:
                continue
            version = version_of(parts[1])
            triple = parts[-3:]
        else:
            try:
                sdist_name, version = parse_sdist_filename(filename)
            except InvalidSdistFilename:
                continue
            if canonicalize_name(sdist_name) != name:
                continue
            triple = []
        if version is None:
            continue
        if hidden:
            why = hidden.get(id(file))
            if why is not None:
                hidden_reasons.setdefault(version, why)
                continue
        if not python_allows(file.requires_python, python_version):
            reasons.setdefault(version, f"requires Python {file.requires_python}")
            continue
        if not triple:
            if not builds_ok:
                reasons.setdefault(version, BUILDS_DISABLED_REASON)
                continue
            current_sdist = sdists.get(version)
            if current_sdist is None or (current_sdist.is_yanked and not file.is_yanked):
                sdists[version] = file
            continue
        if not wheels_ok:
            reasons.setdefault(version, WHEELS_DISABLED_REASON)
            continue
        rank = tags.rank_of_filename_tags(*triple)
        if rank is None:
            if len(project.seen_tags) < 16:
                project.seen_tags.add("-".join(triple))
            reasons[version] = "has no wheel compatible with this platform"
            continue
        if first_match:
            position = positions.setdefault(file.index_url, len(positions))
            rank += position * _INDEX_RANK_STRIDE
        current = best.get(version)
        if current is None or rank < current[0] or (
            rank == current[0] and current[1].is_yanked and not file.is_yanked
        ):
            best[version] = (rank, file)
    for version, file in sdists.items():
        if version not in best:
            # No compatible wheel: build this version (a sdist ranks after every wheel).
            if first_match:
                positions.setdefault(file.index_url, len(positions))
            best[version] = (-1, file)
    for version, (_rank, file) in best.items():
        if first_match:
            project.index_position[version] = positions[file.index_url]
        candidate = Candidate(name, version, file, file.is_yanked)
        (project.yanked if file.is_yanked else project.candidates)[version] = candidate
    for version, reason in reasons.items():
        if version not in best:
            project.rejected[version] = reason
    for version, reason in hidden_reasons.items():
        if version not in best and version not in reasons:
            project.rejected[version] = reason
    return project
