"""The no-op fast path: "already satisfied" answered from a stat-validated verdict.

Parsing requirements needs `packaging`, whose import alone costs more than the whole
budget of a no-op install (DESIGN.md section 6). So after wherry has once established
that a request is satisfied by an environment (by auditing it, or by installing it), it
stores that verdict keyed by the request and the interpreter, with validators: the
stats of the site directories (a distribution added or removed changes them), of each
satisfying distribution's metadata file, and of every requirements file read, plus the
environment variables those files expanded. A later identical request whose validators
all hold is answered without parsing anything. Any change falls back to the full path,
which stores a fresh verdict; the answer is always the one the full path would give.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from wherry.cache.entry import write_atomic
from wherry.cache.layout import Cache
from wherry.python.info import InterpreterInfo
from wherry.python.validators import stat_tuple

TYPE_CHECKING = False  # not `from typing import ...`: importing typing costs ~3 ms

if TYPE_CHECKING:
    from typing import Any

    from wherry.commands.install import InstallOptions
    from wherry.install.site import InstalledDist
    from wherry.requirements.parse import RequirementsSpec

_VERSION = 2  # 2: stats as python/validators.stat_tuple gives them


def _request_key(options: InstallOptions, env: InterpreterInfo) -> tuple[str, str]:
    """(file name, key material); the material is compared on read (see info.py)."""
    import zlib

    from wherry.config import current as current_config

    request = {
        "version": _VERSION,
        "requirements": options.requirements,
        "files": [os.path.abspath(p) for p in options.requirement_files],
        "constraints": [os.path.abspath(p) for p in options.constraint_files],
        "no_deps": options.no_deps,
        "python_platform": options.python_platform,
        "python_version": options.python_version,
        "executable": env.executable,
        "markers": env.markers,
        "sys_path": env.sys_path,
        "scheme": env.scheme,  # --target/--prefix install elsewhere with the same Python
        "config": current_config().fingerprint(),  # env/config-file settings (config.py)
    }
    material = json.dumps(request, sort_keys=True)
    encoded = material.encode("utf-8", "surrogateescape")
    return f"{zlib.crc32(encoded):08x}{zlib.adler32(encoded):08x}", material


def metadata_file(dist: InstalledDist) -> str:
    if dist.path.is_dir():
        name = "PKG-INFO" if dist.is_legacy else "METADATA"
        return str(dist.path / name)
    return str(dist.path)


def applicable(options: InstallOptions) -> bool:
    """Only requests whose answer can be "nothing to do" may use a verdict: not `-U`,
    `-P`, `--reinstall` or `--reinstall-package`, which ask to change what is installed."""
    return options.keeps_installed


def check(options: InstallOptions, env: InterpreterInfo, cache: Cache) -> int | None:
    """The number of audited packages if a stored verdict still holds, else None."""
    if not applicable(options):
        return None
    name, material = _request_key(options, env)
    try:
        verdict = json.loads((cache.bucket("noop") / f"{name}.json").read_bytes())
        if verdict["key"] != material:
            return None
        stats: list[list[Any]] = verdict["stats"]
        variables: dict[str, str | None] = verdict["variables"]
        count = int(verdict["count"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    for name, value in variables.items():
        if os.environ.get(name) != value:
            return None
    for file, expected in stats:
        if stat_tuple(file) != expected:
            return None
    return count


def stored(options: InstallOptions, env: InterpreterInfo, cache: Cache
           ) -> tuple[int, list[str], dict[str, str | None]] | None:
    """(count, files, variables) of the verdict stored for this request, if any: what a
    replay of this command (cli/replay.py) must find unchanged."""
    name, material = _request_key(options, env)
    try:
        verdict = json.loads((cache.bucket("noop") / f"{name}.json").read_bytes())
        if verdict["key"] != material:
            return None
        return (int(verdict["count"]), [str(file) for file, _ in verdict["stats"]],
                dict(verdict["variables"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def record(
    options: InstallOptions,
    env: InterpreterInfo,
    cache: Cache,
    spec: RequirementsSpec,
    site_dirs: Sequence[Path],
    satisfied_by: Iterable[InstalledDist],
) -> None:
    """Store the verdict that `options` is satisfied by the environment as it is now."""
    if not applicable(options):
        return
    dists = list(satisfied_by)
    files = [str(d) for d in site_dirs] + [metadata_file(d) for d in dists]
    files += [str(f) for f in spec.files]
    name, material = _request_key(options, env)
    write_verdict(cache, name, material, len(dists), files, spec.variables)


def verdict_key(options: InstallOptions, env: InterpreterInfo) -> tuple[str, str]:
    """(file name, key material) of the verdict for `options` in `env`: what
    commands/recorded_install.py keeps, to store the same verdict without `options`."""
    return _request_key(options, env)


def write_verdict(cache: Cache, name: str, material: str, count: int, files: list[str],
                  variables: dict[str, str | None]) -> None:
    """Store a verdict over `files` as they are now."""
    verdict = {
        "key": material,
        "count": count,
        "stats": [[file, stat_tuple(file)] for file in files],
        "variables": variables,
    }
    write_atomic(cache.bucket("noop") / f"{name}.json", json.dumps(verdict).encode())
