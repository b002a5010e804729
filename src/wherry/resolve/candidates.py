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
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from typing import overload

import msgspec
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from wherry.errors import UsageError
from wherry.index.models import DistFile
from wherry.index.project_page import ProjectFiles, VersionGroup, group_files
from wherry.output import log
from wherry.platform.tags import TargetTags


class DirectReference(msgspec.Struct, frozen=True):
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
    # The URL as the requirement wrote it (revision, fragment and all): a dependency's
    # own `name @ URL` must name the same reference (resolve/url_dependencies.py).
    requested: str = ""

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


class Candidate(msgspec.Struct, frozen=True):
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


class BinaryPolicy(msgspec.Struct, frozen=True):
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


class _Outcome(msgspec.Struct):
    """What one version of a project turned out to be for the target."""

    version: Version
    candidate: Candidate | None = None  # usable, or yanked (`candidate.yanked`)
    reason: str | None = None  # why unusable
    index_position: int | None = None  # under `unsafe-first-match`
    incompatible: list[tuple[int, str]] = msgspec.field(default_factory=list)  # (position, tags)


class _Chosen(Mapping[Version, Candidate]):
    """`ProjectVersions.candidates` / `.yanked`: a lookup decides one version only;
    iterating decides them all."""

    def __init__(self, project: ProjectVersions, yanked: bool) -> None:
        self._project = project
        self._yanked = yanked

    def __getitem__(self, version: Version) -> Candidate:
        outcome = self._project._lookup(version)
        if outcome is None or outcome.candidate is None or (
            outcome.candidate.yanked != self._yanked
        ):
            raise KeyError(version)
        return outcome.candidate

    def _all(self) -> dict[Version, Candidate]:
        everything = self._project._everything()
        return everything[1] if self._yanked else everything[0]

    def __iter__(self) -> Iterator[Version]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())

    def __repr__(self) -> str:
        return repr(self._all())


class _Ordered(Sequence[Candidate]):
    """`ProjectVersions.ordered()`: iterating decides versions newest first, only as far
    as the caller reads; indexing or `len` decides them all."""

    def __init__(self, project: ProjectVersions) -> None:
        self._project = project

    def __iter__(self) -> Iterator[Candidate]:
        return self._walk(range(len(self._project._groups)))

    def oldest_first(self) -> Iterator[Candidate]:
        """The same candidates oldest first, deciding versions only as far as read."""
        return self._walk(range(len(self._project._groups) - 1, -1, -1))

    def _walk(self, indexes: range) -> Iterator[Candidate]:
        project = self._project
        for at in indexes:
            candidate = project._outcome(at).candidate
            if candidate is not None and not candidate.yanked:
                yield candidate

    def _all(self) -> list[Candidate]:
        return list(self._project._everything()[0].values())

    def __len__(self) -> int:
        return len(self._all())

    @overload
    def __getitem__(self, index: int) -> Candidate: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Candidate]: ...
    def __getitem__(self, index: int | slice) -> Candidate | Sequence[Candidate]:
        return self._all()[index]


class ProjectVersions:
    """Every version of a project seen on the index, split into usable and unusable.

    Lazy, like uv's version map: the versions are known sorted (newest first) from the
    grouped page, and a version's files are looked at only when the resolver asks about
    it, through `ordered()` (newest first, stopping where the caller stops) or a lookup in
    `candidates` / `yanked`. Whatever reads everything (`rejected`, iterating
    `candidates`, error hints) decides every version once. Thread-safe: the solver and
    the prefetch pool read the same object.
    """

    def __init__(self, name: str, groups: Sequence[VersionGroup] = (),
                 decide: Callable[[VersionGroup], _Outcome] | None = None,
                 *, by_index: bool = False) -> None:
        self.name = name
        self._groups = list(groups)
        self._decide = decide
        self._by_index = by_index
        self._outcomes: list[_Outcome | None] = [None] * len(self._groups)
        self._lock = threading.RLock()
        self._all: tuple[dict[Version, Candidate], dict[Version, Candidate],
                         dict[Version, str], dict[Version, int]] | None = None
        self._seen_tags: set[str] | None = None
        self._ordered: list[Candidate] | None = None
        self.candidates: Mapping[Version, Candidate] = _Chosen(self, yanked=False)
        self.yanked: Mapping[Version, Candidate] = _Chosen(self, yanked=True)

    @classmethod
    def of(cls, name: str, candidates: Iterable[Candidate]) -> ProjectVersions:
        """A project whose versions are known candidates (direct references)."""
        ordered = sorted(candidates, key=lambda c: c.version, reverse=True)
        groups = [VersionGroup(str(c.version), c.version, []) for c in ordered]
        by_version = {c.version: c for c in ordered}
        return cls(name, groups, lambda g: _Outcome(g.version, by_version[g.version]))

    # -- deciding versions ----------------------------------------------------------------
    def _outcome(self, at: int) -> _Outcome:
        outcome = self._outcomes[at]
        if outcome is None:
            with self._lock:
                outcome = self._outcomes[at]
                if outcome is None:
                    assert self._decide is not None
                    outcome = self._outcomes[at] = self._decide(self._groups[at])
        return outcome

    def _lookup(self, version: Version) -> _Outcome | None:
        """The outcome of `version`, found by bisecting the sorted groups."""
        groups = self._groups
        low, high = 0, len(groups)
        while low < high:
            middle = (low + high) // 2
            found = groups[middle].version
            if found > version:
                low = middle + 1
            elif found < version:
                high = middle
            else:
                return self._outcome(middle)
        return None

    def _everything(self) -> tuple[dict[Version, Candidate], dict[Version, Candidate],
                                   dict[Version, str], dict[Version, int]]:
        if self._all is None:
            with self._lock:
                if self._all is None:
                    usable: dict[Version, Candidate] = {}
                    yanked: dict[Version, Candidate] = {}
                    rejected: dict[Version, str] = {}
                    positions: dict[Version, int] = {}
                    for at in range(len(self._groups)):
                        outcome = self._outcome(at)
                        candidate = outcome.candidate
                        if candidate is None:
                            assert outcome.reason is not None
                            rejected[outcome.version] = outcome.reason
                            continue
                        (yanked if candidate.yanked else usable)[candidate.version] = candidate
                        if outcome.index_position is not None:
                            positions[candidate.version] = outcome.index_position
                    self._all = (usable, yanked, rejected, positions)
        return self._all

    # -- reading --------------------------------------------------------------------------
    @property
    def rejected(self) -> dict[Version, str]:
        """Unusable versions and why (every version decided)."""
        return self._everything()[2]

    @property
    def index_position(self) -> dict[Version, int]:
        """Under `unsafe-first-match`, the position of the index each version came from."""
        return self._everything()[3]

    @property
    def seen_tags(self) -> set[str]:
        """Up to 16 tag triples of wheels that did not fit the target, in page order."""
        if self._seen_tags is None:
            found = sorted(
                (item for at in range(len(self._groups))
                 for item in self._outcome(at).incompatible),
                key=lambda item: item[0],
            )
            seen: set[str] = set()
            for _position, tags in found:
                if len(seen) >= 16:
                    break
                seen.add(tags)
            self._seen_tags = seen
        return self._seen_tags

    def ordered(self) -> Sequence[Candidate]:
        """Usable candidates in the order to try them: newest first, or, under
        `unsafe-first-match` with several indexes, every version of the first index
        before the next index's. Newest-first order is lazy (see `_Ordered`)."""
        if not self._by_index:
            return _Ordered(self)
        if self._ordered is None:
            usable, _yanked, _rejected, positions = self._everything()
            versions = sorted(usable, reverse=True)
            versions.sort(key=lambda v: positions.get(v, 0))
            self._ordered = [usable[v] for v in versions]
        return self._ordered

    def oldest_first(self) -> Iterator[Candidate]:
        """`ordered()` backwards (what `--resolution lowest` tries first), deciding
        versions only as far as the caller reads when the order is the lazy one."""
        ordered = self.ordered()
        if isinstance(ordered, _Ordered):
            return ordered.oldest_first()
        return reversed(ordered)

    def _state(self) -> tuple[object, ...]:
        usable, yanked, rejected, positions = self._everything()
        return self.name, usable, yanked, rejected, positions, self.seen_tags

    def __eq__(self, other: object) -> bool:
        """Equal when every version was decided alike (tests compare page formats)."""
        if not isinstance(other, ProjectVersions):
            return NotImplemented
        return self._state() == other._state()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ProjectVersions({self.name!r}, {len(self._groups)} versions)"

    def all_versions(self) -> list[Version]:
        """Every version listed (usable or not), newest first."""
        return [group.version for group in self._groups]

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


def _hidden_files(files: Sequence[DistFile], cutoff: datetime) -> dict[int, str]:
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


# Tag ranks stay below this, so rank + position * stride orders by index first.
_INDEX_RANK_STRIDE = 1 << 30


def build_versions(
    name: str,
    files: Sequence[DistFile],
    tags: TargetTags,
    python_version: Version,
    *,
    exclude_newer: datetime | None = None,
    first_match: bool = False,
    policy: BinaryPolicy | None = None,
) -> ProjectVersions:
    """The versions of `name` for the target: per version, the best-ranked compatible
    wheel, else (builds allowed) the version's source distribution.

    `files` from `IndexSources.project_files` (a `ProjectFiles` of one page) are already
    grouped by version; any other sequence is grouped here. Either way the result is
    lazy (see `ProjectVersions`): a version is decided by `_Decider` when first asked
    about. Filenames packaging would reject are skipped, as pip does.

    With `first_match` (uv's `unsafe-first-match`), a version's file comes from the
    earliest index offering it (files arrive in index priority order), and `ordered()`
    tries the first index's versions before any other's.

    With `exclude_newer` (see `parse_exclude_newer`), files `_hidden_files` hides are
    treated as absent; a version all of whose files are hidden is rejected with the
    reason, so "no version" errors can say `--exclude-newer` hid it.
    """
    page = files.single_page() if isinstance(files, ProjectFiles) else None
    if page is not None:
        groups = page.groups
    else:
        groups, _other = group_files(files, name)
    hidden = _hidden_files(files, exclude_newer) if exclude_newer is not None else {}
    positions: dict[str, int] = {}
    if first_match and page is None:
        for file in files:
            positions.setdefault(file.index_url, len(positions))
    by_index = len(positions) > 1
    decider = _Decider(name, tags, python_version, policy, hidden,
                       positions if by_index else None)
    return ProjectVersions(name, groups, decider, by_index=by_index)


class _Decider:
    """Decides one version of a project from its files (`build_versions`)."""

    def __init__(self, name: str, tags: TargetTags, python_version: Version,
                 policy: BinaryPolicy | None, hidden: dict[int, str],
                 positions: dict[str, int] | None) -> None:
        self.name = name
        self.tags = tags
        self.python_version = python_version
        self.wheels_ok = policy is None or policy.wheels_allowed(name)
        self.builds_ok = policy is None or policy.builds_allowed(name)
        self.hidden = hidden
        self.positions = positions

    def __call__(self, group: VersionGroup) -> _Outcome:
        version = group.version
        outcome = _Outcome(version)
        best: tuple[int, int, bool] | None = None  # rank, position, yanked
        sdist: tuple[int, bool] | None = None  # position, yanked
        reason: str | None = None
        hidden_reason: str | None = None
        positions = self.positions
        hidden = self.hidden
        # Rows as listed are enough to choose; only the chosen file becomes a DistFile.
        # Hiding by upload time works on the DistFiles themselves (by identity).
        for position, file in group.files() if hidden else group.entries():
            if hidden:
                why = hidden.get(id(file))
                if why is not None:
                    hidden_reason = hidden_reason or why
                    continue
            requires_python = (file.requires_python or "").strip() or None
            if not python_allows(requires_python, self.python_version):
                reason = reason or f"requires Python {requires_python}"
                continue
            filename = file.filename
            yanked = file.yanked is not False
            if not filename.endswith(".whl"):
                if not self.builds_ok:
                    reason = reason or BUILDS_DISABLED_REASON
                elif sdist is None or (sdist[1] and not yanked):
                    sdist = (position, yanked)
                continue
            if not self.wheels_ok:
                reason = reason or WHEELS_DISABLED_REASON
                continue
            triple = filename[:-4].rsplit("-", 3)[1:]
            rank = self.tags.rank_of_filename_tags(*triple)
            if rank is None:
                outcome.incompatible.append((position, "-".join(triple)))
                reason = "has no wheel compatible with this platform"
                continue
            if positions is not None:
                assert isinstance(file, DistFile)  # several indexes: files, never rows
                rank += positions[file.index_url] * _INDEX_RANK_STRIDE
            if best is None or rank < best[0] or (rank == best[0] and best[2] and not yanked):
                best = (rank, position, yanked)
        at = best[1] if best is not None else sdist[0] if sdist is not None else None
        if at is None:
            outcome.reason = reason or hidden_reason
            return outcome
        chosen = group.file_at(at)
        outcome.candidate = Candidate(self.name, version, chosen, chosen.is_yanked)
        if positions is not None:
            outcome.index_position = positions[chosen.index_url]
        return outcome
