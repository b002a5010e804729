"""Transactions: every change to an environment either completes or is undone.

uv has no rollback: a failure after it uninstalled the old versions leaves a half-updated
environment. pip stashes removed files and puts them back. wherry does what pip does for
every change: removals *move* files into a stash on the same filesystem (a rename, so it is
cheap and cannot fail half-way through a file), creations are recorded, and on any
exception inside the `with` block (including KeyboardInterrupt) the created paths are
deleted and the stashed ones moved back, leaving the tree exactly as it was.

A process killed outright (SIGKILL, power loss of the process, OOM killer) cannot roll
back, so the stash also holds a journal, written *before* each change: `R` lines name a
path about to be moved into the stash (and its number there), `C` lines a path about to be
created that did not exist. The next wherry command that takes the environment's lock
finds the leftover `.wherry-stash-*` directory and undoes the journal in reverse
(`recover_interrupted`). Committing deletes the journal first, so a stash without one is
just the remains of a finished transaction.

```
with Transaction(prefix) as tx:
    tx.remove(plan_uninstall(old, scheme_dirs))
    install_wheel(archive, ..., transaction=tx)
```
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Union

from wherry.cache.entry import remove_tree, temporary_dir
from wherry.output import log, trace

StrPath = Union[str, "os.PathLike[str]"]
STASH_PREFIX = ".wherry-stash-"
JOURNAL = "journal"
# Directories that pruning never removes, whatever the caller's `protect` says.
_NEVER_PRUNE = frozenset({"site-packages", "dist-packages", "bin", "Scripts", "include", "lib",
                          "lib64", "Lib"})


def _delete(path: str) -> None:
    """Remove a file, symlink or whole directory; a missing path is fine."""
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            import shutil

            shutil.rmtree(path)
        else:
            os.unlink(path)
    except FileNotFoundError:
        pass


def _absolute(paths: Iterable[StrPath], normal: bool) -> list[str]:
    """The paths as absolute normal strings; `normal` says they are already."""
    if normal:
        return [os.fspath(p) for p in paths]
    return [os.path.abspath(os.fspath(p)) for p in paths]


def _move(source: str, destination: str) -> None:
    try:
        os.rename(source, destination)
    except OSError as error:
        if error.errno != errno.EXDEV:
            raise
        import shutil

        shutil.move(source, destination)


class Transaction:
    """Undoable removals and creations in one environment.

    `stash_root` is a directory on the environment's filesystem (usually its prefix); the
    stash is a `.wherry-stash-XXXX` directory made inside it on first use (or `stash_root`
    itself when it is already named like that). `protect` lists directories that pruning of
    emptied directories must never remove (pass the scheme directories).
    """

    def __init__(self, stash_root: Path, *, protect: Iterable[Path] = ()) -> None:
        self.stash_root = Path(stash_root)
        self._stash: str | None = None
        if self.stash_root.name.startswith(STASH_PREFIX):
            # The caller made the stash itself (e.g. with mkdtemp): ours to delete at the end.
            self._stash = os.path.abspath(self.stash_root)
        self._stashed: list[tuple[str, str]] = []
        self._created: list[str] = []
        self._created_set: set[str] = set()
        self._counter = 0
        self._protect = {os.path.abspath(p) for p in protect}
        self._done = False
        self._journal: int | None = None
        # Installs may run in threads sharing one transaction; stash names must not collide.
        self._lock = threading.Lock()

    # -- recording -------------------------------------------------------------------------

    def _stash_dir(self) -> str:
        if self._stash is None:
            self.stash_root.mkdir(parents=True, exist_ok=True)
            self._stash = temporary_dir(os.fspath(self.stash_root), STASH_PREFIX)
        else:
            os.makedirs(self._stash, exist_ok=True)
        if self._journal is None:
            self._journal = os.open(
                os.path.join(self._stash, JOURNAL), os.O_WRONLY | os.O_CREAT | os.O_APPEND,
                0o600,
            )
        return self._stash

    def _log(self, entries: list[list[object]]) -> None:
        """Append journal lines; each reaches the kernel before the change it announces."""
        if self._journal is None:
            self._stash_dir()
        assert self._journal is not None
        # One JSON line per batch (a list of entries): one encoder call for thousands.
        data = json.dumps(entries) + "\n"
        os.write(self._journal, data.encode("utf-8", "surrogateescape"))

    def _close_journal(self, *, delete: bool) -> None:
        if self._journal is not None:
            os.close(self._journal)
            self._journal = None
        if delete and self._stash is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(self._stash, JOURNAL))

    def intend(self, paths: Iterable[StrPath], *, normal: bool = False) -> None:
        """Journal paths about to be created (only ones that do not exist now), so a
        killed process's leftovers can be deleted by the next one. `normal`: the paths
        are already absolute and normalised (an install's thousands of files), so
        `os.path.abspath` need not run on each."""
        entries: list[list[object]] = [["C", p] for p in _absolute(paths, normal)]
        if entries:
            with self._lock:
                self._log(entries)

    def remove(self, paths: Iterable[StrPath]) -> None:
        """Move each existing path (file, symlink or directory) into the stash."""
        with self._lock:
            self._remove(paths)

    def _remove(self, paths: Iterable[StrPath]) -> None:
        stash = self._stash_dir()
        for path in paths:
            source = os.path.abspath(os.fspath(path))
            if not os.path.lexists(source):
                continue
            if source in self._created_set:
                # Made by this transaction: nothing to restore, so just delete it.
                _delete(source)
                self._created_set.discard(source)
                continue
            self._counter += 1
            destination = os.path.join(stash, str(self._counter))
            self._log([["R", self._counter, source]])
            _move(source, destination)
            self._stashed.append((source, destination))

    def created(self, paths: Iterable[StrPath], *, normal: bool = False) -> None:
        """Record new files and directories, to delete (in reverse order) on rollback
        (`normal` as for `intend`)."""
        normal_paths = _absolute(paths, normal)
        with self._lock:
            self._created.extend(normal_paths)
            self._created_set.update(normal_paths)

    @property
    def removed(self) -> list[Path]:
        """The original locations of everything moved into the stash so far."""
        return [Path(source) for source, _ in self._stashed]

    # -- outcome ---------------------------------------------------------------------------

    def commit(self) -> None:
        """Keep the changes: delete the stash and prune directories emptied by removals."""
        if self._done:
            return
        self._done = True
        self._close_journal(delete=True)
        if self._stash is not None:
            remove_tree(self._stash)
        self._prune()

    def rollback(self) -> None:
        """Undo everything: delete created paths, then move stashed paths back."""
        if self._done:
            return
        self._done = True
        self._close_journal(delete=False)
        failures: list[str] = []
        for path in reversed(self._created):
            try:
                _delete(path)
            except OSError as error:
                failures.append(f"{path}: {error}")
        for source, stashed in reversed(self._stashed):
            try:
                os.makedirs(os.path.dirname(source), exist_ok=True)
                if os.path.lexists(source):
                    _delete(source)
                _move(stashed, source)
            except OSError as error:
                failures.append(f"{source}: {error}")
        if failures:
            log.error(
                "Rollback could not restore %d path(s), e.g. %s; the removed files are kept "
                "in %s",
                len(failures), failures[0], self._stash,
            )
            return
        if self._stash is not None:
            remove_tree(self._stash)
        trace("Rolled back %d creation(s) and %d removal(s)", len(self._created),
              len(self._stashed))

    def _prune(self) -> None:
        limit = os.path.abspath(self.stash_root)
        if os.path.basename(limit).startswith(STASH_PREFIX):
            limit = os.path.dirname(limit)
        candidates: set[str] = set()
        for source, _ in self._stashed:
            parent = os.path.dirname(source)
            while parent and parent.startswith(limit + os.sep):
                if parent in candidates:
                    break
                candidates.add(parent)
                parent = os.path.dirname(parent)
        for directory in sorted(candidates, key=len, reverse=True):
            if directory in self._protect or os.path.basename(directory) in _NEVER_PRUNE:
                continue
            try:
                os.rmdir(directory)
                trace("Removed empty directory %s", directory)
            except OSError:
                pass  # not empty, or already gone

    def __enter__(self) -> Transaction:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.rollback()


# -- recovery after a killed process ---------------------------------------------------------


def interrupted_stashes(prefix: Path) -> list[Path]:
    """`.wherry-stash-*` directories left in `prefix` (cheap: one directory listing)."""
    try:
        names = os.listdir(prefix)
    except OSError:
        return []
    return [Path(prefix) / n for n in names if n.startswith(STASH_PREFIX)]


def _read_journal(path: str) -> list[list[object]]:
    entries: list[list[object]] = []
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        return entries
    for line in data.split(b"\n"):
        try:
            entry = json.loads(line.decode("utf-8", "surrogateescape"))
        except ValueError:
            continue  # the torn last line of a killed write: its change never started
        if isinstance(entry, list) and entry:
            if isinstance(entry[0], list):  # a batch
                entries.extend(e for e in entry if isinstance(e, list) and e)
            else:
                entries.append(entry)
    return entries


def recover_interrupted(prefix: Path) -> int:
    """Undo the changes of transactions whose process died; call it holding the lock.

    Returns the number of stashes dealt with. A stash with a journal is replayed in
    reverse (created paths deleted, stashed paths moved back); one without a journal
    belonged to a transaction that had committed (or not started), and is deleted.
    """
    stashes = interrupted_stashes(prefix)
    for stash in stashes:
        if not stash.is_dir() or stash.is_symlink():
            continue
        entries = _read_journal(os.path.join(stash, JOURNAL))
        failures = 0
        for entry in reversed(entries):
            try:
                if entry[0] == "C" and isinstance(entry[1], str):
                    if os.path.lexists(entry[1]):
                        _delete(entry[1])
                elif entry[0] == "R" and isinstance(entry[2], str):
                    stashed = os.path.join(stash, str(entry[1]))
                    if os.path.lexists(stashed):
                        source = entry[2]
                        os.makedirs(os.path.dirname(source), exist_ok=True)
                        if os.path.lexists(source):
                            _delete(source)
                        _move(stashed, source)
            except (OSError, IndexError) as error:
                failures += 1
                log.debug("Recovery of %s: %s", stash, error)
        if failures:
            log.warning(
                "Could not fully undo an interrupted change (%d path(s)); its stash is kept "
                "at %s", failures, stash,
            )
            continue
        if entries:
            log.warning(
                "Undid an interrupted change to %s left by a wherry process that was killed",
                prefix,
            )
        remove_tree(os.fspath(stash))
    return len(stashes)
