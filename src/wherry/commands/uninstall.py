"""`wherry pip uninstall`: remove distributions by their RECORD, as one transaction."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from wherry.cache.layout import Cache
from wherry.commands.environment import site_dirs, target_environment
from wherry.errors import RequirementError
from wherry.install.lock import environment_lock
from wherry.install.site import InstalledDist, canonicalize_name, scan_site_packages
from wherry.install.transaction import Transaction
from wherry.install.uninstall import plan_uninstall
from wherry.output import Printer, format_duration
from wherry.requirements.parse import RequirementsSpec, parse_requirement, read_requirements_file


def uninstall(
    names: list[str],
    requirement_files: list[Path],
    *,
    python: str | None,
    system: bool,
    break_system_packages: bool,
    dry_run: bool,
    cache: Cache,
    printer: Printer,
) -> list[InstalledDist]:
    start = time.perf_counter()
    spec = RequirementsSpec()
    for text in names:
        spec.requirements.append(parse_requirement(text, "command line"))
    for path in requirement_files:
        read_requirements_file(path, spec)
    if not spec.requirements:
        raise RequirementError(
            "no packages given to uninstall", hint="name packages, or pass `-r FILE`"
        )
    env = target_environment(python, cache, system=system,
                             break_system_packages=break_system_packages)
    installed = scan_site_packages(site_dirs(env))
    targets: list[InstalledDist] = []
    for item in spec.requirements:
        name = canonicalize_name(item.requirement.name)
        dists = installed.get(name)
        if not dists:
            printer.warn(f"Skipping {item.requirement.name} as it is not installed")
            continue
        targets.extend(d for d in dists if d not in targets)
    if not targets:
        printer.warn("No packages to uninstall")
        return []
    scheme_dirs = [Path(p) for p in env.scheme.values()]
    plans = {dist: plan_uninstall(dist, scheme_dirs) for dist in targets}
    if dry_run:
        printer.summary(f"Would uninstall {len(targets)} packages")
    else:
        prefix = Path(env.prefix)
        with environment_lock(
            prefix,
            on_wait=lambda: printer.summary(f"Waiting for another wherry process to finish "
                                            f"with {prefix}"),
        ):
            stash = Path(tempfile.mkdtemp(prefix=".wherry-stash-", dir=prefix))
            with Transaction(stash, protect=[prefix, *scheme_dirs]) as transaction:
                for paths in plans.values():
                    transaction.remove(paths)
        count = len(targets)
        printer.summary(
            f"Uninstalled {count} package{'s' if count != 1 else ''} in "
            f"{format_duration(time.perf_counter() - start)}"
        )
    for dist in sorted(targets, key=lambda d: d.canonical_name):
        printer.summary(f" - {dist.canonical_name}=={dist.version}")
    return targets
