"""One project's files on one page, grouped by version, newest first (uv's lazy version map).

A big project lists thousands of files (numpy ~4,400, botocore ~2,000 versions), yet a
resolution looks at a handful of its versions. Building a `DistFile` per listed file on
every run was most of a warm resolve's CPU time. So a page is grouped once, when its body
is parsed: files of the same PEP 440 version go together (`1.0` and `1.0.0` are one
version), the groups are sorted newest first, and files naming no version of the project
(another project's file, an unparsable version) are kept apart. The page cache stores
that shape with each group's files as one undecoded msgpack blob, so a warm run decodes
only the groups the resolver touches (`VersionGroup.files`), and the sorted order comes
for free. Files are kept as the page listed them (`simple.FileRow`), on a fresh page as
on a stored one: the resolver chooses a version's file from its rows and builds a
`DistFile` (joined URL, normalised hashes) only for the file it picks (`file_at`).
Every file keeps its position on the page, so `ProjectPage.files()` still returns them in
page order for callers that want them all.

A group's files are kept as one JSON document, `[[positions], [file objects]]`, the
objects in the PEP 691 shape. A JSON page is grouped without decoding its files at all
(`from_json`: each group is its listed objects, joined as bytes), and a stored page
holds the same bytes; `FileRow`s are decoded only for the groups someone reads.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import overload

import msgspec
from packaging.version import InvalidVersion, Version

from wherry.index.models import DistFile
from wherry.index.simple import FileRow, RowReader, file_row

#: A file and its position on its page (or in a merged list of files).
Placed = tuple[int, DistFile]
#: A row as the page listed it, and its position there.
PlacedRow = tuple[int, FileRow]

_NAME_SEPARATORS = re.compile(r"[-_.]+")
_JSON_ENCODER = msgspec.json.Encoder()
_GROUP_DECODER = msgspec.json.Decoder(tuple[list[int], list[FileRow]])


class StoredGroup(msgspec.Struct, array_like=True):
    """A version's rows as stored: the version as its first file spells it, and the
    group's JSON document (`[[positions], [file objects]]`), decoded only when read."""

    version: str
    files: bytes


class StoredFiles(msgspec.Struct):
    """A page's files as the page cache stores them."""

    count: int
    base: str  # the URL relative file URLs resolve against
    versions: list[StoredGroup]  # newest first
    other: bytes  # the group document of the files of no version of the project


class DamagedPage(Exception):
    """A stored group's bytes do not decode; the page cache turns this into an error."""


class VersionGroup:
    """The files of one version of a project (page order), materialised at most once."""

    __slots__ = ("_files", "_made", "_page", "_raw", "_rows", "_version", "text")

    def __init__(self, text: str, version: Version | None, rows: list[PlacedRow] | None,
                 raw: bytes | None = None, page: ProjectPage | None = None,
                 files: list[Placed] | None = None) -> None:
        self.text = text
        self._version = version
        self._rows = rows
        self._raw = raw
        self._page = page
        self._files = files
        self._made: dict[int, DistFile] = {}

    @property
    def version(self) -> Version:
        """The group's version, parsed on first use (a stored page keeps only text)."""
        version = self._version
        if version is None:
            version = self._version = Version(self.text)
        return version

    def files(self) -> list[Placed]:
        files = self._files
        if files is None:
            assert self._page is not None
            files = self._page._materialise(self)
        return files

    def entries(self) -> Sequence[tuple[int, FileRow | DistFile]]:
        """The files as cheaply as they come: rows as listed for a page's group (enough
        to choose among them: filename, Requires-Python, yanked), else `files()`."""
        if self._page is None:
            return self.files()
        return self._page._rows_of(self)

    def file_at(self, position: int) -> DistFile:
        """The `DistFile` of the entry at `position` (the same object `files()` holds), so
        choosing a version's file builds one `DistFile`, not one per listed file."""
        if self._page is None:
            return next(file for at, file in self.files() if at == position)
        return self._page._file_at(self, position)

    def _stored(self, strip: Callable[[FileRow], FileRow] | None) -> StoredGroup:
        if self._raw is not None and strip is None:
            return StoredGroup(self.text, self._raw)
        assert self._page is not None
        return StoredGroup(self.text, _encode(self._page._rows_of(self), strip))


def _encode(rows: list[PlacedRow], strip: Callable[[FileRow], FileRow] | None) -> bytes:
    """The group document of `rows` (each passed through `strip` first, if given)."""
    positions = [position for position, _ in rows]
    files = [row for _, row in rows] if strip is None else [strip(row) for _, row in rows]
    return _JSON_ENCODER.encode((positions, files))


def _join(positions: list[int], raws: Sequence[msgspec.Raw]) -> bytes:
    """The group document of the listed JSON objects `raws[p]`, without decoding them."""
    return b"".join((b"[", _JSON_ENCODER.encode(positions), b",[",
                     b",".join([raws[p] for p in positions]), b"]]"))


def _canonical(name: str) -> str:
    return _NAME_SEPARATORS.sub("-", name).lower()


class _VersionReader:
    """Parses a project's version texts, each distinct text once."""

    def __init__(self) -> None:
        self._versions: dict[str, Version | None] = {}

    def parse(self, text: str) -> Version | None:
        if text not in self._versions:
            try:
                self._versions[text] = Version(text)
            except InvalidVersion:
                self._versions[text] = None
        return self._versions[text]


def _group(filenames: Sequence[str], project: str | None,
           ) -> tuple[list[tuple[str, Version, list[int]]], list[int]]:
    """Positions of `filenames` grouped by version of `project`, newest first; and the
    positions of files carrying no version of it (all of them when `project` is None)."""
    if project is None:
        return [], list(range(len(filenames)))
    reader = _VersionReader()
    # By version *text* first: a big page lists ~10 files per version, and hashing a
    # string is much cheaper than hashing a `Version`; each distinct text is parsed once.
    # One loop with the filename rules inline (packaging's wheel and sdist filename
    # parsing, by string operations), because it runs for every file of every page:
    # 88,000 files in a cold 110-package resolution.
    by_text: dict[str, list[int]] = {}
    other: list[int] = []
    names: dict[str, bool] = {}  # each spelling of a name: is it `project`?
    for position, filename in enumerate(filenames):
        if filename.endswith(".whl"):
            dashes = filename.count("-")
            if dashes != 4 and dashes != 5:
                other.append(position)
                continue
            spelled, text, _ = filename.split("-", 2)
        else:
            if filename.endswith(".tar.gz"):
                stem = filename[:-7]
            elif filename.endswith(".zip"):
                stem = filename[:-4]
            else:
                other.append(position)
                continue
            spelled, sep, text = stem.rpartition("-")
            if not sep:
                other.append(position)
                continue
        matches = names.get(spelled)
        if matches is None:
            matches = names[spelled] = _canonical(spelled) == project
        if not matches:
            other.append(position)
            continue
        positions = by_text.get(text)
        if positions is None:
            by_text[text] = [position]
        else:
            positions.append(position)
    groups: dict[Version, tuple[str, Version, list[int]]] = {}
    merged = False
    for text, positions in by_text.items():  # in order of first appearance
        version = reader.parse(text)
        if version is None:
            other.extend(positions)
            merged = True
            continue
        group = groups.get(version)
        if group is None:
            groups[version] = (text, version, positions)
        else:  # `1.0` and `1.0.0`: one version, its files kept in list order
            group[2].extend(positions)
            group[2].sort()
    if merged:
        other.sort()
    ordered = sorted(groups.values(), key=lambda group: group[1], reverse=True)
    return ordered, other


def group_files(files: Sequence[DistFile], project: str | None,
                ) -> tuple[list[VersionGroup], list[Placed]]:
    """Group `files` by version of `project`, newest first, each group in list order; and
    the files that carry no version of it. With `project` None nothing is grouped."""
    groups, other = _group([file.filename for file in files], project)
    return (
        [VersionGroup(text, version, None, files=[(p, files[p]) for p in positions])
         for text, version, positions in groups],
        [(p, files[p]) for p in other],
    )


class ProjectPage:
    """The files one page (or find-links page) lists, grouped by version newest first.

    Built from a parsed body (`from_rows`) or from the page cache (`from_stored`, the
    groups decoded lazily). Rows become `DistFile`s naming `index_url`, their URLs joined
    against `base`; `transform` then rewrites each (the page cache puts credentials back
    on file URLs with it). Thread-safe.
    """

    def __init__(self, count: int, base: str, index_url: str, groups: list[VersionGroup],
                 other: list[PlacedRow] | None, other_raw: bytes | None = None,
                 transform: Callable[[DistFile], DistFile] | None = None,
                 on_damage: Callable[[str], None] | None = None) -> None:
        self.count = count
        self.base = base
        self.groups = groups
        self._read = RowReader(base, index_url)
        self._other = other
        self._other_raw = other_raw
        self._other_files: list[Placed] | None = None
        self._transform = transform
        self._on_damage = on_damage
        self._lock = threading.Lock()
        self._all: list[DistFile] | None = None

    @classmethod
    def from_rows(cls, base: str, rows: list[FileRow], index_url: str,
                  project: str | None) -> ProjectPage:
        """A freshly parsed page (`simple.parse_rows`); `project` None: do not group."""
        groups, other = _group([row.filename for row in rows], project)
        page = cls(len(rows), base, index_url, [], [(p, rows[p]) for p in other])
        page.groups = [VersionGroup(text, version, [(p, rows[p]) for p in positions],
                                    page=page)
                       for text, version, positions in groups]
        return page

    @classmethod
    def from_json(cls, base: str, filenames: list[str], raws: list[msgspec.Raw],
                  index_url: str, project: str | None,
                  on_damage: Callable[[str], None] | None = None) -> ProjectPage:
        """A freshly fetched PEP 691 page as `simple.split_json_page` splits it: grouped
        by filename, each group's listed objects kept undecoded. `on_damage` is called
        with the detail when a group's objects turn out not to be valid files."""
        groups, other = _group(filenames, project)
        page = cls(len(filenames), base, index_url, [], None, _join(other, raws),
                   on_damage=on_damage)
        page.groups = [VersionGroup(text, version, None, _join(positions, raws), page)
                       for text, version, positions in groups]
        return page

    @classmethod
    def from_files(cls, files: Sequence[DistFile], project: str | None) -> ProjectPage:
        """A page listing `files` (of one index), as if parsed from a body."""
        index_url = files[0].index_url if files else ""
        return cls.from_rows("", [file_row(file) for file in files], index_url, project)

    @classmethod
    def from_stored(cls, stored: StoredFiles, index_url: str,
                    transform: Callable[[DistFile], DistFile] | None = None,
                    on_damage: Callable[[str], None] | None = None) -> ProjectPage:
        page = cls(stored.count, stored.base, index_url, [], None, stored.other, transform,
                   on_damage)
        page.groups = [VersionGroup(g.version, None, None, g.files, page)
                       for g in stored.versions]
        return page

    def to_stored(self, strip: Callable[[FileRow], FileRow] | None = None,
                  base: str | None = None) -> StoredFiles:
        """The stored shape; `strip` rewrites rows on the way (removing credentials), and
        `base` replaces the base URL."""
        if self._other_raw is not None and strip is None:
            other = self._other_raw
        else:
            other = _encode(self._other_rows(), strip)
        return StoredFiles(
            self.count, self.base if base is None else base,
            [group._stored(strip) for group in self.groups], other,
        )

    def _decode(self, raw: bytes) -> list[PlacedRow]:
        try:
            positions, rows = _GROUP_DECODER.decode(raw)
            if len(positions) != len(rows):
                raise msgspec.ValidationError(
                    f"{len(positions)} positions for {len(rows)} files")
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            if self._on_damage is not None:
                self._on_damage(str(exc))
            raise DamagedPage(str(exc)) from None
        return list(zip(positions, rows, strict=True))

    def _rows_of(self, group: VersionGroup) -> list[PlacedRow]:
        with self._lock:
            if group._rows is None:
                assert group._raw is not None
                group._rows = self._decode(group._raw)
            return group._rows

    def _other_rows(self) -> list[PlacedRow]:
        with self._lock:
            if self._other is None:
                assert self._other_raw is not None
                self._other = self._decode(self._other_raw)
            return self._other

    def _to_files(self, rows: list[PlacedRow]) -> list[Placed]:
        read, transform = self._read, self._transform
        if transform is None:
            return [(position, read(row)) for position, row in rows]
        return [(position, transform(read(row))) for position, row in rows]

    def _make(self, row: FileRow) -> DistFile:
        file = self._read(row)
        return file if self._transform is None else self._transform(file)

    def _file_at(self, group: VersionGroup, position: int) -> DistFile:
        rows = self._rows_of(group)
        with self._lock:
            if group._files is not None:
                return next(file for at, file in group._files if at == position)
            made = group._made.get(position)
            if made is None:
                row = next(row for at, row in rows if at == position)
                made = group._made[position] = self._make(row)
            return made

    def _materialise(self, group: VersionGroup) -> list[Placed]:
        """A group's `DistFile`s, made once (under the lock, so every caller gets the
        same objects, including any `file_at` made before)."""
        rows = self._rows_of(group)
        with self._lock:
            if group._files is None:
                made = group._made
                group._files = [(at, made.get(at) or self._make(row)) for at, row in rows]
            return group._files

    def files(self) -> list[DistFile]:
        """Every file in page order (each `DistFile` the same object on every call)."""
        if self._all is None:
            other = self._other_rows()
            with self._lock:
                if self._other_files is None:
                    self._other_files = self._to_files(other)
            placed = [*self._other_files]
            for group in self.groups:
                placed.extend(group.files())
            placed.sort(key=lambda item: item[0])
            self._all = [file for _, file in placed]
        return self._all


class ProjectFiles(Sequence[DistFile]):
    """Every file offered for one project: index pages in priority order, then the
    find-links files naming it. A read-only sequence materialised on first use; the
    resolver reads `single_page()` instead, to touch only the versions it considers."""

    def __init__(self, pages: Sequence[ProjectPage] = (), extra: Sequence[DistFile] = ()) -> None:
        self.pages = list(pages)
        self.extra = list(extra)
        self._all: list[DistFile] | None = None

    def single_page(self) -> ProjectPage | None:
        """The one page all files come from, if there is exactly one."""
        if len(self.pages) == 1 and not self.extra:
            return self.pages[0]
        return None

    def _files(self) -> list[DistFile]:
        if self._all is None:
            self._all = [f for page in self.pages for f in page.files()] + self.extra
        return self._all

    def __len__(self) -> int:
        return len(self._files())

    def __iter__(self) -> Iterator[DistFile]:
        return iter(self._files())

    @overload
    def __getitem__(self, index: int) -> DistFile: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[DistFile]: ...
    def __getitem__(self, index: int | slice) -> DistFile | Sequence[DistFile]:
        return self._files()[index]
