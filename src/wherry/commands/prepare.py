"""Getting each wheel to install into the unpacked-wheel cache: download (or build),
verify, unpack.

A wheel is unpacked once into an immutable archive entry keyed by its sha256; installs
then link from there. When the index tells us a wheel's sha256, a cache hit costs one
`stat`. Files without a published hash (find-links directories) get a small pointer in
the `wheels` bucket, keyed by URL and, for local files, by size and mtime.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

import msgspec
import msgspec.structs

from wherry.cache.entry import file_sha256, write_atomic
from wherry.cache.layout import Cache
from wherry.errors import BuildError
from wherry.futures import Future
from wherry.http.client import DownloadSink, HttpClient
from wherry.index.models import DistFile
from wherry.install import unpack_worker
from wherry.install.stream_unpack import StreamUnpacker, StreamUnsupported
from wherry.install.unpack import archive_path, unpack_wheel
from wherry.output import log, trace
from wherry.resolve.candidates import Candidate

if TYPE_CHECKING:
    from wherry.commands.build_env import BuildContext


def _pointer_path(file: DistFile, cache: Cache) -> Path:
    key = file.url
    parts = urlsplit(file.url)
    if parts.scheme == "file":
        try:
            st = os.stat(unquote(parts.path))
            key += f"|{st.st_size}|{st.st_mtime_ns}"
        except OSError:
            pass
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return cache.bucket("wheels") / f"{digest}.json"


def cached_archive(file: DistFile, cache: Cache) -> Path | None:
    """The unpacked archive for `file` if the cache already has it."""
    sha256 = file.hashes.get("sha256")
    if sha256 is None:
        try:
            sha256 = json.loads(_pointer_path(file, cache).read_bytes())["sha256"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
    return archive_path(cache, str(sha256))


# Wheels at least this big (the index lists sizes) are unpacked in worker processes:
# unzipping and hashing thousands of members is CPU work that threads cannot spread over
# cores (the GIL). A worker's start-up (~100 ms) overlaps its first download.
_PROCESS_THRESHOLD = 1024 * 1024


def downloaded_sha256(candidate: Candidate, cache: Cache) -> str | None:
    """The sha256 of the file prepared for an index candidate: the index's, else the one
    computed while downloading (kept beside the archive pointer). None for an sdist the
    index gave no hash for (its build consumed it)."""
    file = candidate.wheel
    known = file.hashes.get("sha256")
    if known is not None or candidate.needs_build:
        return known
    try:
        return str(json.loads(_pointer_path(file, cache).read_bytes())["sha256"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


# Downloads under way in this process, by (cache root, URL): see `prepare_wheel`.
_in_flight: dict[tuple[str, str], Future[Path]] = {}
_in_flight_lock = threading.Lock()


def prepare_wheel(file: DistFile, cache: Cache, client: HttpClient) -> Path:
    """The unpacked archive for `file`: from the cache, or downloaded, verified and unpacked.

    The wheel is unpacked while it downloads (install/stream_unpack.py), in a worker
    process when it is big; a wheel the streaming reader cannot read with certainty is
    downloaded whole and unpacked from the file instead. One download per file and
    process: build environments made side by side mostly want the same wheels
    (setuptools, flit-core), and a second caller waits for the first one's archive (or
    its error) instead of fetching the same bytes again."""
    found = cached_archive(file, cache)
    if found is not None:
        trace("Found cached archive for %s", file.filename)
        return found
    key = (str(cache.root), file.url)
    with _in_flight_lock:
        pending = _in_flight.get(key)
        owner = pending is None
        if pending is None:
            pending = _in_flight[key] = Future()
    if not owner:
        log.debug("Waiting for the download of %s under way", file.filename)
        return pending.result()
    try:
        archive = _download(file, cache, client)
    except BaseException as exc:
        pending.set_exception(exc)
        raise
    else:
        pending.set_result(archive)
        return archive
    finally:
        with _in_flight_lock:
            del _in_flight[key]


def _download(file: DistFile, cache: Cache, client: HttpClient) -> Path:
    """`prepare_wheel` for a file the cache does not have."""
    big = file.size is not None and file.size >= _PROCESS_THRESHOLD
    reserved = []
    if big:
        try:
            reserved.append(unpack_worker.reserve())
        except OSError as error:  # no process can be started here: unpack in this one
            log.debug("Cannot start an unpacking process (%s)", error)
            big = False

    def open_sink() -> DownloadSink[Path]:
        if not big:
            return StreamUnpacker(file.filename, cache)
        # The reserved worker for the first attempt; a retry waits for one again.
        worker = reserved.pop() if reserved else unpack_worker.reserve()
        log.debug("Unpacking %s in a worker process while it downloads", file.filename)
        return unpack_worker.WorkerSink(worker, file.filename, cache)

    log.debug("Downloading %s", file.filename)
    try:
        sha256, archive = client.stream(file.url, open_sink, hashes=file.hashes)
    except StreamUnsupported as why:
        log.debug("Cannot unpack %s while downloading it (%s); downloading it whole",
                  file.filename, why)
        work = cache.tempdir(prefix="download-")
        try:
            target = work / file.filename
            sha256 = client.download(file.url, target, hashes=file.hashes)
            archive = unpack_wheel(target, cache, sha256=sha256, verified=True)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    finally:
        if reserved:  # the request failed before a sink was needed
            unpack_worker.release(reserved.pop())
    if "sha256" not in file.hashes:
        write_atomic(_pointer_path(file, cache), json.dumps({"sha256": sha256}).encode())
    return archive


def prepare_candidate(
    candidate: Candidate, cache: Cache, client: HttpClient, builds: BuildContext | None
) -> tuple[Candidate, Path]:
    """The unpacked archive to install for `candidate`, and the candidate as installed
    (for a build, its `wheel` becomes the built wheel, which names the real tags).

    Index wheels go through `prepare_wheel`; a wheel given by path or URL is unpacked
    from where it is; anything else is built (or found in the built-wheel cache) first.
    """
    direct = candidate.direct
    if direct is None and not candidate.needs_build:
        return candidate, prepare_wheel(candidate.wheel, cache, client)
    if direct is not None and direct.is_wheel:
        wheel = Path(direct.local)
        return candidate, unpack_wheel(wheel, cache, sha256=file_sha256(wheel), verified=True)
    if builds is None:  # pragma: no cover - every caller that can meet sdists passes one
        raise BuildError(f"{candidate.name}=={candidate.version} needs a build, and this "
                         "command cannot build")
    built = builds.build(candidate, client)
    _check_built_tags(candidate, built, builds)
    sha256 = builds.builder.built.sha256_of(built) or file_sha256(built)
    archive = archive_path(cache, sha256) or unpack_wheel(built, cache, sha256=sha256,
                                                           verified=True)
    built_file = DistFile(built.name, built.as_uri(), "built", {"sha256": sha256})
    installed = msgspec.structs.replace(candidate, wheel=built_file)
    return installed, archive


def _check_built_tags(candidate: Candidate, built: Path, builds: BuildContext) -> None:
    """A build for this machine must produce a wheel this target accepts (it may not, for
    `--python-platform` targets or a backend that mislabels its wheels)."""
    parts = built.name[:-4].split("-")
    if len(parts) in (5, 6) and builds.target.tags.rank_of_filename_tags(*parts[-3:]) is None:
        raise BuildError(
            f"the wheel built for {candidate.name}=={candidate.version} ({built.name}) is "
            "not compatible with the target environment",
            hint="builds run for this machine's interpreter; --python-platform and "
            "--python-version targets need wheels from the index")
