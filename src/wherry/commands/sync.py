"""`wherry pip sync`: make an environment hold exactly the listed packages.

The files are taken as complete (a lock: the output of `pip compile`): each requirement
is resolved on its own, with no dependencies followed, as uv's sync does. Whatever is
installed and not listed is removed, except the environment's seed packages (see
`retained_seed_packages`). The changes are one transaction, as for `install`.
"""

from __future__ import annotations

import time
from pathlib import Path

from wherry.cache.layout import Cache
from wherry.commands.environment import site_dirs
from wherry.commands.install import (
    Change,
    InstallOptions,
    gather_requirements,
    index_settings,
    preload_resolution,
    prepare_environment,
    prepare_tls,
)
from wherry.errors import RequirementError
from wherry.output import Printer, timed
from wherry.python.info import InterpreterInfo, while_probing

TYPE_CHECKING = False

if TYPE_CHECKING:
    from wherry.install.site import InstalledDist
    from wherry.requirements.parse import RequirementsSpec


class SyncOptions(InstallOptions):
    """`InstallOptions` (its `requirement_files` are sync's FILE arguments) plus
    `allow_empty_requirements`. Dependencies are never followed (`no_deps` is forced)."""

    def __init__(self, *, allow_empty_requirements: bool = False, **kwargs: object) -> None:
        kwargs["no_deps"] = True
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.allow_empty_requirements = allow_empty_requirements


def _made_without_seed(env: InterpreterInfo) -> bool:
    """True for a venv wherry (or uv, whose `pyvenv.cfg` marker is the same idea) created
    without `--seed`: its pip/setuptools/wheel, if any, were installed later by hand."""
    try:
        text = (Path(env.prefix) / "pyvenv.cfg").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    keys: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            keys[key.strip().lower()] = value.strip().lower()
    made_by_us = "wherry" in keys or "uv" in keys
    return made_by_us and keys.get("seed") != "true"


def retained_seed_packages(env: InterpreterInfo) -> set[str]:
    """The installed packages sync keeps although not listed (uv's rule, reference/uv.md
    section 7): `pip` and the installer itself (`wherry`), plus `setuptools` and `wheel`
    below Python 3.12 - unless wherry made this venv without `--seed`, in which case
    nothing is kept."""
    if _made_without_seed(env):
        return set()
    seeds = {"pip", "wherry"}
    if env.version < (3, 12, 0):
        seeds |= {"setuptools", "wheel"}
    return seeds


def sync(options: SyncOptions, cache: Cache, printer: Printer) -> list[Change]:
    """Make the target environment match the requirements files exactly."""
    start = time.perf_counter()
    prepare_tls(options)
    with while_probing(preload_resolution):
        env = prepare_environment(options, cache)
    spec = gather_requirements(options)
    if not spec.requirements and not options.allow_empty_requirements:
        files = ", ".join(f"`{p}`" for p in options.requirement_files)
        raise RequirementError(
            f"no requirements found in {files}" if files else "no requirements files given",
            hint="pass `--allow-empty-requirements` to remove every package from the "
            "environment",
        )
    from wherry.install.site import scan_site_packages
    from wherry.platform.targets import target_for

    target = target_for(env, python_platform=options.python_platform,
                        python_version=options.python_version)
    installed = scan_site_packages(site_dirs(env))
    retain = retained_seed_packages(env)
    if options.keeps_installed:
        audited = _already_exact(spec, installed, target.markers, retain)
        if audited is not None:
            printer.summary(timed("Audited", audited, start))
            return []
    settings = index_settings(options, spec)
    from wherry.commands.build_env import BuildContext
    from wherry.commands.hashes import RequestedHashes
    from wherry.commands.pipeline import Plan, execute_plan, plan_changes, resolve_for

    builds = BuildContext(env, target, settings, cache, options,
                          build_ahead=not options.dry_run)
    if spec.requirements:
        try:
            resolution, client = resolve_for(target, spec, settings, cache, installed,
                                             options, builds=builds)
        except BaseException:
            builds.close()
            raise
    else:
        from wherry.http.client import HttpClient
        from wherry.resolve.resolution import Resolution

        resolution, client = Resolution({}), HttpClient(offline=True)
    try:
        count = len(resolution.pins)
        printer.summary(timed("Resolved", count, start))
        requested = {item.name for item in spec.requirements}
        plan: Plan = plan_changes(resolution, installed, requested,
                                  reinstall=options.reinstalls, exact=True, retain=retain)
        return execute_plan(env, plan, cache, client, printer, options, builds=builds,
                            hashes=RequestedHashes.of([*spec.requirements, *spec.constraints]))
    finally:
        client.close()
        builds.close()


def _already_exact(
    spec: RequirementsSpec,
    installed: dict[str, list[InstalledDist]],
    markers: dict[str, str],
    retain: set[str],
) -> int | None:
    """How many packages are listed when the environment already is exactly the list
    (each listed requirement met by its one installed copy, nothing else but retained
    seed packages), else None. No index is needed to answer that."""
    listed: set[str] = set()
    for item in spec.requirements:
        requirement = item.requirement
        if requirement.marker is not None and not requirement.marker.evaluate(
            {**markers, "extra": ""}
        ):
            continue
        if requirement.url:
            return None  # a direct reference: leave the comparison to the resolver
        dists = installed.get(item.name) or []
        if len(dists) != 1 or not requirement.specifier.contains(
            dists[0].version, prereleases=True
        ):
            return None
        for constraint in spec.constraints:
            if constraint.name == item.name and not constraint.requirement.specifier.contains(
                dists[0].version, prereleases=True
            ):
                return None
        listed.add(item.name)
    if not listed:
        return None
    for name in installed:
        if name not in listed and name not in retain:
            return None
    return len(listed)
