"""`wherry pip install`: resolve, prepare, and change the environment in one transaction."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from wherry.cache.layout import Cache
from wherry.commands.environment import site_dirs, target_environment
from wherry.errors import RequirementError
from wherry.output import Printer, format_duration, log
from wherry.python.info import InterpreterInfo
from wherry.requirements.parse import (
    RequirementsSpec,
    parse_requirement,
    read_requirements_file,
)
from wherry.settings import IndexSettings, resolve_index_settings


@dataclass
class InstallOptions:
    """Everything `pip install` was asked to do, already parsed from the command line."""

    requirements: list[str] = field(default_factory=list)
    requirement_files: list[Path] = field(default_factory=list)
    constraint_files: list[Path] = field(default_factory=list)
    python: str | None = None
    system: bool = False
    break_system_packages: bool = False
    index_url: str | None = None
    extra_index_urls: list[str] = field(default_factory=list)
    find_links: list[str] = field(default_factory=list)
    no_index: bool = False
    index_strategy: str | None = None
    no_deps: bool = False
    dry_run: bool = False
    upgrade: bool = False
    link_mode: str | None = None


@dataclass
class Change:
    name: str
    version: str
    sign: str  # "+" installed, "-" removed

    def line(self) -> str:
        return f" {self.sign} {self.name}=={self.version}"


def gather_requirements(options: InstallOptions) -> RequirementsSpec:
    spec = RequirementsSpec()
    for text in options.requirements:
        spec.requirements.append(parse_requirement(text, "command line"))
    for path in options.requirement_files:
        read_requirements_file(path, spec)
    for path in options.constraint_files:
        read_requirements_file(path, spec, constraint=True)
    return spec


def install(options: InstallOptions, cache: Cache, printer: Printer) -> list[Change]:
    """Install the requested packages into the target environment; return the changes."""
    start = time.perf_counter()
    env = target_environment(
        options.python, cache, system=options.system,
        break_system_packages=options.break_system_packages,
    )
    log.debug("Using Python %s environment at: %s", env.full_version, env.prefix)
    spec = gather_requirements(options)
    if not spec.requirements:
        raise RequirementError(
            "no requirements given", hint="name packages to install, or pass `-r FILE`"
        )
    settings = resolve_index_settings(
        cli_index_url=options.index_url,
        cli_extra_index_urls=options.extra_index_urls,
        cli_find_links=options.find_links,
        cli_no_index=options.no_index,
        cli_index_strategy=options.index_strategy,
        file_index_url=spec.index_url,
        file_extra_index_urls=spec.extra_index_urls,
        file_find_links=spec.find_links,
        file_no_index=spec.no_index,
    )
    return install_into(env, spec, settings, cache, printer, options, start=start)


def install_into(
    env: InterpreterInfo,
    spec: RequirementsSpec,
    settings: IndexSettings,
    cache: Cache,
    printer: Printer,
    options: InstallOptions,
    *,
    start: float,
) -> list[Change]:
    from wherry.commands.satisfied import satisfied_closure
    from wherry.install.site import scan_site_packages

    installed = scan_site_packages(site_dirs(env))
    if not options.upgrade:
        closure = satisfied_closure(spec.requirements, spec.constraints, installed, env.markers)
        if closure is not None:
            count = len(closure)
            printer.summary(
                f"Audited {count} package{'s' if count != 1 else ''} in "
                f"{format_duration(time.perf_counter() - start)}"
            )
            return []
    from wherry.commands.pipeline import execute_plan, plan_changes, resolve_for

    resolution, client = resolve_for(env, spec, settings, cache, installed, options)
    try:
        count = len(resolution.pins)
        printer.summary(
            f"Resolved {count} package{'s' if count != 1 else ''} in "
            f"{format_duration(time.perf_counter() - start)}"
        )
        requested = {item.name for item in spec.requirements}
        plan = plan_changes(resolution, installed, requested)
        return execute_plan(env, plan, cache, client, printer, options)
    finally:
        client.close()


def seed_environment(venv_info: InterpreterInfo, ctx: object) -> None:
    """Install pip (and setuptools and wheel below Python 3.12) into a new venv (`--seed`)."""
    from wherry.cli.context import Context

    assert isinstance(ctx, Context)
    packages = ["pip"] if venv_info.version >= (3, 12, 0) else ["pip", "setuptools", "wheel"]
    options = InstallOptions(requirements=packages, python=venv_info.executable)
    spec = gather_requirements(options)
    settings = resolve_index_settings(
        cli_index_url=None, cli_extra_index_urls=[], cli_find_links=[], cli_no_index=False
    )
    changes = install_into(
        venv_info, spec, settings, ctx.cache, ctx.printer, options, start=time.perf_counter()
    )
    for change in changes:
        ctx.printer.summary(change.line())
