"""`--find-links` locations → `DistFile`s.

A location is a local directory (or a `file://` URL of one), whose top-level wheels and
sdists are listed, an HTML page (http, https or file) whose dist links are read like a
PEP 503 page, or a path/URL of a single dist file. Directory listings carry no hashes: the
files are hashed when they are used, never trusted from a name. Like uv and pip, the
listing is not filtered by project here; `IndexSources` picks the files of one project.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

from wherry.errors import IndexError_
from wherry.http.client import HttpClient, file_url_to_path, redact
from wherry.index.models import DistFile
from wherry.index.simple import filename_of_url, is_dist_filename, parse_html_page
from wherry.output import log

FIND_LINKS_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.1"


def is_remote_page(location: str) -> bool:
    """Whether `location` is an http(s) page to list (not a single remote dist file)."""
    try:
        scheme = urlsplit(location).scheme.lower()
    except ValueError:
        return False
    return scheme in ("http", "https") and not is_dist_filename(filename_of_url(location))


def list_directory(directory: Path, index_url: str) -> list[DistFile]:
    """The wheels and sdists directly inside `directory`, sorted by filename."""
    try:
        names = sorted(os.listdir(directory))
    except OSError as exc:
        raise IndexError_(f"Cannot list find-links directory {directory}: "
                          f"{exc.strerror or exc}") from None
    files = []
    for name in names:
        if not is_dist_filename(name):
            continue
        path = directory / name
        if path.is_file():
            files.append(DistFile(filename=name, url=path.as_uri(), index_url=index_url))
    return files


def find_links_files(location: str, client: HttpClient) -> list[DistFile]:
    """All dist files a find-links location offers (every project)."""
    try:
        scheme = urlsplit(location).scheme.lower()
    except ValueError:  # `http://[::1/x`: redact() would fail too, so drop any userinfo
        raise IndexError_(f"Invalid find-links location {location.rsplit('@', 1)[-1]}",
                          hint="use a directory, a file:// URL or an http(s) URL") from None
    if scheme in ("http", "https"):
        filename = filename_of_url(location)
        if is_dist_filename(filename):
            return [DistFile(filename=filename, url=location.split("#", 1)[0],
                             index_url=location)]
        response = client.get(location, headers={"Accept": FIND_LINKS_ACCEPT})
        files = parse_html_page(response.body, response.url, location)
        log.debug("Found %d files on find-links page %s", len(files), redact(location))
        return files
    if scheme == "file":
        path = file_url_to_path(location)
    elif scheme and len(scheme) > 1:
        raise IndexError_(f"Unsupported find-links location {redact(location)}",
                          hint="use a directory, a file:// URL or an http(s) URL")
    else:
        path = Path(location).expanduser()
    path = path.absolute()
    if path.is_dir():
        files = list_directory(path, path.as_uri())
        log.debug("Found %d files in find-links directory %s", len(files), path)
        return files
    if path.is_file():
        if is_dist_filename(path.name):
            return [DistFile(filename=path.name, url=path.as_uri(), index_url=path.as_uri())]
        response = client.get(path.as_uri())
        return parse_html_page(response.body, response.url, path.as_uri())
    raise IndexError_(f"Find-links location {location} does not exist",
                      hint="pass an existing directory, an HTML file or an http(s) URL")
