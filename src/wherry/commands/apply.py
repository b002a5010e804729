"""Applying a plan to an environment as one transaction under the environment's lock.

Old files are moved aside, new ones linked in; if anything fails (or the user presses
Ctrl-C) the transaction puts every file back, so the environment is never half-changed.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wherry.cache.entry import temporary_dir
from wherry.install.lock import environment_lock
from wherry.install.transaction import Transaction
from wherry.install.uninstall import plan_uninstall
from wherry.install.wheel import InstalledFiles, PlannedWheel, place_wheel, plan_wheel
from wherry.output import Printer, log
from wherry.python.info import InterpreterInfo

if TYPE_CHECKING:
    from wherry.install.site import InstalledDist


class WheelToPlace:
    """One prepared wheel for `apply_plan`: its unpacked archive and how it is installed.

    Plain data rather than the resolver's `Candidate`, so a stored resolution
    (commands/stored_resolution.py, cli/replay_install.py) installs without importing the
    resolver, or msgspec."""

    __slots__ = ("archive", "direct_url", "filename", "name", "requested")

    def __init__(self, name: str, filename: str, archive: Path, requested: bool,
                 direct_url: dict[str, Any] | None = None) -> None:
        self.name = name  # canonical
        self.filename = filename
        self.archive = archive
        self.requested = requested
        self.direct_url = direct_url


def scheme_of(env: InterpreterInfo) -> dict[str, str]:
    scheme = env.scheme
    return {key: scheme[key] for key in ("purelib", "platlib", "scripts", "data", "include")}


def apply_plan(
    env: InterpreterInfo,
    remove: list[InstalledDist],
    prepared: list[WheelToPlace],
    printer: Printer,
    *,
    link_mode: str | None,
    compile_bytecode: bool | None,
) -> None:
    """Take out `remove` and place `prepared`, as one transaction under the lock.

    `link_mode` and `compile_bytecode` as the options give them (None: their variables,
    else the defaults)."""
    from wherry.install.compile import bytecode_requested, check_invalidation_mode
    from wherry.install.link import LinkSupport, resolve_link_mode
    from wherry.install.transaction import recover_interrupted

    prefix = Path(env.prefix)
    scheme = scheme_of(env)
    scheme_dirs = [Path(p) for p in scheme.values()]
    mode = resolve_link_mode(link_mode)
    compiling = bytecode_requested(compile_bytecode)
    if compiling:
        check_invalidation_mode()
    created: list[str] = []
    link_support: LinkSupport = {}  # what the filesystems can do, found out once
    site = Path(scheme["purelib"])
    site.mkdir(parents=True, exist_ok=True)
    with environment_lock(
        prefix, on_wait=lambda: printer.summary(f"Waiting for another wherry process to "
                                                f"finish with {prefix}")
    ):
        recover_interrupted(prefix)  # leftovers of a killed process, before planning on them
        stash = Path(temporary_dir(os.fspath(prefix), ".wherry-stash-"))
        with Transaction(stash, protect=[prefix, *scheme_dirs]) as transaction:
            for dist in [*remove, *_changed_meanwhile(env, remove, prepared)]:
                log.debug("Uninstalling %s==%s", dist.canonical_name, dist.version)
                transaction.remove(plan_uninstall(dist, scheme_dirs))
            planned = [
                plan_wheel(
                    wheel.archive,
                    filename=wheel.filename,
                    scheme=scheme,
                    interpreter=env.executable,
                    requested=wheel.requested,
                    direct_url=wheel.direct_url,
                )
                for wheel in prepared
            ]

            def place(wheel: PlannedWheel) -> InstalledFiles:
                log.debug("Installing %s", wheel.filename)
                return place_wheel(wheel, transaction, link_mode=mode,
                                   link_support=link_support)

            with (printer.progress("Installing", len(planned)) as bar,
                  contextlib.closing(_place_all(planned, place)) as placed):
                for wheel, installed in zip(prepared, placed, strict=True):
                    created.extend(installed.created)
                    bar.advance(wheel.name)
        if compiling:
            _compile(env, scheme, created, printer)


def placing_threads(count: int) -> int:
    """How many wheels are placed at once: one per core, at most four.

    Placing is system calls (mkdir, link), which release the GIL; side by side they
    overlap each other's waits on the filesystem (uv places wheels in parallel too). Measured
    on the 110-package install into a fresh venv here (2 cores, a disk under memory
    pressure): 1.22 s one at a time, 0.82 s two at a time, 0.88 s four at a time; the
    35-package install, whose files are all in memory, is the same either way.
    """
    return max(1, min(count, os.cpu_count() or 1, 4))


def _place_all(
    planned: list[PlannedWheel], place: Callable[[PlannedWheel], InstalledFiles]
) -> Generator[InstalledFiles, None, None]:
    """`place` each wheel, several at once when no two of them write the same path;
    results in the order given.

    Wheels that overlap (two projects shipping one file) are placed one after the other,
    so the later one in the plan wins the path as it always has. On a failure (or Ctrl-C)
    no further wheel starts and those already started are waited for, so the caller's
    rollback sees every path they made.
    """
    threads = placing_threads(len(planned))
    if threads > 1:
        seen: set[str] = set()
        total = 0
        for wheel in planned:
            paths = wheel.destinations
            total += len(paths)
            seen.update(paths)
        if len(seen) != total:
            log.debug("Some wheels write the same paths; placing them one at a time")
            threads = 1
    if threads == 1:
        for wheel in planned:
            yield place(wheel)
        return
    from wherry.futures import wait
    from wherry.workers import Workers

    pool = Workers(threads, "wherry-place")
    futures = [pool.submit(place, wheel) for wheel in planned]
    try:
        for future in futures:
            yield future.result()
    finally:
        for future in futures:
            future.cancel()
        # Not `shutdown(wait=True)` alone: a second Ctrl-C must not stop the wait while
        # a wheel is still being placed.
        pending = [f for f in futures if not f.done()]
        while pending:
            with contextlib.suppress(KeyboardInterrupt):
                wait(pending)
            pending = [f for f in pending if not f.done()]
        pool.shutdown(wait=False)


def _changed_meanwhile(
    env: InterpreterInfo, remove: list[InstalledDist], prepared: list[WheelToPlace]
) -> list[InstalledDist]:
    """Distributions of the names being installed that another wherry process installed
    between our plan and our lock: removed too, so a name never ends up installed twice."""
    from wherry.commands.environment import site_dirs
    from wherry.install.site import scan_site_packages

    present = scan_site_packages(site_dirs(env))
    planned = {os.path.abspath(d.path) for d in remove}
    extra = [
        dist
        for wheel in prepared
        for dist in present.get(wheel.name, [])
        if os.path.abspath(dist.path) not in planned
    ]
    if extra:
        log.debug("Also replacing %s, installed by another process since the plan was made",
                  ", ".join(f"{d.canonical_name}=={d.version}" for d in extra))
    return extra


def _compile(
    env: InterpreterInfo, scheme: dict[str, str], created: list[str], printer: Printer
) -> None:
    """`--compile-bytecode`: the new `.py` files, compiled by the target interpreter."""
    from wherry.install.compile import compile_bytecode, python_files
    from wherry.output import timed

    start = time.perf_counter()
    files = python_files(created, {scheme["purelib"], scheme["platlib"]})
    count = compile_bytecode(env.executable, files)
    printer.summary(timed("Bytecode compiled", count, start, "file"))
