"""Runs inside the *target* interpreter and prints what wherry needs to know as JSON.

Stdlib only, and it must run on Python 3.8+: do not use newer syntax here.
wherry runs it as `python -B -c <this source>` with the empty first `sys.path` entry
removed: not `-I`, because pip honours PYTHONPATH and the user site when it imports
`_manylinux`, and `site` must build the real `sys.path`; not a script path, because the
script's folder would shadow modules. Its answer is a pure function of files and
variables that `info.py` can validate with `stat`, which is what makes caching it safe.
"""
import json
import os
import platform
import struct
import sys
import sysconfig


def _glibc_version():
    try:
        value = os.confstr("CS_GNU_LIBC_VERSION")
    except (AttributeError, OSError, ValueError):
        return None
    if not value:
        return None
    try:
        _, version = value.split()
        major, minor = version.split(".")[:2]
        return [int(major), int(minor)]
    except ValueError:
        return None


def _musl_version():
    # The dynamic loader named in the executable's PT_INTERP is musl's libc; running it
    # prints "Version 1.2.3" on stderr.
    try:
        import re
        import subprocess

        with open(sys.executable, "rb") as handle:
            head = handle.read(4096)
        match = re.search(rb"/lib/ld-musl-[^\x00]+", head)
        if not match:
            return None
        proc = subprocess.run(
            [match.group(0).decode()], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL
        )
        found = re.search(rb"Version (\d+)\.(\d+)", proc.stderr)
        if not found:
            return None
        return [int(found.group(1)), int(found.group(2))]
    except Exception:
        return None


def _user_site():
    # Only added to sys.path when it exists, so its later creation must be noticed.
    try:
        import site

        if site.ENABLE_USER_SITE:
            return site.getusersitepackages()
    except Exception:
        pass
    return None


def _loaded_libraries():
    # The C library and loader decide the glibc answer; an upgrade replaces them.
    found = []
    try:
        with open("/proc/self/maps") as handle:
            for line in handle:
                path = line.rsplit(None, 1)[-1] if "/" in line else ""
                name = os.path.basename(path)
                if (name.startswith(("libc.so", "libc-", "ld-linux", "ld-musl"))
                        and path not in found):
                    found.append(path)
    except Exception:
        pass
    return found


def _arch():
    machine = platform.machine().lower()
    bits = struct.calcsize("P") * 8
    if bits == 32:
        # A 32-bit interpreter on a 64-bit kernel, as packaging does.
        if machine in ("x86_64", "amd64"):
            return "i686"
        if machine in ("aarch64", "arm64"):
            return "armv8l"
    return machine


def _manylinux_answers(arch, glibc):
    """PEP 600: ask `_manylinux.manylinux_compatible(2, minor, arch)` for every minor.

    None means "no opinion" (no hook or the hook returned None); pip then falls back to
    the legacy attributes and finally to the glibc version check.
    """
    result = {"found": False, "origin": None, "per_minor": {}, "legacy": {}}
    try:
        import _manylinux  # noqa: F401
    except ImportError:
        return result
    except Exception:
        return result
    result["found"] = True
    result["origin"] = getattr(_manylinux, "__file__", None)
    if glibc is None:
        return result
    hook = getattr(_manylinux, "manylinux_compatible", None)
    if hook is not None:
        for minor in range(glibc[1], 4, -1):
            try:
                answer = hook(2, minor, arch)
            except Exception:
                answer = None
            result["per_minor"][str(minor)] = None if answer is None else bool(answer)
    for name in ("manylinux1_compatible", "manylinux2010_compatible",
                 "manylinux2014_compatible"):
        if hasattr(_manylinux, name):
            try:
                result["legacy"][name] = bool(getattr(_manylinux, name))
            except Exception:
                pass
    return result


def _abis():
    version = sys.version_info
    nodot = "%d%d" % version[:2]
    config = sysconfig.get_config_vars()
    debug = "d" if config.get("Py_DEBUG") or hasattr(sys, "gettotalrefcount") else ""
    threading = "t" if config.get("Py_GIL_DISABLED") else ""
    abis = []
    if sys.implementation.name == "cpython":
        pymalloc = "m" if version < (3, 8) and config.get("WITH_PYMALLOC", 1) else ""
        abis.append("cp" + nodot + threading + debug + pymalloc)
        if debug:
            abis.append("cp" + nodot + threading)
    soabi = config.get("SOABI")
    return abis, soabi


def _scheme_paths(prefix):
    names = ("purelib", "platlib", "scripts", "data", "include")
    vars_ = {"base": prefix, "platbase": prefix, "installed_base": prefix,
             "installed_platbase": prefix}
    scheme = "venv" if "venv" in sysconfig.get_scheme_names() else None
    if scheme is None:
        scheme = "nt" if os.name == "nt" else "posix_prefix"
    paths = sysconfig.get_paths(scheme=scheme, vars=vars_)
    return {name: paths[name] for name in names}


def _markers():
    implementation = sys.implementation
    info = implementation.version
    impl_version = "%d.%d.%d" % (info.major, info.minor, info.micro)
    if info.releaselevel != "final":
        impl_version += info.releaselevel[0] + str(info.serial)
    return {
        "implementation_name": implementation.name,
        "implementation_version": impl_version,
        "os_name": os.name,
        "platform_machine": platform.machine(),
        "platform_python_implementation": platform.python_implementation(),
        "platform_release": platform.release(),
        "platform_system": platform.system(),
        "platform_version": platform.version(),
        "python_full_version": platform.python_version().rstrip("+"),
        "python_version": ".".join(platform.python_version_tuple()[:2]),
        "sys_platform": sys.platform,
    }


def main():
    glibc = _glibc_version() if sys.platform.startswith("linux") else None
    musl = _musl_version() if sys.platform.startswith("linux") and glibc is None else None
    arch = _arch()
    abis, soabi = _abis()
    config = sysconfig.get_config_vars()
    prefix = sys.prefix
    base_scheme = _scheme_paths(prefix)
    venv_scheme = {k: os.path.relpath(v, prefix) for k, v in _scheme_paths(prefix).items()}
    sitecustomize = None
    try:
        import importlib.util

        spec = importlib.util.find_spec("sitecustomize")
        sitecustomize = spec.origin if spec is not None else None
    except Exception:
        pass
    info = {
        "probe_version": 2,
        "executable": sys.executable,
        "base_executable": getattr(sys, "_base_executable", sys.executable),
        "prefix": prefix,
        "base_prefix": sys.base_prefix,
        "base_exec_prefix": sys.base_exec_prefix,
        "version": list(sys.version_info[:3]),
        "releaselevel": sys.version_info.releaselevel,
        "serial": sys.version_info.serial,
        "implementation": sys.implementation.name,
        "cache_tag": sys.implementation.cache_tag,
        "markers": _markers(),
        "sys_path": [p for p in sys.path if p],
        "scheme": base_scheme,
        "venv_scheme": venv_scheme,
        "stdlib": sysconfig.get_paths()["stdlib"],
        "os": sys.platform,
        "sysconfig_platform": sysconfig.get_platform(),
        "arch": arch,
        "glibc": glibc,
        "musl": musl,
        "pointer_size": struct.calcsize("P") * 8,
        "abis": abis,
        "soabi": soabi,
        "ext_suffix": config.get("EXT_SUFFIX"),
        "gil_disabled": bool(config.get("Py_GIL_DISABLED")),
        "debug": bool(config.get("Py_DEBUG")),
        "manylinux": _manylinux_answers(arch, glibc),
        "sitecustomize": sitecustomize,
        "user_site": _user_site(),
        "libraries": _loaded_libraries(),
    }
    sys.stdout.write(json.dumps(info))


if __name__ == "__main__":
    main()
