"""The `METADATA` of a wheel, fetched as cheaply as the index allows, cached forever.

Resolution needs the dependencies of many candidate versions but installs few of them, so
downloading wheels to read 2 kB each is the slow path to avoid (DESIGN.md principle 2):

1. PEP 658/714: the index serves `<wheel-url>.metadata`; its advertised hash is checked
   (uv drops that hash; we do not).
2. HTTP range requests into the zip (lazy_wheel.py): the index reachable here has no
   `.metadata` files but honours ranges.
3. The whole wheel, verified against the index's hashes, when the server ignores ranges.

Local wheels (`file://` or a path) are read directly and never cached: opening the zip is
as cheap as a cache read and always current. Remote results are immutable by file hash
(or, without one, by URL) and live in the `metadata` bucket. Every METADATA must name the
project and version of its filename, so a mislabelled wheel fails here, early.
"""

from __future__ import annotations

import hashlib
import shutil
import time
import zipfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from wherry.cache.entry import write_atomic
from wherry.cache.layout import Cache
from wherry.errors import WheelError
from wherry.http.client import HttpClient, check_hashes, file_url_to_path, redact
from wherry.index.lazy_wheel import (
    Unsupported,
    ZipMember,
    metadata_member,
    read_metadata_by_range,
)
from wherry.index.models import DistFile
from wherry.index.simple import normalize_name
from wherry.output import log, trace


def wheel_name_version(filename: str) -> tuple[str, str]:
    """`Foo_Bar-1.0-py3-none-any.whl` → `("foo-bar", "1.0")` (name normalised)."""
    parts = filename[:-4].split("-") if filename.endswith(".whl") else []
    if len(parts) not in (5, 6) or not parts[0] or not parts[1]:
        raise WheelError(f"Invalid wheel filename {filename!r}",
                         hint="expected name-version[-build]-python-abi-platform.whl")
    return normalize_name(parts[0]), parts[1]


def metadata_name_version(data: bytes) -> tuple[str | None, str | None]:
    """The `Name` and `Version` fields from the header part of a METADATA file."""
    name = version = None
    for line in data.decode("utf-8", errors="replace").splitlines():
        if not line.strip():
            break
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key = key.strip().lower()
        if key == "name" and name is None:
            name = value.strip()
        elif key == "version" and version is None:
            version = value.strip()
    return name, version


def _same_version(a: str, b: str) -> bool:
    if a == b:
        return True
    from packaging.version import InvalidVersion, Version

    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a.replace("_", "-").lower() == b.replace("_", "-").lower()


def check_metadata(data: bytes, filename: str) -> None:
    """Raise `WheelError` unless METADATA's Name and Version match the wheel's filename."""
    project, version = wheel_name_version(filename)
    meta_name, meta_version = metadata_name_version(data)
    if meta_name is None or meta_version is None:
        raise WheelError(f"The METADATA of {filename} has no Name or Version field",
                         hint="the wheel is broken; report it to the project")
    if normalize_name(meta_name) != project or not _same_version(meta_version, version):
        raise WheelError(
            f"The METADATA of {filename} describes {meta_name} {meta_version}, "
            f"not the {project} {version} its filename says",
            hint="the wheel is mislabelled; report it to the project")


def cache_path(cache: Cache, file: DistFile) -> Path:
    """Where the METADATA of `file` is cached: by its sha256 if known, else by URL."""
    digest = file.hashes.get("sha256")
    if digest:
        return cache.bucket("metadata") / "sha256" / digest[:2] / f"{digest}.METADATA"
    parts = urlsplit(file.url)
    bare = urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path,
                       parts.query, ""))
    key = hashlib.sha256(bare.encode()).hexdigest()
    return cache.bucket("metadata") / "url" / key[:2] / f"{key}.METADATA"


def read_local_wheel_metadata(path: Path, filename: str) -> bytes:
    """METADATA straight from a wheel on disk."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            members = [ZipMember(i.filename, i.compress_type, i.flag_bits, i.CRC,
                                 i.compress_size, i.file_size, i.header_offset) for i in infos]
            member = metadata_member(members, wheel_name_version(filename)[0], filename)
            return archive.read(member.name)
    except FileNotFoundError:
        raise WheelError(f"Wheel {path} does not exist") from None
    except (zipfile.BadZipFile, OSError, EOFError, UnicodeDecodeError) as exc:
        # (UnicodeDecodeError: a member name flagged UTF-8 that is not UTF-8)
        raise WheelError(f"Cannot read {filename} as a zip archive: {exc}",
                         hint="the file is corrupt; delete it or re-download") from None


def _is_local(url: str) -> bool:
    scheme = urlsplit(url).scheme
    return scheme == "file" or len(scheme) <= 1


def _local_path(url: str) -> Path:
    return file_url_to_path(url) if url.startswith("file:") else Path(url)


def _metadata_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path + ".metadata", parts.query, ""))


def wheel_metadata(file: DistFile, client: HttpClient, cache: Cache) -> bytes:
    """The raw METADATA bytes of a wheel, cached; see the module docstring for the order."""
    if not file.is_wheel:
        raise WheelError(
            f"Cannot read the metadata of {file.filename}: metadata of source distributions "
            "needs a build; not supported yet",
            hint="use a wheel of this version, or a version that has wheels")
    wheel_name_version(file.filename)  # reject bad filenames before any I/O
    if _is_local(file.url):
        data = read_local_wheel_metadata(_local_path(file.url), file.filename)
        check_metadata(data, file.filename)
        return data
    path = cache_path(cache, file)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        pass
    else:
        trace("Found cached metadata for %s", file.filename)
        return data
    started = time.perf_counter()
    data, how = _fetch_metadata(file, client, cache)
    check_metadata(data, file.filename)
    write_atomic(path, data)
    log.debug("Fetched metadata of %s (%s) in %.0f ms", file.filename, how,
              (time.perf_counter() - started) * 1000)
    return data


def _fetch_metadata(file: DistFile, client: HttpClient, cache: Cache) -> tuple[bytes, str]:
    if file.core_metadata is not False:
        url = _metadata_url(file.url)
        response = client.get(url, allow_status=(200, 404))
        if response.status == 200:
            if isinstance(file.core_metadata, dict):
                digests = {algo: hashlib.new(algo, response.body).hexdigest()
                           for algo in file.core_metadata
                           if algo in hashlib.algorithms_available}
                check_hashes(f"{file.filename}.metadata", file.core_metadata, digests)
            return response.body, "PEP 658"
        log.debug("The index promised %s but has none; reading the wheel", redact(url))
    project = wheel_name_version(file.filename)[0]
    try:
        data = read_metadata_by_range(file.url, client, project, file.filename)
    except Unsupported as exc:
        log.debug("Cannot read %s by ranges (%s); downloading it", file.filename, exc)
        data = None
    if data is not None:
        return data, "range requests"
    tmp = cache.tempdir(prefix="wheel-")
    try:
        dest = tmp / file.filename
        client.download(file.url, dest, hashes=file.hashes)
        return read_local_wheel_metadata(dest, file.filename), "whole wheel"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
