"""Applying a plan to an environment as one transaction under the environment's lock.

Old files are moved aside, new ones linked in; if anything fails (or the user presses
Ctrl-C) the transaction puts every file back, so the environment is never half-changed.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from wherry.install.lock import environment_lock
from wherry.install.transaction import Transaction
from wherry.install.uninstall import plan_uninstall
from wherry.install.wheel import install_wheel
from wherry.output import Printer, log
from wherry.python.info import InterpreterInfo
from wherry.resolve.candidates import Candidate

if TYPE_CHECKING:
    from wherry.commands.install import InstallOptions
    from wherry.commands.pipeline import Plan
    from wherry.install.site import InstalledDist


def scheme_of(env: InterpreterInfo) -> dict[str, str]:
    scheme = env.scheme
    return {key: scheme[key] for key in ("purelib", "platlib", "scripts", "data", "include")}


def apply_plan(
    env: InterpreterInfo,
    plan: Plan,
    prepared: list[tuple[Candidate, Path]],
    printer: Printer,
    options: InstallOptions,
) -> None:
    from wherry.install.compile import bytecode_requested, check_invalidation_mode
    from wherry.install.link import LinkSupport, resolve_link_mode
    from wherry.install.transaction import recover_interrupted

    prefix = Path(env.prefix)
    scheme = scheme_of(env)
    scheme_dirs = [Path(p) for p in scheme.values()]
    link_mode = resolve_link_mode(options.link_mode)
    compile_bytecode = bytecode_requested(getattr(options, "compile_bytecode", None))
    if compile_bytecode:
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
        stash = Path(tempfile.mkdtemp(prefix=".wherry-stash-", dir=prefix))
        with Transaction(stash, protect=[prefix, *scheme_dirs]) as transaction:
            for dist in [*plan.remove, *_changed_meanwhile(env, plan, prepared)]:
                log.debug("Uninstalling %s==%s", dist.canonical_name, dist.version)
                transaction.remove(plan_uninstall(dist, scheme_dirs))
            for candidate, archive in printer.track("Installing", prepared, lambda p: p[0].name):
                log.debug("Installing %s", candidate.wheel.filename)
                installed = install_wheel(
                    archive,
                    filename=candidate.wheel.filename,
                    scheme=scheme,
                    interpreter=env.executable,
                    requested=candidate.name in plan.requested,
                    direct_url=(candidate.direct.direct_url()
                                if candidate.direct is not None else None),
                    link_mode=link_mode,
                    transaction=transaction,
                    link_support=link_support,
                )
                created.extend(installed.created)
        if compile_bytecode:
            _compile(env, scheme, created, printer)


def _changed_meanwhile(
    env: InterpreterInfo, plan: Plan, prepared: list[tuple[Candidate, Path]]
) -> list[InstalledDist]:
    """Distributions of the names being installed that another wherry process installed
    between our plan and our lock: removed too, so a name never ends up installed twice."""
    from wherry.commands.environment import site_dirs
    from wherry.install.site import scan_site_packages

    present = scan_site_packages(site_dirs(env))
    planned = {os.path.abspath(d.path) for d in plan.remove}
    extra = [
        dist
        for candidate, _ in prepared
        for dist in present.get(candidate.name, [])
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
