"""`wherry pip uninstall`: remove distributions by their RECORD, as one transaction.

Besides `.dist-info` and `.egg-info` installations (planned by `install.uninstall`), this
removes legacy development installs: a `NAME.egg-link` file and its line in
`easy-install.pth` (the project directory itself is the user's and stays).

wherry refuses to remove its own dependencies from the environment it runs from without
`--force`: doing so would break the very tool needed to repair the damage.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from wherry.cache.layout import Cache
from wherry.commands.egglink import EggLink, find_egg_links
from wherry.commands.environment import site_dirs, target_environment
from wherry.errors import RequirementError, UninstallError
from wherry.install.lock import environment_lock
from wherry.install.site import InstalledDist, canonicalize_name, scan_site_packages
from wherry.install.transaction import Transaction
from wherry.install.uninstall import plan_uninstall
from wherry.output import Printer, counted, log, timed
from wherry.requirements.parse import RequirementsSpec, parse_requirement, read_requirements_file

#: wherry's direct dependencies, for when wherry itself is not an installed distribution
#: of its environment (run from a source tree); keep in step with pyproject.toml.
_FALLBACK_DEPENDENCIES = ("packaging", "nab-resolver", "msgspec", "hishel",
                          "tomli", "pip", "rich")


def _same_path(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def protected_packages(
    env_prefix: str,
    installed: Mapping[str, list[InstalledDist]],
    markers: Mapping[str, str],
    names: list[str],
    *,
    running_prefix: str | None = None,
) -> list[str]:
    """Which of `names` wherry needs to run, if `env_prefix` is wherry's own environment.

    wherry's own environment is the `sys.prefix` of the running interpreter (or
    `running_prefix`); the needed packages are wherry and the closure of its requirements
    as installed there. Elsewhere nothing is protected.
    """
    if not _same_path(env_prefix, sys.prefix if running_prefix is None else running_prefix):
        return []
    from wherry.commands.depgraph import DependencyGraph

    graph = DependencyGraph(installed, markers)
    roots = ["wherry"] if "wherry" in graph.dists else list(_FALLBACK_DEPENDENCIES)
    needed = graph.closure(roots)
    return sorted({canonicalize_name(n) for n in names} & needed)


def _pth_without(pth: Path, project: Path) -> str | None:
    """`easy-install.pth` without the lines naming `project`; None if nothing changes."""
    try:
        text = pth.read_text("utf-8", errors="surrogateescape")
    except OSError:
        return None
    wanted = os.path.normcase(os.path.normpath(project))
    kept: list[str] = []
    changed = False
    for line in text.splitlines(keepends=True):
        entry = line.strip()
        if entry and not entry.startswith(("#", "import ", "import\t")) and os.path.normcase(
            os.path.normpath(pth.parent / entry)
        ) == wanted:
            changed = True
            continue
        kept.append(line)
    return "".join(kept) if changed else None


def _remove_egg_link(link: EggLink, transaction: Transaction) -> None:
    pth = link.link.parent / "easy-install.pth"
    transaction.remove([link.link])
    new_text = _pth_without(pth, link.project)
    if new_text is None:
        return
    fd, temp = tempfile.mkstemp(prefix=".easy-install-", suffix=".tmp", dir=pth.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as handle:
            handle.write(new_text)
        os.chmod(temp, pth.stat().st_mode & 0o7777)
        transaction.remove([pth])
        os.replace(temp, pth)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise
    transaction.created([pth])


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
    force: bool = False,
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
    dirs = site_dirs(env)
    installed = scan_site_packages(dirs)
    egg_links: dict[str, list[EggLink]] = {}
    for link in find_egg_links(dirs):
        egg_links.setdefault(link.name, []).append(link)
    targets: list[InstalledDist] = []
    link_targets: list[EggLink] = []
    for item in spec.requirements:
        name = canonicalize_name(item.requirement.name)
        dists = installed.get(name, [])
        links = egg_links.get(name, [])
        if not dists and not links:
            printer.warn(f"Skipping {item.requirement.name} as it is not installed")
            continue
        targets.extend(d for d in dists if d not in targets)
        link_targets.extend(link for link in links if link not in link_targets)
    if not targets and not link_targets:
        printer.warn("No packages to uninstall")
        return []
    everything = dict(installed)
    for link in link_targets:
        if link.dist is not None:
            everything.setdefault(link.name, []).append(link.dist)
    protected = protected_packages(
        env.prefix, everything, env.markers,
        [d.canonical_name for d in targets] + [link.name for link in link_targets],
    )
    if protected and not force:
        listed = ", ".join(protected)
        raise UninstallError(
            f"refusing to uninstall {listed} from {env.prefix}: wherry itself runs from "
            "this environment and needs "
            + ("it" if len(protected) == 1 else "them"),
            hint="pass `--force` to remove "
            + ("it" if len(protected) == 1 else "them")
            + " anyway (wherry may stop working)",
        )
    if protected:
        log.warning("Removing %s, which wherry needs to run", ", ".join(protected))
    scheme_dirs = [Path(p) for p in env.scheme.values()]
    plans = {dist: plan_uninstall(dist, scheme_dirs) for dist in targets}
    removed = [(d.canonical_name, d.version) for d in targets] + [
        (link.name, link.dist.version if link.dist else "(unknown version)")
        for link in link_targets
    ]
    count = len(removed)
    if dry_run:
        printer.summary(f"Would uninstall {counted(count)}")
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
                for link in link_targets:
                    _remove_egg_link(link, transaction)
        printer.summary(timed("Uninstalled", count, start))
    for name, version in sorted(removed):
        printer.summary(f" - {name}=={version}")
    return targets
