"""Applying a plan to an environment as one transaction under the environment's lock.

Old files are moved aside, new ones linked in; if anything fails (or the user presses
Ctrl-C) the transaction puts every file back, so the environment is never half-changed.
"""

from __future__ import annotations

import tempfile
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
    from wherry.install.link import DEFAULT_LINK_MODE

    prefix = Path(env.prefix)
    scheme = scheme_of(env)
    scheme_dirs = [Path(p) for p in scheme.values()]
    link_mode = options.link_mode or DEFAULT_LINK_MODE
    site = Path(scheme["purelib"])
    site.mkdir(parents=True, exist_ok=True)
    with environment_lock(
        prefix, on_wait=lambda: printer.summary(f"Waiting for another wherry process to "
                                                f"finish with {prefix}")
    ):
        stash = Path(tempfile.mkdtemp(prefix=".wherry-stash-", dir=prefix))
        with Transaction(stash, protect=[prefix, *scheme_dirs]) as transaction:
            for dist in plan.remove:
                log.debug("Uninstalling %s==%s", dist.canonical_name, dist.version)
                transaction.remove(plan_uninstall(dist, scheme_dirs))
            for candidate, archive in prepared:
                log.debug("Installing %s", candidate.wheel.filename)
                install_wheel(
                    archive,
                    filename=candidate.wheel.filename,
                    scheme=scheme,
                    interpreter=env.executable,
                    requested=candidate.name in plan.requested,
                    link_mode=link_mode,  # type: ignore[arg-type]
                    transaction=transaction,
                )
