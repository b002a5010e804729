"""`--hash` on named requirements: the chosen file must be one the requirement names.

A requirements line `beta==1.0 --hash=sha256:...` (usually several hashes: one per wheel
and the sdist) pins the exact bytes to install. As uv does when hashes are given, every
distribution whose requirement (or constraint) carries hashes is checked: before
anything is downloaded when the index lists the file's sha256 (and a local file is
hashed where it lies), otherwise right after the download, before anything is
installed. Only sha256, sha384 and sha512 count; a requirement that lists none of them
cannot be checked and is an error, never a silent pass. Direct references (`name @ URL`)
are verified where they are fetched (`commands/direct.py`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from wherry.cache.entry import file_digest
from wherry.errors import HashMismatch
from wherry.index.models import DistFile
from wherry.requirements.parse import SourcedRequirement
from wherry.resolve.candidates import Candidate

#: Algorithms strong enough to pin bytes with (pip's list).
STRONG = ("sha256", "sha384", "sha512")


class RequestedHashes:
    """Per canonical name, the digests its requirements allow, and where they were given."""

    def __init__(self, allowed: Mapping[str, Mapping[str, frozenset[str]]],
                 sources: Mapping[str, str]) -> None:
        self.allowed = allowed
        self.sources = sources

    @classmethod
    def of(cls, items: Iterable[SourcedRequirement]) -> RequestedHashes:
        allowed: dict[str, dict[str, set[str]]] = {}
        sources: dict[str, str] = {}
        for item in items:
            if not item.hashes or item.requirement.url:
                continue
            per_algorithm = allowed.setdefault(item.name, {})
            sources.setdefault(item.name, item.source)
            for text in item.hashes:
                algorithm, _, digest = text.partition(":")
                per_algorithm.setdefault(algorithm.lower(), set()).add(digest.lower())
        frozen = {name: {a: frozenset(d) for a, d in per.items()}
                  for name, per in allowed.items()}
        return cls(frozen, sources)

    def __bool__(self) -> bool:
        return bool(self.allowed)

    def check_before_download(self, candidates: Iterable[Candidate]) -> set[str]:
        """Refuse a chosen file the index (or the local disk) already shows is not one
        the requirement names: nothing is downloaded or installed then. Returns the
        names whose files could not be checked yet (`check_downloaded` does them)."""
        later: set[str] = set()
        for candidate in candidates:
            wanted = self._wanted(candidate)
            if wanted is None:
                continue
            file = candidate.wheel
            known = {a: d.lower() for a, d in file.hashes.items() if a in wanted}
            if not known and file.url.startswith("file:"):
                from wherry.http.client import file_url_to_path

                path = file_url_to_path(file.url)
                try:
                    known = {a: file_digest(path, a) for a in wanted}
                except OSError:
                    known = {}
            if not known:
                later.add(candidate.name)
            for algorithm, digest in known.items():
                self._compare(candidate, file, algorithm, digest, wanted)
        return later

    def check_downloaded(self, candidate: Candidate, sha256: str | None) -> None:
        """After a download: the file's sha256 must be allowed (when the requirement
        names sha256 digests; other algorithms were checked against the index's)."""
        wanted = self._wanted(candidate)
        if wanted is None:
            return
        if "sha256" in wanted:
            if sha256 is None:
                raise HashMismatch(
                    f"cannot verify {candidate.wheel.filename} against the --hash of "
                    f"{candidate.name} ({self.sources[candidate.name]}): its sha256 is unknown",
                    hint="use a requirements file whose hashes include the sha256 of the "
                    "files the index serves")
            self._compare(candidate, candidate.wheel, "sha256", sha256, wanted)
        elif not any(a in candidate.wheel.hashes for a in wanted):
            raise HashMismatch(
                f"cannot verify {candidate.wheel.filename} against the --hash of "
                f"{candidate.name} ({self.sources[candidate.name]}): the index lists none of "
                f"{', '.join(sorted(wanted))}",
                hint="add a sha256 hash (`--hash=sha256:...`) to the requirement")

    def _wanted(self, candidate: Candidate) -> dict[str, frozenset[str]] | None:
        if candidate.direct is not None:
            return None
        per = self.allowed.get(candidate.name)
        if per is None:
            return None
        strong = {a: d for a, d in per.items() if a in STRONG}
        if not strong:
            raise HashMismatch(
                f"the --hash of {candidate.name} ({self.sources[candidate.name]}) names only "
                f"{', '.join(sorted(per))}, which cannot pin a file",
                hint="use sha256 hashes (`--hash=sha256:<hex digest>`)")
        return strong

    def _compare(self, candidate: Candidate, file: DistFile, algorithm: str, digest: str,
                 wanted: Mapping[str, frozenset[str]]) -> None:
        allowed = wanted.get(algorithm)
        if allowed is not None and digest not in allowed:
            listed = ", ".join(f"{algorithm}:{d}" for d in sorted(allowed))
            raise HashMismatch(
                f"hash mismatch for {file.filename} ({candidate.name}=={candidate.version}, "
                f"required by {self.sources[candidate.name]}):\n"
                f"    expected one of {listed}\n    actual   {algorithm}:{digest}",
                hint="the file is not one the requirement's --hash names; if the "
                "requirements file is outdated, regenerate it (e.g. `wherry pip compile "
                "--generate-hashes`)")
