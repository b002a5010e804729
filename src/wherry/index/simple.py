"""Simple repository API pages → rows (`FileRow`, the files as listed) → `DistFile`s:
pure parsing, no I/O. The page cache keeps rows; `RowReader` turns one into a `DistFile`
when something needs it (index/project_page.py).

JSON (PEP 691, 700) is decoded by msgspec straight into typed Structs: 4.8 ms for numpy's
4,415 files and the page's shape is validated while decoding (reference/stack.md section 5).
HTML (PEP 503) goes through the stdlib `html.parser`, which unescapes attribute values for
us and tolerates real-world markup. Both honour PEP 658/714 (`core-metadata`, falling back
to the older `dist-info-metadata` names), PEP 592 yanks (a valueless `data-yanked` *is*
yanked, a bug in some libraries) and resolve relative links against the page's final URL
(after redirects) or its `<base href>`. Files that are neither wheels nor sdists are
dropped here so nothing above has to think about `.egg` or `.exe`.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import msgspec

from wherry.errors import IndexError_
from wherry.http.client import redact
from wherry.index.models import DistFile

ACCEPT = ("application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, "
          "text/html;q=0.01")
DIST_SUFFIXES = (".whl", ".tar.gz", ".zip")

_NORMALIZE = re.compile(r"[-_.]+")


def normalize_name(name: str) -> str:
    """PEP 503 normalisation: `Foo.Bar_baz` → `foo-bar-baz`."""
    return _NORMALIZE.sub("-", name).lower()


def is_dist_filename(filename: str) -> bool:
    """A wheel or an sdist (`.tar.gz`, or the legacy `.zip`)."""
    return filename.lower().endswith(DIST_SUFFIXES)


def filename_matches(filename: str, name: str) -> bool:
    """Whether a dist filename belongs to project `name` (already normalised).

    Wheels name the project in their first dash-separated field. Sdist names may contain
    dashes, so the normalised stem must start with the name and a dash followed by what
    looks like a version (a digit, or `v` and a digit).
    """
    lower = filename.lower()
    if lower.endswith(".whl"):
        return normalize_name(filename.split("-", 1)[0]) == name
    stem = lower[:-7] if lower.endswith(".tar.gz") else lower.rsplit(".", 1)[0]
    prefix = name + "-"
    normal = _NORMALIZE.sub("-", stem)
    if not normal.startswith(prefix):
        return False
    rest = normal[len(prefix):]
    return bool(rest) and (rest[0].isdigit() or (rest[0] == "v" and rest[1:2].isdigit()))


def filename_of_url(url: str) -> str:
    path = urlsplit(url).path
    return unquote(path.rsplit("/", 1)[-1])


def _split_fragment(url: str) -> tuple[str, dict[str, str]]:
    """The URL without its fragment, and the `#algo=hexdigest` hash it carried."""
    base, sep, fragment = url.partition("#")
    if not sep:
        return url, {}
    algo, eq, digest = fragment.partition("=")
    if eq and algo and digest and "&" not in digest:
        return base, {algo.lower(): digest.lower()}
    return base, {}


class _Joiner:
    """`urljoin` against one base, fast for the shapes pages use thousands of times.

    Absolute links pass through; `/path`, `//host/path` and `../../path` (leading dot
    segments only, then a clean path) are joined by string operations, with the
    directory for each count of `../` computed once. Anything else goes to `urljoin`.
    """

    def __init__(self, base: str) -> None:
        self.base = base
        parts = urlsplit(base)
        self.scheme = parts.scheme
        known = parts.netloc or parts.scheme == "file"
        self.root = f"{parts.scheme}://{parts.netloc}" if known else ""
        # urljoin drops empty segments of relative joins, so leave those bases to it.
        self.simple_base = bool(self.root) and "/." not in parts.path and "//" not in parts.path
        self.directory = parts.path.rsplit("/", 1)[0] + "/" if parts.path else "/"
        self._ups: dict[int, str] = {}

    def _up(self, count: int) -> str:
        found = self._ups.get(count)
        if found is None:
            segments = self.directory.strip("/").split("/") if self.directory != "/" else []
            kept = segments[:max(len(segments) - count, 0)]
            found = self._ups[count] = self.root + "/" + "".join(s + "/" for s in kept)
        return found

    def __call__(self, url: str) -> str:
        if url.startswith(("https://", "http://")):
            return url
        if not self.simple_base or not url or ":" in url.split("/", 1)[0]:
            return urljoin(self.base, url)
        if url.startswith("//"):
            if len(url) > 2 and url[2] not in "/?#" and "/." not in url:
                return f"{self.scheme}:{url}"
            return urljoin(self.base, url)
        if url[0] in "?#":
            return urljoin(self.base, url)
        if url.startswith("/"):
            return self.root + url if "/." not in url else urljoin(self.base, url)
        ups = 0
        rest = url
        while rest.startswith(("../", "./")):
            if rest.startswith("../"):
                ups += 1
                rest = rest[3:]
            else:
                rest = rest[2:]
        if "/." in rest or "//" in rest or rest.startswith((".", "/")):
            return urljoin(self.base, url)
        return self._up(ups) + rest


# -- rows: a page's files as listed ----------------------------------------------------------

_Meta = bool | dict[str, str] | None


class FileRow(msgspec.Struct, rename="kebab", omit_defaults=True):
    """One file as a page lists it, before anything is derived from it: the PEP 691 JSON
    shape (an HTML anchor is put into the same shape). `url` may be relative to the
    page's base URL and carry a `#algo=digest` fragment.

    Pages are stored as rows and each row becomes a `DistFile` (`to_dist_file`) only when
    something looks at its version: for a big project most rows never do.
    """

    filename: str
    url: str
    hashes: dict[str, str] = {}
    requires_python: str | None = None
    core_metadata: _Meta = None
    dist_info_metadata: _Meta = None
    data_dist_info_metadata: _Meta = None
    yanked: bool | str = False
    size: int | None = None
    upload_time: str | None = None


class _JsonPage(msgspec.Struct):
    files: list[FileRow]


_DECODER = msgspec.json.Decoder(_JsonPage)


def _core_metadata(*values: _Meta) -> bool | dict[str, str]:
    """The first given PEP 658/714 value: False, True, or hashes (an empty dict → True)."""
    for value in values:
        if value is None:
            continue
        if isinstance(value, dict):
            return {k.lower(): v.lower() for k, v in value.items()} or True
        return value
    return False


class RowReader:
    """Turns the rows of one page into `DistFile`s: joins against the page's base URL."""

    def __init__(self, base: str, index_url: str) -> None:
        self.base = base
        self.index_url = index_url
        self._join: _Joiner | None = None

    def __call__(self, row: FileRow) -> DistFile:
        join = self._join
        if join is None:
            join = self._join = _Joiner(self.base)
        url, fragment_hashes = _split_fragment(join(row.url))
        hashes = {k.lower(): v.lower() for k, v in row.hashes.items()} or fragment_hashes
        yanked = row.yanked
        return DistFile(
            filename=row.filename,
            url=url,
            index_url=self.index_url,
            hashes=hashes,
            requires_python=(row.requires_python or "").strip() or None,
            yanked="" if yanked is True else yanked,
            core_metadata=_core_metadata(row.core_metadata, row.dist_info_metadata,
                                         row.data_dist_info_metadata),
            size=row.size,
            upload_time=row.upload_time,
        )


def file_row(file: DistFile) -> FileRow:
    """The row that reads back (`RowReader`) as `file`: its URL is absolute."""
    return FileRow(file.filename, file.url, file.hashes, file.requires_python,
                   file.core_metadata, yanked=file.yanked, size=file.size,
                   upload_time=file.upload_time)


def _usable_url(url: str, join: _Joiner) -> bool:
    """Whether a listed URL can be joined (`http://[::1` cannot: skipped, as pip does).
    Only bracketed hosts can fail, so other URLs are not joined here."""
    if "[" not in url and "]" not in url:
        return True
    try:
        _split_fragment(join(url))
    except ValueError:
        return False
    return True


def parse_json_rows(body: bytes, page_url: str) -> list[FileRow]:
    """The dist-file rows of a PEP 691 project page (`application/vnd.pypi.simple.v1+json`),
    relative to `page_url`."""
    try:
        page = _DECODER.decode(body)
    except msgspec.DecodeError as exc:
        raise malformed_json_page(page_url, exc) from None
    join = _Joiner(page_url)
    return [row for row in page.files
            if is_dist_filename(row.filename) and _usable_url(row.url, join)]


class _ListedFile(msgspec.Struct, gc=False):
    """The two fields of a listed file every file is checked by (the rest stays undecoded)."""

    filename: str
    url: str


class _ListedPage(msgspec.Struct, gc=False):
    files: list[_ListedFile]


class _RawPage(msgspec.Struct, gc=False):
    files: list[msgspec.Raw]


_LISTED_DECODER = msgspec.json.Decoder(_ListedPage)
_RAW_DECODER = msgspec.json.Decoder(_RawPage)


def split_json_page(body: bytes, page_url: str) -> tuple[list[str], list[msgspec.Raw]]:
    """The filenames of the dist files a PEP 691 page lists, and each one's JSON object
    as undecoded bytes (same order, other files dropped as `parse_json_rows` drops them).

    Why not `parse_json_rows`: a big page lists thousands of files and the resolver reads
    a handful of its versions. Decoding every file into a `FileRow` only to encode it
    again for the page cache was most of a cold resolution's parsing time; two decodes
    that build no rows (the names; the raw objects) are about 4x cheaper, and the raw
    objects go to the cache as they are (project_page.py). The page's JSON syntax and the
    two fields read here are checked now; the other fields of a file when its version is
    first read (`FileRow`'s types), with the same error."""
    try:
        listed = _LISTED_DECODER.decode(body).files
        raws = _RAW_DECODER.decode(body).files
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise malformed_json_page(page_url, exc) from None
    join = _Joiner(page_url)
    names: list[str] = []
    kept: list[msgspec.Raw] = []
    # The checks of `is_dist_filename` and `_usable_url` inline (this runs for every
    # file of every page): the usual spelling first, `lower()` only for the rest.
    for item, raw in zip(listed, raws, strict=True):
        filename = item.filename
        if not filename.endswith(DIST_SUFFIXES) and not filename.lower().endswith(
                DIST_SUFFIXES):
            continue
        url = item.url
        if ("[" in url or "]" in url) and not _usable_url(url, join):
            continue
        names.append(filename)
        kept.append(raw)
    return names, kept


def malformed_json_page(page_url: str, detail: object) -> IndexError_:
    return IndexError_(f"Malformed JSON project page at {redact(page_url)}: {detail}",
                       hint="the index does not follow PEP 691")


def parse_json_page(body: bytes, page_url: str, index_url: str) -> list[DistFile]:
    """Parse a PEP 691 project page (`application/vnd.pypi.simple.v1+json`)."""
    read = RowReader(page_url, index_url)
    return [read(row) for row in parse_json_rows(body, page_url)]


# -- HTML (PEP 503) ------------------------------------------------------------------------

def _html_metadata(value: str | None) -> bool | dict[str, str]:
    if value is None or value.strip().lower() == "true":
        return True
    if value.strip().lower() == "false":
        return False
    algo, eq, digest = value.strip().partition("=")
    if eq and algo and digest:
        return {algo.lower(): digest.lower()}
    return True


def _anchor_parser() -> Any:
    """A new anchor parser: collects the first `<base href>` and every `<a href>`'s
    attributes. The class (and `html.parser`, 3 ms) is made on first use, not when this
    module is imported, which happens before the first request leaves."""
    global _ANCHOR_PARSER
    if _ANCHOR_PARSER is None:
        from html.parser import HTMLParser

        class AnchorParser(HTMLParser):
            def __init__(self) -> None:
                super().__init__(convert_charrefs=True)
                self.base: str | None = None
                self.anchors: list[dict[str, str | None]] = []

            def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]
                                ) -> None:
                if tag == "a":
                    found = dict(attrs)
                    if found.get("href"):
                        self.anchors.append(found)
                elif tag == "base" and self.base is None:
                    href = dict(attrs).get("href")
                    if href:
                        self.base = href

        _ANCHOR_PARSER = AnchorParser
    return _ANCHOR_PARSER()


_ANCHOR_PARSER: Any = None


def parse_anchors(body: bytes, page_url: str) -> tuple[str, list[dict[str, str | None]]]:
    """The base URL links resolve against, and the attributes of each `<a href>`.

    `html.parser` gives up on some broken markup (`<![` not followed by a name) with an
    AssertionError, and a `<base href>` may not be a URL: both are `IndexError_`s.
    """
    parser = _anchor_parser()
    try:
        parser.feed(body.decode("utf-8", errors="replace"))
        parser.close()
        base = urljoin(page_url, parser.base) if parser.base else page_url
    except (AssertionError, ValueError) as exc:
        detail = " ".join(str(exc).split())[:120]
        raise IndexError_(f"Malformed HTML page at {redact(page_url)}: {detail}",
                          hint="the page is not valid HTML") from None
    return base, parser.anchors


def parse_html_rows(body: bytes, page_url: str) -> tuple[str, list[FileRow]]:
    """The base URL and the dist-file rows of a PEP 503 project page (or a find-links
    HTML page). Rows carry absolute URLs, their fragment's hash moved to `hashes`."""
    base, anchors = parse_anchors(body, page_url)
    join = _Joiner(base)
    rows: list[FileRow] = []
    for attrs in anchors:
        href = attrs["href"]
        assert href is not None  # filtered by the parser
        try:
            url, hashes = _split_fragment(join(href.strip()))
            filename = filename_of_url(url)
        except ValueError:  # not a URL (`http://[::1`): skipped, like any non-dist link
            continue
        if not is_dist_filename(filename):
            continue
        if "data-core-metadata" in attrs:
            core: bool | dict[str, str] = _html_metadata(attrs["data-core-metadata"])
        elif "data-dist-info-metadata" in attrs:
            core = _html_metadata(attrs["data-dist-info-metadata"])
        else:
            core = False
        if "data-yanked" in attrs:
            yanked: bool | str = attrs["data-yanked"] or ""
        else:
            yanked = False
        size_text = attrs.get("data-size")
        rows.append(FileRow(
            filename=filename,
            url=url,
            hashes=hashes,
            requires_python=attrs.get("data-requires-python"),
            core_metadata=core,
            yanked=yanked,
            size=int(size_text) if size_text and size_text.isascii() and size_text.isdigit()
            else None,
            upload_time=attrs.get("data-upload-time") or None,
        ))
    return base, rows


def parse_html_page(body: bytes, page_url: str, index_url: str) -> list[DistFile]:
    """Parse a PEP 503 project page (or a find-links HTML page): one file per dist link."""
    base, rows = parse_html_rows(body, page_url)
    read = RowReader(base, index_url)
    return [read(row) for row in rows]


def parse_rows(body: bytes, content_type: str, page_url: str) -> tuple[str, list[FileRow]]:
    """A page's base URL and rows, by its media type: JSON for any `...json`, else HTML."""
    if content_type.endswith("json"):
        return page_url, parse_json_rows(body, page_url)
    return parse_html_rows(body, page_url)


def parse_page(body: bytes, content_type: str, page_url: str, index_url: str,
               ) -> list[DistFile]:
    """Dispatch on the response's media type: JSON for any `...json`, HTML otherwise."""
    if content_type.endswith("json"):
        return parse_json_page(body, page_url, index_url)
    return parse_html_page(body, page_url, index_url)
