"""Direct references before resolution: fetch, read or build their metadata (as uv does).

A `name @ URL`, path, git URL or `-e PATH` requirement names one distribution, so the
resolver gets exactly one candidate for that name: this module makes it. Wheels (by
URL or path) need no build: their METADATA is read from the zip. Sdists, project
directories and git checkouts get their metadata from the `Builder` (cached by source
identity). A requirement whose name was a placeholder (`./proj` without static
metadata) is renamed from the metadata; a stated name that the metadata contradicts is
an error. Two different references for one name are a conflict, as in pip and uv.

Also here: whether an installed distribution already is what a direct reference asks
for (`direct_url.json`, PEP 610), used by the install plan.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

import msgspec
import msgspec.structs
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from wherry.build.archive import is_sdist_name, unpack_sdist
from wherry.build.builder import Source
from wherry.build.cache import source_for_git, source_for_sdist, source_for_tree
from wherry.build.project import tree_state
from wherry.cache.entry import file_digest
from wherry.commands.build_env import BuildContext, hash_file
from wherry.errors import BuildError, HashMismatch, RequirementError
from wherry.http.client import HttpClient, file_url_to_path
from wherry.index.models import DistFile
from wherry.install.site import InstalledDist
from wherry.output import log
from wherry.platform.tags import TargetTags
from wherry.requirements.parse import RequirementsSpec, SourcedRequirement
from wherry.resolve.candidates import Candidate, DirectReference
from wherry.resolve.metadata import parse_core_metadata

_HASH_ALGORITHMS = ("sha256", "sha384", "sha512", "md5", "sha1", "sha224")


@dataclass(frozen=True)
class DirectScope:
    """Which direct references a run needs, and which wheels it can use.

    One target (install, compile for one platform): those whose markers hold for it, and
    wheels its tags accept. A universal resolution (`compile --universal`): every
    reference whose marker can hold somewhere (`holds(marker, extra)` asks the marker
    algebra), and a wheel of any platform; the resolver later decides per fork which of
    them apply (resolve/universal.py)."""

    holds: Callable[[Marker, str], bool]
    tags: TargetTags

    @classmethod
    def of_target(cls, builds: BuildContext) -> DirectScope:
        environment = dict(builds.target.markers)
        return cls(lambda marker, extra: bool(marker.evaluate({**environment,
                                                                "extra": extra})),
                   builds.target.tags)


def prepare_direct(spec: RequirementsSpec, builds: BuildContext, client: HttpClient,
                   scope: DirectScope | None = None) -> RequirementsSpec:
    """Make the direct-reference candidates of `spec` (into `builds.direct`); return the
    spec with placeholder names replaced by the real ones. `scope` defaults to the
    build target's (`DirectScope.of_target`).

    Requirements, constraints and overrides alike (as uv): a constraint `dep @ URL` makes
    that reference the only candidate of `dep` should anything need it; an override
    replaces every requirement of `dep` with it."""
    if not spec.has_direct_references:
        return spec
    scope = scope or DirectScope.of_target(builds)
    urls: dict[str, str] = {}
    spec.requirements = _prepare(spec.requirements, builds, client, urls, scope)
    spec.constraints = _prepare(spec.constraints, builds, client, urls, scope)
    spec.overrides = _prepare(spec.overrides, builds, client, urls, scope)
    if not getattr(builds.options, "no_deps", False):
        _look_ahead(spec, builds, client, urls, scope)
    return spec


def _look_ahead(spec: RequirementsSpec, builds: BuildContext, client: HttpClient,
                urls: dict[str, str], scope: DirectScope) -> None:
    """Prepare the URL dependencies of the requested direct references, recursively
    (uv's lookahead): `./app` whose metadata says `lib @ file:///...` gets `lib` from
    that URL. A URL can only come from a URL, and names one version, so this needs no
    resolution; the resolver then allows exactly these URLs (and the request's own) in
    dependencies. Constraints and overrides are not followed (uv does not either), and
    a name that already has a reference keeps it: a dependency naming another URL for it
    is the resolver's conflict to report, only if the solver reaches that dependency."""
    from wherry.resolve.provider import parse_dependency
    from wherry.resolve.url_dependencies import url_key

    overridden = {item.name for item in spec.overrides}
    excluded = {str(canonicalize_name(name)) for name in spec.excludes}
    queue = [(item.name, frozenset(str(canonicalize_name(e)) for e in item.requirement.extras))
             for item in spec.requirements if item.requirement.url and item.name in builds.direct]
    done: set[tuple[str, frozenset[str]]] = set()
    while queue:
        parent, extras = queue.pop(0)
        if (parent, extras) in done:
            continue
        done.add((parent, extras))
        candidate, metadata = builds.direct[parent]
        for text in metadata.requires_dist:
            requirement = parse_dependency(text)
            if requirement is None or not requirement.url:
                continue
            marker = requirement.marker
            if marker is not None and not any(
                    scope.holds(marker, extra) for extra in ("", *sorted(extras))):
                continue
            name = str(canonicalize_name(requirement.name))
            if name in overridden or name in excluded:
                continue
            wanted = frozenset(str(canonicalize_name(e)) for e in requirement.extras)
            if name not in urls:
                item = SourcedRequirement(requirement, f"a dependency of {candidate.name} "
                                                       f"{candidate.version}")
                found, metadata_bytes, source = _candidate(item, builds, client, scope)
                if found.name != name:
                    raise RequirementError(
                        f"`{requirement}` ({item.source}) names {requirement.name}, but that "
                        f"reference holds {found.name} {found.version}",
                        hint=f"the metadata of {candidate.name} is wrong: ask its "
                        "maintainers, or override the requirement (`--override`)")
                log.debug("Lookahead: %s %s needs %s from its URL", candidate.name,
                          candidate.version, name)
                urls[name] = str(requirement.url)
                builds.direct[name] = (found, parse_core_metadata(metadata_bytes))
                if source is not None:
                    builds.direct_sources[name] = source
            elif url_key(urls[name]) != url_key(str(requirement.url)):
                continue
            queue.append((name, wanted))


def _prepare(items: list[SourcedRequirement], builds: BuildContext, client: HttpClient,
             urls: dict[str, str], scope: DirectScope) -> list[SourcedRequirement]:
    renamed: list[SourcedRequirement] = []
    for item in items:
        url = item.requirement.url
        if not url:
            renamed.append(item)
            continue
        marker = item.requirement.marker
        if marker is not None and not scope.holds(marker, ""):
            renamed.append(item)
            continue
        previous = urls.get(str(canonicalize_name(item.requirement.name))) if item.named else None
        if previous == url:  # the same reference again (a requirement and its constraint)
            renamed.append(item)
            continue
        candidate, metadata_bytes, source = _candidate(item, builds, client, scope)
        name = candidate.name
        if not item.named:
            requirement = Requirement(str(item.requirement).replace(
                item.requirement.name, name, 1))
            item = msgspec.structs.replace(item, requirement=requirement, named=True)
        elif str(canonicalize_name(item.requirement.name)) != name:
            raise RequirementError(
                f"`{item.requirement}` ({item.source}) names {item.requirement.name}, but "
                f"that reference holds {name} {candidate.version}",
                hint="correct the name before the `@`")
        previous = urls.get(name)
        if previous is not None and previous != url:
            raise RequirementError(
                f"conflicting direct references for {name}: {previous} and {url}",
                hint="require each package from one place")
        urls[name] = url
        builds.direct[name] = (candidate, parse_core_metadata(metadata_bytes))
        if source is not None:
            builds.direct_sources[name] = source
        renamed.append(item)
    return renamed


def _candidate(item: SourcedRequirement, builds: BuildContext, client: HttpClient,
               scope: DirectScope) -> tuple[Candidate, bytes, Source | None]:
    url = str(item.requirement.url)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    label = str(item.requirement)
    source: Source | None
    if scheme.startswith("git+"):
        reference, source = _git(url, label, builds)
    elif scheme == "file":
        path = file_url_to_path(urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")))
        hashes = _fragment_hashes(parts.fragment)
        if path.is_dir():
            subdirectory = _fragment(parts.fragment, "subdirectory")
            tree = path / subdirectory if subdirectory else path
            reference = DirectReference(_plain(url), "directory", str(tree),
                                        editable=item.editable, subdirectory=subdirectory)
            source = _tree_source(tree, label, item.requirement.name if item.named else None)
        elif path.is_file():
            _verify(path, hashes, item)
            reference = DirectReference(_plain(url), "archive", str(path),
                                        hashes=tuple(sorted(hashes.items())))
            source = None if path.name.endswith(".whl") else _sdist_source(path, label)
        else:
            raise RequirementError(f"`{label}` ({item.source}): {path} does not exist")
    else:
        path, hashes = _download(url, builds, client, {})
        _verify(path, {}, item)
        reference = DirectReference(_plain(url), "archive", str(path),
                                    hashes=tuple(sorted(hashes.items())))
        source = None if path.name.endswith(".whl") else _sdist_source(path, label)
    if reference.is_wheel:
        metadata = _wheel_metadata(Path(reference.local))
        filename = Path(reference.local).name
    elif source is None:
        raise RequirementError(f"`{label}` ({item.source}) is neither a wheel nor a source "
                               "distribution", hint="direct references name a .whl, an "
                               "sdist archive, a project directory or a git repository")
    else:
        if item.named and not item.editable:
            _check_builds_allowed(str(canonicalize_name(item.requirement.name)), label,
                                  builds)
        if source.name:
            builds.builder.check_cycle(source.name)
        metadata = builds.builder.metadata(source)
        filename = Path(reference.local).name
        if reference.kind == "directory" or reference.url.startswith("file:"):
            # Always reinstalled (`direct_satisfied`), so always built: start now.
            builds.start_build(source, editable=item.editable)
    name, version = _name_version(metadata, label)
    if reference.is_wheel:
        _check_wheel_name(filename, name, version, label)
        triple = filename[:-4].split("-")[-3:]
        if scope.tags.rank_of_filename_tags(*triple) is None:
            raise RequirementError(
                f"`{label}` ({item.source}): {filename} is not a supported wheel for the "
                "target environment",
                hint=f"its tags ({'-'.join(triple)}) match none the target accepts, such as "
                f"{scope.tags.describe()}")
    if source is not None:
        source.name = name
    reference = msgspec.structs.replace(reference, requested=url)
    file = DistFile(filename, reference.url, "direct reference", dict(reference.hashes))
    candidate = Candidate(name, version, file, False, direct=reference)
    log.debug("Direct reference %s is %s %s", label, name, version)
    return candidate, metadata, source


def _check_builds_allowed(name: str, label: str, builds: BuildContext) -> None:
    """`--only-binary`/`--no-build` hold for direct references too (uv); editables, and
    references whose name is only known after a build, are exempt."""
    policy = getattr(builds.options, "binary_policy", None)
    if policy is not None and not policy.builds_allowed(name):
        raise RequirementError(
            f"`{label}` needs a build, and building {name} from source is disabled "
            "(--only-binary/--no-build)",
            hint=f"allow building it (drop `--no-build`, or `--only-binary` for `{name}`), "
            "or point at a wheel")


def _name_version(metadata: bytes, label: str) -> tuple[str, Version]:
    from wherry.index.metadata import metadata_name_version

    name, version = metadata_name_version(metadata)
    if not name or not version:
        raise BuildError(f"the metadata of {label} has no Name or Version")
    try:
        return str(canonicalize_name(name)), Version(version)
    except InvalidVersion:
        raise BuildError(f"the metadata of {label} has an invalid version {version!r}") from None


def _check_wheel_name(filename: str, name: str, version: Version, label: str) -> None:
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename

    try:
        wheel_name, wheel_version, _, _ = parse_wheel_filename(filename)
    except InvalidWheelFilename as exc:
        raise RequirementError(f"`{label}`: invalid wheel filename: {exc}") from None
    if wheel_name != name or wheel_version != version:
        raise RequirementError(f"`{label}`: the wheel's METADATA describes {name} {version}, "
                               f"not what its filename says",
                               hint="the wheel is mislabelled")


def _wheel_metadata(path: Path) -> bytes:
    from wherry.index.metadata import read_local_wheel_metadata

    return read_local_wheel_metadata(path, path.name)


def _plain(url: str) -> str:
    """The URL without its fragment, as PEP 610's `url` holds it."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, ""))


def _fragment(fragment: str, key: str) -> str | None:
    for part in fragment.split("&"):
        name, sep, value = part.partition("=")
        if sep and name == key:
            return unquote(value)
    return None


def _fragment_hashes(fragment: str) -> dict[str, str]:
    hashes: dict[str, str] = {}
    for algorithm in _HASH_ALGORITHMS:
        value = _fragment(fragment, algorithm)
        if value:
            hashes[algorithm] = value.lower()
    return hashes


def _verify(path: Path, hashes: dict[str, str], item: SourcedRequirement) -> None:
    """`path` must match the URL's `#algorithm=digest` exactly and, for each strong
    algorithm the requirement's `--hash` options name, one of their digests (a
    requirements line usually lists several: one per file of the release)."""
    wanted: dict[str, set[str]] = {a: {d} for a, d in hashes.items()}
    for text in item.hashes:
        algorithm, _, digest = text.partition(":")
        if algorithm.lower() in ("sha256", "sha384", "sha512"):
            wanted.setdefault(algorithm.lower(), set()).add(digest.lower())
    for algorithm, digests in sorted(wanted.items()):
        actual = file_digest(path, algorithm)
        exact = hashes.get(algorithm)
        if (exact is not None and actual != exact) or actual not in digests:
            expected = [exact] if exact is not None else sorted(digests)
            raise HashMismatch(
                f"hash mismatch for {path.name} ({item.source}):\n    expected "
                + " or ".join(f"{algorithm}:{d}" for d in expected)
                + f"\n    actual   {algorithm}:{actual}",
                hint="the file changed on the server or was damaged in transit; if the "
                "expected hash comes from a requirements file, check that it is current")


def _tree_source(tree: Path, label: str, name: str | None) -> Source:
    if not tree.is_dir():
        raise RequirementError(f"`{label}`: {tree} is not a directory")
    state = tree_state(tree)
    return Source(source_for_tree(tree, state, label), name, label, lambda _work: tree,
                  in_place=True)


def _sdist_source(path: Path, label: str) -> Source:
    if not is_sdist_name(path.name):
        raise RequirementError(f"`{label}`: {path.name} is not a wheel or sdist archive")
    sha256 = hash_file(path)
    return Source(source_for_sdist(sha256, label), None, label,
                  lambda work: unpack_sdist(path, work), pkg_info=True)


def _download(url: str, builds: BuildContext, client: HttpClient,
              required: dict[str, str]) -> tuple[Path, dict[str, str]]:
    """A remote wheel or sdist on disk. With a hash in the URL, kept in the cache by that
    hash (the file is immutable); otherwise fetched again every run."""
    parts = urlsplit(url)
    hashes = _fragment_hashes(parts.fragment)
    filename = unquote(parts.path.rsplit("/", 1)[-1]) or "download"
    plain = _plain(url)
    known = hashes.get("sha256")
    if known is not None:
        path = builds.builder.built.sdist_path(known, filename)
        if path.is_file():
            return path, hashes
    else:
        path = builds.temporary_dir("direct-") / filename
    work = builds.cache.tempdir(prefix="direct-")
    try:
        log.debug("Downloading %s", plain)
        sha256 = client.download(plain, work / filename, hashes={**required, **hashes})
        path.parent.mkdir(parents=True, exist_ok=True)
        (work / filename).replace(path)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return path, {**hashes, "sha256": sha256} if known is None else hashes


# -- git ---------------------------------------------------------------------------------


def _git_run(args: list[str], what: str, cwd: Path | None = None) -> str:
    env = dict(os.environ)
    env.setdefault("GIT_TERMINAL_PROMPT", "0")
    try:
        done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True,
                              text=True, check=False)
    except FileNotFoundError:
        raise BuildError(f"cannot {what}: git is not installed",
                         hint="install git, or use an archive URL instead") from None
    if done.returncode != 0:
        raise BuildError(f"cannot {what}: {done.stderr.strip() or done.stdout.strip()}",
                         hint="check the repository URL and the revision after `@`")
    return done.stdout.strip()


def _git(url: str, label: str, builds: BuildContext) -> tuple[DirectReference, Source]:
    """Fetch a git URL into the cache's clone of that repository, find the commit its
    revision names, and check it out for building (by commit: immutable)."""
    parts = urlsplit(url)
    vcs, _, transport = parts.scheme.partition("+")
    path, _, revision = parts.path.partition("@")
    if "@" in parts.path:
        path, _, revision = parts.path.rpartition("@")
    repo = urlunsplit((transport, parts.netloc, path, parts.query, ""))
    subdirectory = _fragment(parts.fragment, "subdirectory")
    digest = hashlib.sha256(repo.encode()).hexdigest()[:24]
    database = builds.cache.bucket("built") / "git-db" / digest
    offline = builds.options.network.offline
    if not (database / "HEAD").is_file():
        if offline:
            raise BuildError(f"cannot fetch {repo} while offline")
        tmp = builds.cache.tempdir(prefix="git-")
        _git_run(["clone", "--quiet", "--mirror", repo, str(tmp / "db")], f"clone {repo}")
        database.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):  # another process cloned it meanwhile
            os.rename(tmp / "db", database)
        shutil.rmtree(tmp, ignore_errors=True)
    elif not offline:
        _git_run(["--git-dir", str(database), "fetch", "--quiet", "--prune", "origin",
                  "+refs/*:refs/*"], f"fetch {repo}")
    wanted = revision or "HEAD"
    commit = _git_run(["--git-dir", str(database), "rev-parse", "--verify", "--quiet",
                       f"{wanted}^{{commit}}"], f"find revision `{wanted}` in {repo}")
    # PEP 610: `url` is the repository without the revision; the commit is recorded.
    reference = DirectReference(f"{vcs}+{repo}", "vcs", f"{repo}@{commit}", vcs=vcs,
                                requested_revision=revision or None, commit_id=commit,
                                subdirectory=subdirectory)

    def materialise(work: Path) -> Path:
        checkout = work / "checkout"
        _git_run(["clone", "--quiet", "--shared", "--no-checkout", str(database),
                  str(checkout)], f"check out {repo}")
        _git_run(["checkout", "--quiet", commit], f"check out {commit} of {repo}", checkout)
        tree = checkout / subdirectory if subdirectory else checkout
        if not tree.is_dir():
            raise BuildError(f"{repo} has no directory `{subdirectory}` at {commit[:12]}")
        return tree

    source = Source(source_for_git(repo, commit, subdirectory, label), None, label,
                    materialise)
    return reference, source


def direct_satisfied(candidate: Candidate, dist: InstalledDist) -> bool:
    """Whether an installed distribution is exactly what a direct reference asks for:
    the same archive URL (and hashes, when given) or git commit. Local directories and
    editables are always reinstalled, as pip does, so edits are picked up."""
    reference = candidate.direct
    if reference is None:
        return True
    recorded = dist.direct_url
    if not isinstance(recorded, dict) or recorded.get("url") != reference.url:
        return False
    if reference.kind == "vcs":
        info = recorded.get("vcs_info")
        return isinstance(info, dict) and info.get("commit_id") == reference.commit_id
    # A local file may have been replaced under the same name: reinstalled.
    return reference.kind == "archive" and not reference.url.startswith("file:")
