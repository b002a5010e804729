"""Build real wheels and sdists on the fly for tests.

Tests of an installer are only as good as the packages they install, so this module
writes genuine artefacts instead of mocks: wheels follow the binary distribution format
(PEP 427 and its successor spec) closely enough that the reference `installer` package
accepts them, and sdists carry a real `[build-system]` that setuptools, hatchling or
flit can turn into a wheel.

Everything is deterministic (fixed timestamps, sorted entries, fixed permissions), so
the same arguments always give the same bytes and the same sha256: tests may compare
hashes across builds and the per-process memo below stays valid.  The memo keeps each
artefact's bytes keyed on every argument, so a test run builds each package once no
matter how many tests ask for it.
"""

from __future__ import annotations

import base64
import csv
import gzip
import hashlib
import io
import os
import re
import tarfile
import threading
import zipfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Literal

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

__all__ = [
    "SDIST_BACKENDS",
    "SdistBackend",
    "WheelCorruption",
    "Wheelhouse",
    "build_sdist",
    "build_wheel",
    "dist_info_name",
    "import_name",
    "sdist_filename",
    "sha256_of",
    "wheel_filename",
    "wheel_metadata",
]

WheelCorruption = Literal["truncate", "bad-record-hash", "missing-metadata", "not-a-zip"]
SdistBackend = Literal["setuptools", "hatchling", "flit"]
SDIST_BACKENDS: tuple[SdistBackend, ...] = ("setuptools", "hatchling", "flit")

#: Zip timestamps are fixed so that rebuilding gives identical bytes (1980 is the epoch
#: of the zip format; a later date avoids tools that warn about pre-1980 entries).
_ZIP_DATE = (2020, 2, 2, 0, 0, 0)
#: Same for tar members and the gzip header (seconds since the Unix epoch).
_TAR_MTIME = 1580601600

_DATA_SCHEMES = frozenset({"purelib", "platlib", "scripts", "data", "headers"})

_memo: dict[str, bytes] = {}
_memo_lock = threading.Lock()


# --------------------------------------------------------------------------- names


def _escape_component(value: str) -> str:
    """Escape a wheel/sdist filename component: runs of `-_.` become one `_`.

    The binary distribution format reserves `-` as the field separator, so names and
    versions must not contain it.
    """
    return re.sub(r"[-_.]+", "_", value)


def dist_info_name(name: str) -> str:
    """The distribution part of wheel, `.dist-info` and sdist names (`Foo.Bar` → `foo_bar`)."""
    return canonicalize_name(name).replace("-", "_")


def import_name(name: str) -> str:
    """The top-level package name the default sources use: a valid Python identifier."""
    ident = re.sub(r"\W", "_", canonicalize_name(name).replace("-", "_"))
    return ident if not ident[:1].isdigit() else f"_{ident}"


def _norm_version(version: str) -> str:
    """Normalise a version for filenames; keep unparsable ones (tests of bad input) as-is."""
    try:
        return str(Version(version))
    except InvalidVersion:
        return version.replace("-", "_")


def wheel_filename(name: str, version: str, tag: str = "py3-none-any") -> str:
    """`{dist}-{version}-{tag}.whl` with both name and version escaped per the spec."""
    return f"{dist_info_name(name)}-{_norm_version(version)}-{tag}.whl"


def sdist_filename(name: str, version: str) -> str:
    """`{dist}-{version}.tar.gz` per the source distribution format (PEP 625)."""
    return f"{dist_info_name(name)}-{_norm_version(version)}.tar.gz"


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, as indexes publish it in `#sha256=` fragments."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def _record_hash(data: bytes) -> str:
    """RECORD's hash format: `sha256=` + urlsafe base64 without `=` padding."""
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _as_bytes(content: bytes | str) -> bytes:
    return content.encode("utf-8") if isinstance(content, str) else content


def _expand_tags(tag: str) -> list[tuple[str, str, str]]:
    """Expand a compressed tag set (`py2.py3-none-any`) into its individual triples."""
    parts = tag.split("-")
    if len(parts) != 3:
        raise ValueError(f"wheel tag must be python-abi-platform, got {tag!r}")
    pythons, abis, platforms = (p.split(".") for p in parts)
    return [(py, abi, plat) for py in pythons for abi in abis for plat in platforms]


# ------------------------------------------------------------------------- metadata


def _requires_dist_lines(
    requires: Sequence[str], extras: Mapping[str, Sequence[str]]
) -> list[tuple[str, str]]:
    """`Requires-Dist`/`Provides-Extra` headers, folding each extra into the marker.

    A requirement that already has a marker keeps it, parenthesised and and-ed with the
    extra, which is what build backends emit.
    """
    headers: list[tuple[str, str]] = [("Requires-Dist", req) for req in requires]
    for extra, reqs in extras.items():
        headers.append(("Provides-Extra", extra))
        for raw in reqs:
            req = Requirement(raw)
            marker = f'extra == "{extra}"'
            if req.marker is not None:
                marker = f"({req.marker}) and {marker}"
            req.marker = None
            headers.append(("Requires-Dist", f"{req}; {marker}"))
    return headers


def _metadata_text(
    name: str,
    version: str,
    *,
    metadata_version: str,
    requires: Sequence[str],
    extras: Mapping[str, Sequence[str]],
    requires_python: str | None,
    extra_metadata: Sequence[tuple[str, str]],
) -> str:
    """Core metadata in its RFC 822-ish email-header form (METADATA / PKG-INFO)."""
    headers: list[tuple[str, str]] = [
        ("Metadata-Version", metadata_version),
        ("Name", name),
        ("Version", version),
        ("Summary", f"Test package {name}"),
    ]
    if requires_python is not None:
        headers.append(("Requires-Python", requires_python))
    headers += _requires_dist_lines(requires, extras)
    headers += list(extra_metadata)
    return "".join(f"{key}: {value}\n" for key, value in headers)


# --------------------------------------------------------------------------- wheels


def _zip_bytes(entries: Sequence[tuple[str, bytes]]) -> bytes:
    """A deterministic zip: fixed timestamps and permissions, entries in the given order."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for arcname, data in entries:
            info = zipfile.ZipInfo(arcname, date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            executable = "/scripts/" in arcname and ".data/" in arcname
            info.external_attr = (0o100755 if executable else 0o100644) << 16
            zf.writestr(info, data)
    return buf.getvalue()


def _freeze(value: object) -> object:
    """A hashable, order-independent stand-in for nested mappings/sequences (memo keys)."""
    if isinstance(value, Mapping):
        return tuple(sorted((repr(k), _freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    return value


def _memo_key(kind: str, **kwargs: object) -> str:
    frozen = repr((kind, _freeze(kwargs)))
    return hashlib.sha256(frozen.encode("utf-8")).hexdigest()


def _memoised(key: str, build: Callable[[], bytes]) -> bytes:
    """Return the memoised bytes for `key`, calling `build()` the first time."""
    with _memo_lock:
        cached = _memo.get(key)
    if cached is not None:
        return cached
    data = build()
    with _memo_lock:
        return _memo.setdefault(key, data)


def _write_if_changed(path: Path, data: bytes) -> Path:
    """Write atomically, skipping the write if identical bytes are already there.

    Skipping keeps mtimes (and so the index server's Last-Modified) stable across calls.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return path
    except FileNotFoundError:
        pass
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path


def build_wheel(
    dest: Path,
    name: str,
    version: str,
    *,
    tag: str = "py3-none-any",
    requires: Sequence[str] = (),
    requires_python: str | None = None,
    extras: Mapping[str, Sequence[str]] | None = None,
    files: Mapping[str, bytes | str] | None = None,
    entry_points: Mapping[str, Mapping[str, str]] | None = None,
    data: Mapping[str, Mapping[str, bytes | str]] | None = None,
    root_is_purelib: bool | None = None,
    metadata_version: str = "2.1",
    extra_metadata: Sequence[tuple[str, str]] = (),
    corrupt: WheelCorruption | None = None,
) -> Path:
    """Write a real wheel `dest/{dist}-{version}-{tag}.whl` and return its path.

    - `files` maps archive paths to contents and replaces the default package
      (`{import_name}/__init__.py` holding `__version__`).
    - `extras` maps an extra to its requirements (`Provides-Extra` + marker-ed lines).
    - `entry_points` maps a group (`console_scripts`, ...) to `{name: "mod:func"}`.
    - `data` maps a scheme (purelib/platlib/scripts/data/headers) to `{path: content}`,
      stored under `{dist}-{version}.data/{scheme}/`.
    - `root_is_purelib` defaults to true when every tag is `*-none-any`.
    - `corrupt` builds a deliberately broken wheel for error-path tests:
      `truncate` (zip cut in half), `bad-record-hash` (RECORD disagrees with the
      package's `__init__.py` or first file), `missing-metadata` (no METADATA, RECORD
      otherwise consistent) or `not-a-zip` (garbage bytes).
    """
    extras = dict(extras or {})
    filename = wheel_filename(name, version, tag)
    key = _memo_key(
        "wheel",
        name=name,
        version=version,
        tag=tag,
        requires=tuple(requires),
        requires_python=requires_python,
        extras=extras,
        files=files,
        entry_points=entry_points,
        data=data,
        root_is_purelib=root_is_purelib,
        metadata_version=metadata_version,
        extra_metadata=tuple(tuple(h) for h in extra_metadata),
        corrupt=corrupt,
    )

    def build() -> bytes:
        return _wheel_bytes(
            name,
            version,
            tag=tag,
            requires=requires,
            requires_python=requires_python,
            extras=extras,
            files=files,
            entry_points=entry_points,
            data=data,
            root_is_purelib=root_is_purelib,
            metadata_version=metadata_version,
            extra_metadata=extra_metadata,
            corrupt=corrupt,
        )

    return _write_if_changed(Path(dest) / filename, _memoised(key, build))


def _wheel_bytes(
    name: str,
    version: str,
    *,
    tag: str,
    requires: Sequence[str],
    requires_python: str | None,
    extras: Mapping[str, Sequence[str]],
    files: Mapping[str, bytes | str] | None,
    entry_points: Mapping[str, Mapping[str, str]] | None,
    data: Mapping[str, Mapping[str, bytes | str]] | None,
    root_is_purelib: bool | None,
    metadata_version: str,
    extra_metadata: Sequence[tuple[str, str]],
    corrupt: WheelCorruption | None,
) -> bytes:
    """Assemble the wheel's bytes; see `build_wheel` for the meaning of the arguments."""
    if corrupt == "not-a-zip":
        return b"This is not a zip archive, whatever its .whl name says.\n" * 4

    triples = _expand_tags(tag)
    if root_is_purelib is None:
        root_is_purelib = all(abi == "none" and plat == "any" for _, abi, plat in triples)
    stem = f"{dist_info_name(name)}-{_norm_version(version)}"
    dist_info = f"{stem}.dist-info"

    if files is None:
        pkg = import_name(name)
        files = {f"{pkg}/__init__.py": f'"""Test package {name}."""\n\n__version__ = "{version}"\n'}
    entries: list[tuple[str, bytes]] = [(path, _as_bytes(body)) for path, body in files.items()]

    for scheme, scheme_files in (data or {}).items():
        if scheme not in _DATA_SCHEMES:
            raise ValueError(f"unknown wheel data scheme {scheme!r}")
        for path, body in scheme_files.items():
            entries.append((f"{stem}.data/{scheme}/{path}", _as_bytes(body)))

    metadata = _metadata_text(
        name,
        version,
        metadata_version=metadata_version,
        requires=requires,
        extras=extras,
        requires_python=requires_python,
        extra_metadata=extra_metadata,
    )
    if corrupt != "missing-metadata":
        entries.append((f"{dist_info}/METADATA", metadata.encode("utf-8")))

    wheel_lines = [
        "Wheel-Version: 1.0",
        "Generator: wherry-tests (0)",
        f"Root-Is-Purelib: {'true' if root_is_purelib else 'false'}",
        *(f"Tag: {py}-{abi}-{plat}" for py, abi, plat in triples),
    ]
    entries.append((f"{dist_info}/WHEEL", ("\n".join(wheel_lines) + "\n").encode("utf-8")))

    if entry_points:
        sections = []
        for group, points in entry_points.items():
            body = "".join(f"{ep} = {target}\n" for ep, target in points.items())
            sections.append(f"[{group}]\n{body}")
        entries.append((f"{dist_info}/entry_points.txt", "\n".join(sections).encode("utf-8")))

    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    for index, (path, body) in enumerate(entries):
        digest = _record_hash(body)
        if corrupt == "bad-record-hash" and index == 0:
            digest = _record_hash(body + b"# tampered\n")
        writer.writerow([path, digest, str(len(body))])
    writer.writerow([f"{dist_info}/RECORD", "", ""])
    entries.append((f"{dist_info}/RECORD", record.getvalue().encode("utf-8")))

    blob = _zip_bytes(entries)
    if corrupt == "truncate":
        blob = blob[: len(blob) // 2]
    return blob


def wheel_metadata(path: Path) -> bytes:
    """The `.dist-info/METADATA` bytes of a wheel (what PEP 658 serves alongside it).

    Raises `KeyError` if the wheel has none and `zipfile.BadZipFile` if it is broken.
    """
    with zipfile.ZipFile(path) as zf:
        candidates = [
            n for n in zf.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")
        ]
        if not candidates:
            raise KeyError(f"{path.name} has no .dist-info/METADATA")
        return zf.read(candidates[0])


# --------------------------------------------------------------------------- sdists


def _pyproject(
    name: str,
    version: str,
    backend: SdistBackend,
    requires: Sequence[str],
    requires_python: str | None,
    pkg: str,
) -> str:
    """A minimal pyproject.toml whose `[build-system]` matches the chosen backend."""
    deps = "".join(f"    {_toml_str(r)},\n" for r in requires)
    project = (
        "[project]\n"
        f"name = {_toml_str(name)}\n"
        f"version = {_toml_str(version)}\n"
        f"description = {_toml_str(f'Test package {name}')}\n"
        f"dependencies = [\n{deps}]\n"
    )
    if requires_python is not None:
        project += f"requires-python = {_toml_str(requires_python)}\n"
    if backend == "setuptools":
        system = '[build-system]\nrequires = ["setuptools>=61"]\n'
        system += 'build-backend = "setuptools.build_meta"\n'
        tool = f"[tool.setuptools]\npackages = [{_toml_str(pkg)}]\n"
    elif backend == "hatchling":
        system = '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'
        tool = f"[tool.hatch.build.targets.wheel]\npackages = [{_toml_str(pkg)}]\n"
    elif backend == "flit":
        system = '[build-system]\nrequires = ["flit_core>=3.4,<5"]\n'
        system += 'build-backend = "flit_core.buildapi"\n'
        tool = f"[tool.flit.module]\nname = {_toml_str(pkg)}\n"
    else:  # pragma: no cover - guarded by the Literal type
        raise ValueError(f"unknown backend {backend!r}")
    return f"{system}\n{project}\n{tool}"


def _toml_str(value: str) -> str:
    """A TOML basic string (JSON escaping is a valid subset for the values used here)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


_C_SOURCE = """\
#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* One function so tests can prove the extension was compiled and imports. */
static PyObject *answer(PyObject *self, PyObject *args) {
    return PyLong_FromLong(42);
}

static PyMethodDef methods[] = {
    {"answer", answer, METH_NOARGS, "Return 42."},
    {NULL, NULL, 0, NULL}
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_speedups", NULL, -1, methods};

PyMODINIT_FUNC PyInit__speedups(void) { return PyModule_Create(&module); }
"""


def build_sdist(
    dest: Path,
    name: str,
    version: str,
    *,
    backend: SdistBackend = "setuptools",
    requires: Sequence[str] = (),
    requires_python: str | None = None,
    files: Mapping[str, bytes | str] | None = None,
    c_extension: bool = False,
) -> Path:
    """Write a real sdist `dest/{dist}-{version}.tar.gz` and return its path.

    The archive holds `{dist}-{version}/` with PKG-INFO, a pyproject.toml for `backend`
    and the package `{import_name}/__init__.py`.  `files` adds or overrides files
    (paths relative to the sdist root).  `c_extension=True` (setuptools only) adds
    `{import_name}/_speedups.c` with one function, `answer() -> 42`, and a setup.py that
    compiles it, so the built wheel is platform-specific.
    """
    if c_extension and backend != "setuptools":
        raise ValueError("c_extension needs the setuptools backend")
    key = _memo_key(
        "sdist",
        name=name,
        version=version,
        backend=backend,
        requires=tuple(requires),
        requires_python=requires_python,
        files=files,
        c_extension=c_extension,
    )

    def build() -> bytes:
        return _sdist_bytes(name, version, backend, requires, requires_python, files, c_extension)

    return _write_if_changed(Path(dest) / sdist_filename(name, version), _memoised(key, build))


def _sdist_bytes(
    name: str,
    version: str,
    backend: SdistBackend,
    requires: Sequence[str],
    requires_python: str | None,
    files: Mapping[str, bytes | str] | None,
    c_extension: bool,
) -> bytes:
    """Assemble the sdist's bytes; see `build_sdist`."""
    pkg = import_name(name)
    root = f"{dist_info_name(name)}-{_norm_version(version)}"
    members: dict[str, bytes] = {
        "PKG-INFO": _metadata_text(
            name,
            version,
            metadata_version="2.1",
            requires=requires,
            extras={},
            requires_python=requires_python,
            extra_metadata=(),
        ).encode("utf-8"),
        "pyproject.toml": _pyproject(name, version, backend, requires, requires_python, pkg).encode(
            "utf-8"
        ),
        f"{pkg}/__init__.py": f'"""Test package {name}."""\n\n__version__ = "{version}"\n'.encode(),
    }
    if c_extension:
        members[f"{pkg}/_speedups.c"] = _C_SOURCE.encode("utf-8")
        members["setup.py"] = (
            "from setuptools import Extension, setup\n\n"
            f'setup(ext_modules=[Extension("{pkg}._speedups", ["{pkg}/_speedups.c"])])\n'
        ).encode()
    for path, body in (files or {}).items():
        members[path] = _as_bytes(body)

    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(members):
            body = members[path]
            info = tarfile.TarInfo(f"{root}/{path}")
            info.size = len(body)
            info.mtime = _TAR_MTIME
            info.mode = 0o644
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(body))
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=_TAR_MTIME) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


# ----------------------------------------------------------------------- wheelhouse


class Wheelhouse:
    """A session-wide pool of built artefacts, each in a folder of its own.

    Two tests may want different packages with the same filename (say `foo-1.0` with
    and without a dependency), so each artefact lives in `root/<hash of its
    arguments>/`; an index is then assembled per test from the paths it needs (see the
    `make_index` fixture), never by serving this pool whole.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _folder(self, kind: str, name: str, version: str, kwargs: Mapping[str, object]) -> Path:
        return self.root / _memo_key(kind, name=name, version=version, **kwargs)[:20]

    def wheel(
        self,
        name: str,
        version: str,
        *,
        tag: str = "py3-none-any",
        requires: Sequence[str] = (),
        requires_python: str | None = None,
        extras: Mapping[str, Sequence[str]] | None = None,
        files: Mapping[str, bytes | str] | None = None,
        entry_points: Mapping[str, Mapping[str, str]] | None = None,
        data: Mapping[str, Mapping[str, bytes | str]] | None = None,
        root_is_purelib: bool | None = None,
        metadata_version: str = "2.1",
        extra_metadata: Sequence[tuple[str, str]] = (),
        corrupt: WheelCorruption | None = None,
    ) -> Path:
        """`build_wheel` into this pool; same arguments, same path and bytes."""
        kwargs: dict[str, object] = {
            "tag": tag,
            "requires": tuple(requires),
            "requires_python": requires_python,
            "extras": extras,
            "files": files,
            "entry_points": entry_points,
            "data": data,
            "root_is_purelib": root_is_purelib,
            "metadata_version": metadata_version,
            "extra_metadata": tuple(tuple(h) for h in extra_metadata),
            "corrupt": corrupt,
        }
        return build_wheel(
            self._folder("wheel", name, version, kwargs),
            name,
            version,
            tag=tag,
            requires=requires,
            requires_python=requires_python,
            extras=extras,
            files=files,
            entry_points=entry_points,
            data=data,
            root_is_purelib=root_is_purelib,
            metadata_version=metadata_version,
            extra_metadata=extra_metadata,
            corrupt=corrupt,
        )

    def sdist(
        self,
        name: str,
        version: str,
        *,
        backend: SdistBackend = "setuptools",
        requires: Sequence[str] = (),
        requires_python: str | None = None,
        files: Mapping[str, bytes | str] | None = None,
        c_extension: bool = False,
    ) -> Path:
        """`build_sdist` into this pool; same arguments, same path and bytes."""
        kwargs: dict[str, object] = {
            "backend": backend,
            "requires": tuple(requires),
            "requires_python": requires_python,
            "files": files,
            "c_extension": c_extension,
        }
        return build_sdist(
            self._folder("sdist", name, version, kwargs),
            name,
            version,
            backend=backend,
            requires=requires,
            requires_python=requires_python,
            files=files,
            c_extension=c_extension,
        )
