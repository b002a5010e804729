"""The built-wheel cache (bucket `built-v1`), with one lock per source.

Key (DESIGN.md section 5): the source's identity (an sdist's sha256, a local tree's path
and state, a git repository and commit), then everything that can change what a build
produces: the target's interpreter and ABI (free-threaded included) and its compatible
tags, isolation (and, without it, the environment and what is installed there), config
settings, build constraints and whether it is an editable build.
uv leaves isolation, constraints and free-threading out of its key and has reused wrong
builds because of it (reference/uv.md section 6); here they are in.

Layout: `built-v1/<kind>/<source>/<build key>/wheel/<file>.whl` plus `entry.json`, moved
into place complete (readers never see half an entry), and `METADATA` beside it for
metadata a backend prepared without building. A failed build leaves nothing behind.
`lock(source)` makes two wherry processes build one source one after the other; the
second then finds the first's wheel. Beside the entries: `sdist-files/<sha256>/<file>`
holds downloaded sdists (and wheels named by hashed URLs), immutable by hash, and
`git-db/<digest>` the mirror clone of each git repository (commands/direct.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

import msgspec

from wherry.cache.entry import file_sha256, persist_dir, write_atomic
from wherry.cache.layout import Cache
from wherry.cache.lock import HeldLock
from wherry.output import log


class SourceId(msgspec.Struct, frozen=True):
    """What is being built, as a cache key: `kind` is sdist, path, git or url."""

    kind: str
    digest: str
    label: str


def source_for_sdist(sha256: str, label: str) -> SourceId:
    return SourceId("sdist", sha256.lower(), label)


def source_for_tree(path: Path, state: str, label: str) -> SourceId:
    where = hashlib.sha256(os.fsencode(os.path.abspath(path))).hexdigest()[:16]
    return SourceId("path", f"{where}-{state[:32]}", label)


def source_for_git(url: str, commit: str, subdirectory: str | None, label: str) -> SourceId:
    where = hashlib.sha256(f"{url}#{subdirectory or ''}".encode()).hexdigest()[:16]
    return SourceId("git", f"{where}-{commit}", label)


def build_key(
    *,
    tags: Sequence[str],
    interpreter: Mapping[str, object],
    isolated: bool,
    config_settings: Mapping[str, str | list[str]],
    build_constraints: Sequence[str],
    editable: bool = False,
) -> str:
    """A digest of everything besides the source that changes what a build makes."""
    material = json.dumps({
        "tags": list(tags),
        "interpreter": dict(interpreter),
        "isolated": isolated,
        "config_settings": {k: config_settings[k] for k in sorted(config_settings)},
        "build_constraints": sorted(build_constraints),
        "editable": editable,
    }, sort_keys=True)
    return hashlib.sha256(material.encode()).hexdigest()[:32]


class BuiltWheels:
    """Reads and writes the `built-v1` bucket."""

    def __init__(self, cache: Cache) -> None:
        self.cache = cache

    def _source_dir(self, source: SourceId) -> Path:
        return self.cache.bucket("built") / source.kind / source.digest

    def _entry(self, source: SourceId, key: str) -> Path:
        return self._source_dir(source) / key

    def find_wheel(self, source: SourceId, key: str) -> Path | None:
        """The cached wheel for this source and build key, or None."""
        entry = self._entry(source, key) / "wheel"
        try:
            meta = json.loads((entry / "entry.json").read_bytes())
            wheel = entry / str(meta["filename"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return wheel if wheel.is_file() else None

    def store_wheel(self, source: SourceId, key: str, wheel: Path) -> Path:
        """Move a freshly built `wheel` into the cache (atomically); return its new path."""
        work = self.cache.tempdir(prefix="built-")
        try:
            shutil.move(str(wheel), work / wheel.name)
            digest = file_sha256(work / wheel.name)
            (work / "entry.json").write_text(
                json.dumps({"filename": wheel.name, "sha256": digest, "source": source.label}))
            target = self._entry(source, key) / "wheel"
            if target.exists():  # a rebuild (--refresh) replaces the entry, under the lock
                old = self.cache.tempdir(prefix="built-old-")
                os.rename(target, old / "wheel")
                shutil.rmtree(old, ignore_errors=True)
            target = persist_dir(work, target)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        log.debug("Stored the built wheel %s in the cache", wheel.name)
        return target / wheel.name

    @staticmethod
    def sha256_of(wheel: Path) -> str | None:
        """The sha256 recorded beside a cached built wheel (None if unreadable)."""
        try:
            meta = json.loads((wheel.parent / "entry.json").read_bytes())
        except (OSError, ValueError):
            return None
        value = meta.get("sha256") if isinstance(meta, dict) else None
        return str(value) if isinstance(value, str) and meta.get("filename") == wheel.name \
            else None

    def find_metadata(self, source: SourceId, key: str | None) -> bytes | None:
        path = self._metadata_path(source, key)
        try:
            return path.read_bytes()
        except OSError:
            return None

    def store_metadata(self, source: SourceId, key: str | None, data: bytes) -> None:
        write_atomic(self._metadata_path(source, key), data)

    def _metadata_path(self, source: SourceId, key: str | None) -> Path:
        # Static metadata (PKG-INFO, PEP 643) belongs to the source; prepared metadata
        # to one build configuration, since a setup.py may compute it.
        base = self._source_dir(source)
        return base / "METADATA" if key is None else base / key / "METADATA"

    def sdist_path(self, sha256: str, filename: str) -> Path:
        """Where a downloaded sdist is kept (immutable by hash) for later builds."""
        return self.cache.bucket("built") / "sdist-files" / sha256.lower() / filename

    def lock(self, source: SourceId, on_wait: str | None = None) -> HeldLock:
        """Hold the per-source build lock for the `with` block (across processes)."""
        directory = self._source_dir(source)
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT, 0o666)
        return HeldLock(fd, lambda: log.debug(
            "Waiting for another build of %s (this process or another) to finish",
            on_wait or source.label))
