"""`wherry pip compile`: resolve requirement inputs into a pinned requirements.txt or
pylock.toml, without touching any environment.

The target is the interpreter found as for other commands (a venv, else the system
Python), reshaped by `--python-version`/`--python-platform`. The pins of an existing
output file are kept when the inputs still allow them (uv: they are preferences), except
under `--upgrade` and for each `--upgrade-package`.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from packaging.utils import (
    InvalidWheelFilename,
    canonicalize_name,
    parse_wheel_filename,
)
from packaging.version import Version

from wherry.cache.layout import Cache
from wherry.commands.install import (
    InstallOptions,
    gather_requirements,
    index_settings,
    preload_resolution,
    prepare_tls,
)
from wherry.errors import UsageError
from wherry.http.client import HttpClient
from wherry.index.models import DistFile
from wherry.index.sources import IndexSources
from wherry.output import Printer, log, timed
from wherry.python.info import InterpreterInfo, while_probing
from wherry.requirements.parse import RequirementsSpec, SourcedRequirement
from wherry.resolve.candidates import Candidate
from wherry.resolve.compile_output import (
    HEADER,
    CompiledEntry,
    CompileFormat,
    direct_text,
    render_requirements_txt,
    source_annotation,
)
from wherry.resolve.provider import InstalledPreference
from wherry.resolve.resolution import Resolution
from wherry.settings import IndexSettings

TYPE_CHECKING = False
if TYPE_CHECKING:
    from wherry.commands.build_env import BuildContext
    from wherry.requirements.pylock import LockPackage

FORMATS = ("requirements.txt", "pylock.toml")


class CompileOptions(InstallOptions):
    """`pip compile`'s flags on top of the resolver and index options it shares."""

    def __init__(
        self,
        *,
        src_files: list[Path],
        output_file: Path | None = None,
        generate_hashes: bool = False,
        header: bool = True,
        annotate: bool = True,
        annotation_style: str = "split",
        strip_extras: bool = True,
        emit_index_url: bool = False,
        emit_find_links: bool = False,
        output_format: str | None = None,
        command: str = "wherry pip compile",
        universal: bool = False,
        **kwargs: object,
    ) -> None:
        super().__init__(requirement_files=list(src_files), **kwargs)  # type: ignore[arg-type]
        self.output_file = output_file
        self.generate_hashes = generate_hashes
        self.header = header
        self.annotate = annotate
        self.annotation_style = annotation_style
        self.strip_extras = strip_extras
        self.emit_index_url = emit_index_url
        self.emit_find_links = emit_find_links
        if output_format is None:
            output_format = (
                "pylock.toml" if output_file is not None and _is_pylock(output_file)
                else "requirements.txt"
            )
        self.output_format = output_format
        self.command = command
        self.universal = universal


def _is_pylock(path: Path) -> bool:
    name = path.name
    return name == "pylock.toml" or (name.startswith("pylock.") and name.endswith(".toml"))


def compile_requirements(options: CompileOptions, cache: Cache, printer: Printer) -> str:
    """Resolve the inputs and return the output text (also written to `-o FILE`)."""
    from wherry.commands.pipeline import resolve_for
    from wherry.platform.targets import target_for

    start = time.perf_counter()
    if not options.requirement_files:
        raise UsageError("no input files given",
                         hint="name requirement files: `wherry pip compile requirements.in`")
    prepare_tls(options)
    with while_probing(preload_resolution):
        env = _interpreter(options, cache)
    spec = gather_requirements(options)
    settings = index_settings(options, spec)
    preferences = existing_pins(options)
    sources: list[IndexSources] = []
    from wherry.commands.build_env import BuildContext

    # Builds (sdists without wheels, direct references) run with the found interpreter.
    target = target_for(env, python_platform=options.python_platform,
                        python_version=None if options.universal else options.python_version)
    builds = BuildContext(env, target, settings, cache, options)
    try:
        if options.universal:
            if options.python_platform is not None:
                raise UsageError("--universal resolves for every platform; it cannot be "
                                 "combined with --python-platform")
            floor = _python_floor(env, options.python_version)
            rows, client = _resolve_universal(floor, spec, settings, cache, options,
                                              preferences, sources, builds)
            python_floor = str(floor)
            wheel_ok: Callable[[str], bool] = partial(_runs_on_python_from, floor)
        else:
            resolution, client = resolve_for(target, spec, settings, cache, {}, options,
                                             preferred_versions=preferences,
                                             sources_sink=sources, builds=builds)
            rows = _rows(resolution)
            python_floor = target.python_full_version
            tags = target.tags

            def compatible(filename: str) -> bool:
                triple = filename[:-4].split("-")[-3:]
                return tags.rank_of_filename_tags(*triple) is not None

            wheel_ok = compatible
    except BaseException:
        builds.close()
        raise
    try:
        printer.summary(timed("Resolved", len({row.name for row in rows}), start))
        entries = compiled_entries(rows, spec)
        needs_files = options.generate_hashes or options.output_format == "pylock.toml"
        files = _version_files(rows, sources[0]) if needs_files else {}
        if options.output_format == "pylock.toml":
            text = _pylock_text(rows, files, python_floor, options, client, wheel_ok)
        else:
            if options.generate_hashes:
                for entry, row in zip(entries, rows, strict=True):
                    entry.hashes = sorted(_row_hashes(row, files, client))
            fmt = CompileFormat(
                header=options.header, command=options.command, annotate=options.annotate,
                annotation_style=options.annotation_style, strip_extras=options.strip_extras,
                index_lines=_index_lines(settings, options.emit_index_url,
                                         options.emit_find_links),
            )
            text = render_requirements_txt(entries, fmt)
    finally:
        client.close()
        builds.close()
    if options.output_file is not None:
        from wherry.cache.entry import write_atomic

        write_atomic(options.output_file, text.encode("utf-8"))
    if options.output_file is None or not printer.quiet:
        printer.out.write(text)
    return text


def _interpreter(options: InstallOptions, cache: Cache) -> InterpreterInfo:
    """The interpreter whose markers and tags to resolve for: a venv if there is one,
    else the first Python found (compile changes no environment, so any will do)."""
    from wherry.errors import InterpreterNotFound
    from wherry.python.discovery import find_environment

    try:
        return find_environment(options.python, cache, system=options.system)
    except InterpreterNotFound:
        if options.python or options.system:
            raise
        return find_environment(None, cache, system=True)


def existing_pins(options: CompileOptions) -> dict[str, Version]:
    """`name==version` pins of the existing output file, minus those `--upgrade` and
    `--upgrade-package` release. An unreadable file just gives no preferences."""
    path = options.output_file
    if path is None or options.upgrade or not path.is_file():
        return {}
    pins: dict[str, Version] = {}
    try:
        if options.output_format == "pylock.toml":
            from wherry.requirements.pyproject import load_pyproject

            for package in load_pyproject(path).get("packages", []):
                pins[str(canonicalize_name(package["name"]))] = Version(package["version"])
        else:
            pins = _pins_of_requirements_txt(path.read_text(encoding="utf-8"))
    except Exception as exc:  # any problem with an old output file: resolve afresh
        log.debug("Not reusing the pins of %s: %s", path, exc)
        return {}
    for name in options.upgrade_packages:
        pins.pop(name, None)
    if pins:
        log.debug("Preferring %d pins of %s", len(pins), path)
    return pins


def _pins_of_requirements_txt(text: str) -> dict[str, Version]:
    """The `name==version` lines of a compiled requirements.txt. Other lines give no pin
    and are not read further: options, and direct references, which are written as the
    user gave them (`./proj`, relative to where compile ran, maybe not to this file)."""
    import re

    from packaging.requirements import InvalidRequirement, Requirement

    from wherry.requirements.direct import looks_direct

    pins: dict[str, Version] = {}
    for raw in re.sub(r"\\\n", " ", text).splitlines():
        line = re.split(r"(?:^|\s)(?:#|--hash)", raw, maxsplit=1)[0].strip()
        if not line or line.startswith("-") or looks_direct(line):
            continue
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        specifiers = list(requirement.specifier)
        if requirement.url is None and len(specifiers) == 1 and specifiers[0].operator == "==":
            pins[str(canonicalize_name(requirement.name))] = Version(specifiers[0].version)
    return pins


@dataclass
class Row:
    """One pinned package of the output (a universal resolution may pin a package at
    several versions, each with the marker saying where)."""

    name: str
    pin: Candidate | InstalledPreference
    extras: Sequence[str] = ()
    dependents: Sequence[str] = ()
    marker: str | None = None

    @property
    def version(self) -> Version:
        return self.pin.version

    @property
    def direct(self) -> object | None:
        return getattr(self.pin, "direct", None)


def _rows(resolution: Resolution) -> list[Row]:
    return sorted(
        (Row(name, pin, sorted(resolution.extras.get(name, ())),
             sorted(resolution.dependents.get(name, ())))
         for name, pin in resolution.pins.items()),
        key=lambda row: row.name,
    )


def compiled_entries(rows: Sequence[Row], spec: RequirementsSpec) -> list[CompiledEntry]:
    """One entry per row, annotated with the inputs and packages that asked for it."""
    sources: dict[str, set[str]] = {}
    for kind, items in (("requirement", spec.requirements), ("constraint", spec.constraints),
                        ("override", spec.overrides)):
        for item in items:
            sources.setdefault(item.name, set()).add(source_annotation(item.source, kind))
    written: dict[str, SourcedRequirement] = {}
    for items in (spec.overrides, spec.requirements, spec.constraints):  # what applied
        for item in items:
            if item.requirement.url:
                written.setdefault(item.name, item)
    entries = []
    for row in rows:
        url = getattr(row.direct, "url", None)
        editable = bool(getattr(row.direct, "editable", False))
        local = url is not None and url.startswith("file:")
        origin = written.get(row.name)
        if url is not None and origin is not None and origin.given:
            url = origin.given  # as written (uv): relative paths are relative to the cwd
        entries.append(CompiledEntry(
            name=row.name,
            version=str(row.version),
            extras=list(row.extras),
            sources=sorted(sources.get(row.name, ())),
            dependents=list(row.dependents),
            url=url,
            marker=row.marker,
            verbatim=None if url is None else direct_text(
                url, editable=editable, local=local),
            editable=editable,
        ))
    return entries


def _version_files(rows: Sequence[Row], sources: IndexSources) -> dict[tuple[str, Version],
                                                                     list[DistFile]]:
    """Every file the index offers for each pinned version (all platforms, as uv lists
    them), so the hashes cover an install anywhere."""
    from wherry.resolve.universal import file_version

    result: dict[tuple[str, Version], list[DistFile]] = {}
    for row in rows:
        if row.direct is not None:
            continue  # not from an index
        files = [f for f in sources.files_for(row.name)
                 if file_version(f, row.name) == row.version]
        if not files:
            chosen = getattr(row.pin, "wheel", None)
            files = [chosen] if isinstance(chosen, DistFile) else []
        unique: dict[str, DistFile] = {}
        for file in files:
            unique.setdefault(file.url, file)
        result[(row.name, row.version)] = list(unique.values())
    return result


def _row_hashes(row: Row, files: Mapping[tuple[str, Version], list[DistFile]],
                client: HttpClient) -> set[str]:
    if row.direct is not None:
        return {f"{algo}:{digest}" for algo, digest in _direct_hashes(row.direct).items()}
    return {_hash_text(f, client) for f in files.get((row.name, row.version), [])}


def _direct_hashes(direct: object) -> dict[str, str]:
    """A direct reference's hashes: those it carries (a URL's `#sha256=`, a download's
    digest), else a local archive's sha256 (as uv lists it); none for trees and VCS."""
    hashes = dict(getattr(direct, "hashes", ()) or ())
    local = getattr(direct, "local", None)
    if not hashes and getattr(direct, "kind", None) == "archive" and local \
            and os.path.isfile(local):
        from wherry.cache.entry import file_digest

        hashes = {"sha256": file_digest(Path(local))}
    return hashes


def _python_floor(env: InterpreterInfo, python_version: str | None) -> Version:
    """The lowest Python a universal resolution serves: `--python-version`, else the
    interpreter's major.minor (uv's rule)."""
    if python_version is not None:
        from wherry.platform.targets import parse_python_version

        version, _threaded = parse_python_version(python_version)
        return Version("{}.{}".format(*version[:2]))
    return Version("{}.{}".format(*env.version[:2]))


def _resolve_universal(
    floor: Version, spec: RequirementsSpec, settings: IndexSettings, cache: Cache,
    options: CompileOptions, preferences: dict[str, Version], sources_sink: list[IndexSources],
    builds: BuildContext,
) -> tuple[list[Row], HttpClient]:
    """The universal resolution's rows, with the client for the hash step."""
    from wherry.commands.pipeline import _describe_indexes, _other_index_hint, prerelease_mode
    from wherry.resolve.candidates import parse_exclude_newer
    network = options.network
    cutoff = None if network.exclude_newer is None else parse_exclude_newer(
        network.exclude_newer)
    client = HttpClient(
        offline=network.offline, cert=network.cert,
        allow_insecure_hosts=network.allow_insecure_hosts,
        keyring_provider=network.keyring_provider, index_urls=settings.index_urls,
    )
    try:
        sources = IndexSources(settings.index_urls, settings.find_links, client,
                               strategy=settings.strategy, cache=cache, network=network)
        sources_sink.append(sources)
        from wherry.commands.direct import DirectScope, prepare_direct
        from wherry.resolve.universal import (
            AnyPlatformTags,
            possible_anywhere,
            resolve_universal,
        )

        builds.client = client
        prepare_direct(spec, builds, client,
                       DirectScope(possible_anywhere(floor), AnyPlatformTags()))
        universal = resolve_universal(
            spec.requirements, python_floor=floor, files_for=sources.files_for,
            fetch_metadata=lambda file: builds.metadata(file, client),
            direct=builds.direct, policy=options.binary_policy,
            constraints=spec.constraints, overrides=spec.overrides, excludes=spec.excludes,
            prerelease=prerelease_mode(options.prerelease, spec),
            resolution=options.resolution or "highest", preferences=preferences,
            no_deps=options.no_deps, indexes_description=_describe_indexes(settings),
            exclude_newer=cutoff, first_match=settings.strategy == "unsafe-first-match",
            other_index=partial(_other_index_hint, sources, settings),
        )
    except BaseException:
        client.close()
        raise
    log.debug("Resolved for every platform and Python >= %s in %d fork(s)", floor,
              universal.forks)
    rows = [
        Row(pin.name, pin.pin, sorted(pin.extras), sorted(pin.dependents),
            universal.marker_text(pin))
        for pin in universal.pins
    ]
    return rows, client


def _hash_text(file: DistFile, client: HttpClient) -> str:
    algorithm, digest = _file_hash(file, client)
    return f"{algorithm}:{digest}"


def _file_hash(file: DistFile, client: HttpClient) -> tuple[str, str]:
    """The file's sha256 as the index states it, else computed from its bytes."""
    for algorithm in ("sha256", "sha384", "sha512"):
        if algorithm in file.hashes:
            return algorithm, file.hashes[algorithm]
    if file.url.startswith("file:"):
        from urllib.parse import unquote, urlparse

        digest = hashlib.sha256()
        with open(unquote(urlparse(file.url).path), "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        return "sha256", digest.hexdigest()
    with tempfile.TemporaryDirectory(prefix="wherry-hash-") as tmp:
        return "sha256", client.download(file.url, Path(tmp) / file.filename, hashes={})


def _index_lines(settings: IndexSettings, index_urls: bool, find_links: bool) -> list[str]:
    """`--index-url`/`--extra-index-url` lines (`--emit-index-url`) and `--find-links`
    lines (`--emit-find-links`), credentials removed."""
    from wherry.http.urls import redact_url

    lines = []
    if index_urls and settings.index_urls:  # empty under --no-index
        if settings.index_url:
            lines.append(f"--index-url {redact_url(settings.index_url)}")
        lines.extend(f"--extra-index-url {redact_url(u)}" for u in settings.extra_index_urls)
    if not find_links:
        return lines
    lines.extend(f"--find-links {redact_url(f)}" for f in settings.find_links)
    return lines


def _runs_on_python_from(floor: Version, filename: str) -> bool:
    """Whether some Python >= `floor` can install this wheel, by its interpreter tags
    (`py3`, `cp312`, `cp39-abi3`...): a universal lock lists only those."""
    try:
        _name, _version, _build, tags = parse_wheel_filename(filename)
    except InvalidWheelFilename:
        return False
    for tag in tags:
        interpreter, abi = tag.interpreter, tag.abi
        kind, digits = interpreter[:2], interpreter[2:]
        if kind not in ("py", "cp", "pp") or not digits.isdigit() or digits[0] != "3":
            continue
        if len(digits) == 1 or kind == "py" or abi == "abi3":
            return True
        if Version(f"{digits[0]}.{digits[1:]}") >= Version(f"{floor.major}.{floor.minor}"):
            return True
    return False


def _pylock_text(
    rows: Sequence[Row], files: Mapping[tuple[str, Version], list[DistFile]],
    python_floor: str, options: CompileOptions, client: HttpClient,
    wheel_ok: Callable[[str], bool],
) -> str:
    """uv's pylock.toml: per package its sdist and the wheels the lock's environments can
    use (the target's compatible ones; under --universal, those of Python >= floor)."""
    from wherry.requirements.pylock import LockFileEntry, LockPackage, render_pylock
    from wherry.resolve.candidates import upload_time_of

    packages = []
    for row in rows:
        package = LockPackage(name=row.name, version=str(row.version), marker=row.marker)
        if row.direct is not None:
            _lock_direct(package, row.direct)
        for file in files.get((row.name, row.version), []):
            if file.is_wheel and not wheel_ok(file.filename):
                continue
            algorithm, digest = _file_hash(file, client)
            moment = upload_time_of(file)
            entry = LockFileEntry(
                url=file.url, hashes={algorithm: digest}, size=file.size,
                upload_time=None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
            )
            if file.is_wheel:
                package.wheels.append(entry)
            else:
                package.sdist = entry
        packages.append(package)
    header = [HEADER, f"#    {options.command}"] if options.header else []
    return render_pylock(packages, requires_python=f">={python_floor}", header=header)


def _lock_direct(package: LockPackage, direct: object) -> None:
    """A direct reference as PEP 751 says: `directory`, `vcs` or `archive`."""
    from urllib.parse import unquote, urlsplit

    from wherry.requirements.pylock import LockFileEntry

    url = str(getattr(direct, "url", ""))
    kind = getattr(direct, "kind", None)
    if kind == "directory":
        path = unquote(urlsplit(url).path)
        relative = os.path.relpath(path)
        package.directory = (path if relative.startswith("..") else relative,
                             bool(getattr(direct, "editable", False)))
    elif kind == "vcs":
        fields = {"type": str(getattr(direct, "vcs", None) or "git"),
                  "url": url.split("+", 1)[-1].split("@")[0] if "+" in url else url}
        revision = getattr(direct, "requested_revision", None)
        if revision:
            fields["requested-revision"] = str(revision)
        commit = getattr(direct, "commit_id", None)
        if commit:
            fields["commit-id"] = str(commit)
        package.vcs = fields
    else:
        package.archive = LockFileEntry(url=url, hashes=_direct_hashes(direct))


def run_compile(options: CompileOptions, cache: Cache, printer: Printer) -> int:
    if options.output_format not in FORMATS:
        raise UsageError(f"unknown output format `{options.output_format}`",
                         hint="use `requirements.txt` or `pylock.toml`")
    compile_requirements(options, cache, printer)
    return 0

