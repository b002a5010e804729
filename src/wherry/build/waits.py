"""Which build waits for which, across the threads of one process: cycles become errors.

A build holds its source's lock (`BuiltWheels.lock`) while it makes its environment, and
building that environment's own sdists takes their locks in turn: a chain of nested
builds. One chain finds a cycle in itself (`Builder.check_cycle`). Two chains running at
once (builds started ahead of the install, metadata prepared side by side) can each hold
what the other needs next: A's environment needs B while B's needs A. Each would wait on
the other's lock forever. So every nested lock request is an edge "the build of parent
waits for source" kept here while it waits and holds; a request whose source already
reaches (through held and awaited locks) a build of the requesting chain is that cycle,
and fails as a cyclic build dependency instead of waiting. Processes cannot see each
other's chains: between them the lock's wait (and its timeout) is all there is.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence

from wherry.build.cache import SourceId
from wherry.errors import BuildError


class BuildWaits:
    """The edges parent -> nested source of the builds under way in this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._edges: dict[SourceId, list[SourceId]] = {}

    @contextlib.contextmanager
    def entering(self, chain: Sequence[SourceId], source: SourceId) -> Iterator[None]:
        """For the `with` block that waits for and holds `source`'s lock, on behalf of
        the builds in `chain` (outermost first; empty for a build nobody nested)."""
        if not chain:
            yield
            return
        parent = chain[-1]
        with self._lock:
            path = self._path(source, set(chain))
            if path is not None:
                start = chain.index(path[-1])
                labels = [s.label for s in chain[start:]] + [s.label for s in path]
                raise BuildError(
                    f"cyclic build dependency: {' -> '.join(labels)}",
                    hint="these packages need each other to be built; install a wheel of "
                    "one of them first, or pass --no-build-isolation")
            self._edges.setdefault(parent, []).append(source)
        try:
            yield
        finally:
            with self._lock:
                edges = self._edges[parent]
                edges.remove(source)
                if not edges:
                    del self._edges[parent]

    def _path(self, start: SourceId, targets: set[SourceId]) -> list[SourceId] | None:
        """A path of edges from `start` to one of `targets` (both ends included)."""
        trail: list[SourceId] = []
        seen: set[SourceId] = set()

        def walk(node: SourceId) -> bool:
            trail.append(node)
            if node in targets:
                return True
            if node not in seen:
                seen.add(node)
                for nxt in self._edges.get(node, ()):
                    if walk(nxt):
                        return True
            trail.pop()
            return False

        return trail if walk(start) else None
