#!/usr/bin/env python3
"""Benchmark wherry, uv and pip side by side (stdlib only).

Run `python3 benchmarks/run.py --help`; benchmarks/README.md explains every operation.

The harness builds its own tool environments under `benchmarks/.work/tools/` (uv and a
current pip from the package index, wherry from this repository), then times each
operation as the median of N runs, every run starting from the same prepared state.
Preparation (deleting caches, creating venvs, warming caches) is never timed.

All three tools use the same index: pip's built-in default, read at run time from the
harness's pip and passed explicitly with each tool's `--index-url`. Each tool runs in a
scrubbed environment: no inherited `PIP_*`, `UV_*` or `WHERRY_*` variables, pip's config
files disabled (`PIP_CONFIG_FILE=/dev/null`), uv's disabled (`UV_NO_CONFIG=1`), and
private XDG directories, so machine-wide settings (extra indexes, find-links) never leak in.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import glob
import json
import os
import platform
import re
import selectors
import shutil
import socket
import socketserver
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
SCENARIO_DIR = BENCH_DIR / "scenarios"
WORK = BENCH_DIR / ".work"
TOOLS_DIR = WORK / "tools"

TOOLS = ("wherry", "uv", "pip")
SCENARIOS = ("small", "medium", "large", "builds")
DEFAULT_SCENARIOS = ("small", "medium", "large")
# Scenarios installed from source: every pinned project is built from its sdist by each
# tool (`--no-binary` per project; build dependencies still come as wheels).
SOURCE_SCENARIOS = ("builds",)
# Operations on a scenario, then the micro-benchmarks (scenario-independent).
SCENARIO_OPS = ("cold", "warm", "noop", "resolve")
EXTRA_OPS = ("resolve-cold",)
MICRO_OPS = ("startup", "list")
DEFAULT_OPS = (*SCENARIO_OPS, *MICRO_OPS)
ALL_OPS = (*SCENARIO_OPS, *EXTRA_OPS, *MICRO_OPS)

OP_TITLES = {
    "cold": "cold install",
    "warm": "warm install",
    "noop": "no-op install",
    "resolve": "resolve only (warm)",
    "resolve-cold": "resolve only (cold)",
    "startup": "--version start-up",
    "list": "pip list (warm venv)",
    "python": "python -c pass (floor)",
}

# The scenario whose installed venv the `list` micro-benchmark reads.
MICRO_SCENARIO = "medium"
# The platform the pinned scenarios are compiled for.
PIN_PYTHON_VERSION = "3.12"
PIN_PLATFORM = "x86_64-manylinux_2_28"
# Variables scrubbed from the inherited environment, besides every PIP_/UV_/WHERRY_ one.
SCRUBBED = (
    "VIRTUAL_ENV", "CONDA_PREFIX", "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP",
    "PYTHONUSERBASE", "PYTHONNOUSERSITE", "PYTHONDONTWRITEBYTECODE", "PYTHONSAFEPATH",
)
TRACEBACK_RE = re.compile(r"^Traceback \(most recent call last\):", re.MULTILINE)
ERROR_RE = re.compile(r"\b(error|failed|fatal)\b", re.IGNORECASE)
RESOLVED_RE = re.compile(r"(?:Resolved|Would install)\s+(\d+)\s+packages?")
PIN_RE = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)")
DRY_RUN_RE = re.compile(r"^\s*\+\s*([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", re.MULTILINE)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- results


@dataclass
class Result:
    scenario: str
    operation: str
    tool: str
    status: str = "ok"  # "ok", "failed" or "skipped"
    error: str = ""
    times: list[float] = field(default_factory=list)
    packages: int | None = None
    linked_fraction: float | None = None
    resolve_check: str = ""
    command: list[str] = field(default_factory=list)
    # The untimed byte-count run (resolve operations): what crossed the counting proxy.
    bytes_down: int | None = None  # upstream to the tool
    bytes_up: int | None = None  # the tool to upstream
    connections: int | None = None  # CONNECT tunnels opened
    bytes_error: str = ""

    @property
    def median(self) -> float | None:
        if self.status != "ok" or not self.times:
            return None
        return statistics.median(self.times)


class CommandFailed(Exception):
    """A tool (or a preparation step) exited non-zero; the message is its first error line."""


@dataclass
class Outcome:
    seconds: float
    returncode: int
    stdout: str
    stderr: str


def first_error_line(stdout: str, stderr: str) -> str:
    """The most telling line of a failed command's output."""
    text = stderr if stderr.strip() else stdout
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return "(no output)"
    if TRACEBACK_RE.search(text):
        return lines[-1][:300]  # the exception line closes a traceback
    for line in lines:
        if ERROR_RE.search(line):
            return line[:300]
    return lines[-1][:300]


# --------------------------------------------------------------------------- environment


def clean_env(work: Path) -> dict[str, str]:
    """The inherited environment minus anything that configures pip, uv or wherry."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PIP_", "UV_", "WHERRY_")) and key not in SCRUBBED
    }
    xdg = work / "xdg"
    for name in ("config", "cache", "data", "state"):
        (xdg / name).mkdir(parents=True, exist_ok=True)
    env.update({
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_NO_INPUT": "1",
        "UV_NO_CONFIG": "1",
        "UV_PYTHON_DOWNLOADS": "never",
        "XDG_CONFIG_HOME": str(xdg / "config"),
        "XDG_CACHE_HOME": str(xdg / "cache"),
        "XDG_DATA_HOME": str(xdg / "data"),
        "XDG_STATE_HOME": str(xdg / "state"),
    })
    return env


class Runner:
    """Runs commands in the scrubbed environment from a neutral, empty directory."""

    def __init__(self, work: Path, timeout: float) -> None:
        self.env = clean_env(work)
        self.cwd = work / "cwd"
        self.cwd.mkdir(parents=True, exist_ok=True)
        self.timeout = timeout

    def run(
        self, cmd: Sequence[str | Path], timeout: float | None = None,
        extra_env: Mapping[str, str] | None = None,
    ) -> Outcome:
        argv = [str(part) for part in cmd]
        env = {**self.env, **extra_env} if extra_env else self.env
        start = time.perf_counter()
        try:
            proc = subprocess.run(
                argv, env=env, cwd=self.cwd, stdin=subprocess.DEVNULL,
                capture_output=True, text=True, errors="replace",
                timeout=timeout or self.timeout,
            )
        except subprocess.TimeoutExpired:
            elapsed = time.perf_counter() - start
            return Outcome(elapsed, -1, "", f"error: timed out after {elapsed:.1f} s")
        except OSError as exc:
            return Outcome(0.0, -1, "", f"error: cannot run {argv[0]}: {exc}")
        elapsed = time.perf_counter() - start
        return Outcome(elapsed, proc.returncode, proc.stdout, proc.stderr)

    def check(self, cmd: Sequence[str | Path], what: str) -> Outcome:
        outcome = self.run(cmd)
        if outcome.returncode != 0:
            raise CommandFailed(f"{what}: {first_error_line(outcome.stdout, outcome.stderr)}")
        return outcome


# --------------------------------------------------------------------------- counting proxy

MAX_REQUEST_HEAD = 64 * 1024
RELAY_CHUNK = 256 * 1024


class CountingProxy:
    """An HTTP CONNECT proxy on 127.0.0.1 that counts the bytes it relays.

    Only `CONNECT host:443` is accepted (anything else gets 405 or 403); the proxy opens a
    direct TCP connection to host:443 and relays both ways without looking inside the TLS
    stream, so the counts are bytes on the wire (TLS records, compressed bodies as sent).
    One thread per tunnel; `bytes_down` counts upstream to client, `bytes_up` the reverse.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.bytes_down = self.bytes_up = self.connections = self.active = 0
        self.refused: list[str] = []
        self.hosts: set[str] = set()  # every CONNECT target, so that output can redact them
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                proxy.tunnel(self.request)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True
            request_queue_size = 128

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port: int = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """Environment for a tool run through the proxy (and nothing bypassing it)."""
        return {"HTTPS_PROXY": self.url, "https_proxy": self.url,
                "NO_PROXY": "", "no_proxy": ""}

    def reset(self) -> None:
        with self.lock:
            self.bytes_down = self.bytes_up = self.connections = 0
            self.refused.clear()

    def settle(self, timeout: float = 10.0) -> None:
        """Wait until every tunnel has closed (the tool has exited; its sockets are gone)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if self.active == 0:
                    return
            time.sleep(0.02)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def tunnel(self, client: socket.socket) -> None:
        head = b""
        client.settimeout(30)
        try:
            while b"\r\n\r\n" not in head:
                chunk = client.recv(4096)
                if not chunk or len(head) > MAX_REQUEST_HEAD:
                    return
                head += chunk
        except OSError:
            return
        head, _, rest = head.partition(b"\r\n\r\n")
        request = head.split(b"\r\n", 1)[0].decode("latin-1").split()
        if len(request) != 3 or request[0] != "CONNECT":
            self.refuse(client, "405 Method Not Allowed", " ".join(request[:1]) or "empty")
            return
        host, _, port = request[1].rpartition(":")
        host = host.strip("[]")
        if port != "443" or not host:
            self.refuse(client, "403 Forbidden", f"CONNECT to port {port or '?'}")
            return
        with self.lock:
            self.hosts.add(host)
        try:
            upstream = socket.create_connection((host, 443), timeout=30)
        except OSError as exc:
            self.refuse(client, "502 Bad Gateway", f"cannot connect upstream: {exc}")
            return
        with self.lock:
            self.connections += 1
            self.active += 1
        try:
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            if rest:
                upstream.sendall(rest)
                self.count(up=len(rest))
            self.relay(client, upstream)
        except OSError:
            pass
        finally:
            upstream.close()
            with self.lock:
                self.active -= 1

    def relay(self, client: socket.socket, upstream: socket.socket) -> None:
        """Copy both ways until either side closes (then the tunnel is done)."""
        client.settimeout(None)
        upstream.settimeout(None)
        with selectors.DefaultSelector() as sel:
            sel.register(client, selectors.EVENT_READ, upstream)
            sel.register(upstream, selectors.EVENT_READ, client)
            while True:
                for key, _ in sel.select(timeout=300):
                    source = key.fileobj
                    assert isinstance(source, socket.socket)
                    target: socket.socket = key.data
                    data = source.recv(RELAY_CHUNK)
                    if not data:
                        return
                    target.sendall(data)
                    if source is upstream:
                        self.count(down=len(data))
                    else:
                        self.count(up=len(data))

    def count(self, down: int = 0, up: int = 0) -> None:
        with self.lock:
            self.bytes_down += down
            self.bytes_up += up

    def refuse(self, client: socket.socket, status: str, why: str) -> None:
        with self.lock:
            self.refused.append(why)
        with contextlib.suppress(OSError):
            client.sendall(f"HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n".encode())


def direct_connect_check(url: str) -> str:
    """'' if this machine opens a TCP connection to the index host's port 443, else why not."""
    host = urllib.parse.urlsplit(url).hostname
    if not host:
        return "the index URL has no host"
    try:
        socket.create_connection((host, 443), timeout=15).close()
    except OSError as exc:
        return f"no direct TCP connection to the index host on 443 ({exc})"
    return ""


# --------------------------------------------------------------------------- interpreters


def python_version(runner: Runner, python: str) -> tuple[int, int] | None:
    out = runner.run([python, "-c", "import sys; print(*sys.version_info[:2])"], timeout=60)
    if out.returncode != 0:
        return None
    try:
        major, minor = out.stdout.split()
        return int(major), int(minor)
    except ValueError:
        return None


def find_python(runner: Runner, requested: str | None) -> str:
    """The target interpreter: --python, else a working python3.12 on PATH or in pyenv."""
    if requested:
        found = shutil.which(requested) or requested
        if python_version(runner, found) is None:
            sys.exit(f"error: --python {requested} does not run")
        return str(Path(found).absolute())
    candidates: list[str] = []
    on_path = shutil.which("python3.12")
    if on_path:
        candidates.append(on_path)
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates += sorted(glob.glob(str(pyenv / "3.12*" / "bin" / "python3.12")), reverse=True)
    for candidate in candidates:
        # pyenv shims exist on PATH even when they refuse to run; ask each one.
        if python_version(runner, candidate) == (3, 12):
            if "shims" in Path(candidate).parts:
                real = runner.run([candidate, "-c", "import sys; print(sys.executable)"])
                candidate = real.stdout.strip() or candidate
            return candidate
    sys.exit("error: no working python3.12 on PATH or under ~/.pyenv/versions; use --python")


# --------------------------------------------------------------------------- tools


@dataclass
class Toolset:
    python: str  # the target interpreter (also the base of every venv the harness makes)
    index_url: str
    venv_maker: str
    uv: Path
    pip_python: Path
    wherry: Path
    versions: dict[str, str] = field(default_factory=dict)
    pip_mode: str = ""


def bin_of(venv: Path, name: str) -> Path:
    return venv / "bin" / name


def read_default_index(runner: Runner, python: str | Path) -> str:
    out = runner.check(
        [python, "-c", "from pip._internal.models.index import PyPI; print(PyPI.simple_url)"],
        "reading pip's default index",
    )
    return out.stdout.strip()


def make_venv_stdlib(runner: Runner, python: str, path: Path) -> None:
    if path.exists():
        shutil.rmtree(path)
    runner.check([python, "-m", "venv", "--without-pip", path], f"creating {path.name}")


def setup_tools(runner: Runner, args: argparse.Namespace, python: str) -> Toolset:
    """Create (or reuse) the uv, pip and wherry tool venvs under .work/tools/."""
    TOOLS_DIR.mkdir(parents=True, exist_ok=True)
    setup_cache = WORK / "cache" / "setup"
    # Bootstrap: the machine's pip (the target interpreter's) installs a current pip and uv
    # from its own default index; from then on the harness pip is the source of truth.
    boot_index = read_default_index(runner, python)
    boot_pip = [python, "-m", "pip", "--disable-pip-version-check"]
    for name, package in (("pip", "pip"), ("uv", "uv")):
        venv = TOOLS_DIR / name
        marker = venv / ".harness-ok"
        if marker.exists() and not args.refresh_tools:
            continue
        log(f"setup: installing {package} into {venv.relative_to(REPO_ROOT)}")
        make_venv_stdlib(runner, python, venv)
        runner.check(
            [*boot_pip, "--python", bin_of(venv, "python"), "install", "--upgrade",
             "--index-url", boot_index, "--cache-dir", setup_cache, package],
            f"installing {package}",
        )
        marker.write_text("ok\n")
    pip_python = bin_of(TOOLS_DIR / "pip", "python")
    index_url = read_default_index(runner, pip_python)
    pip_cmd: list[str | Path] = [pip_python, "-m", "pip", "--disable-pip-version-check"]

    wherry_venv = TOOLS_DIR / "wherry"
    wherry_marker = wherry_venv / ".harness-ok"
    if "wherry" in args.tools and (args.reinstall_wherry or not wherry_marker.exists()):
        log(f"setup: installing wherry from {REPO_ROOT} into {wherry_venv.relative_to(REPO_ROOT)}")
        make_venv_stdlib(runner, python, wherry_venv)
        try:
            runner.check(
                [*pip_cmd, "--python", bin_of(wherry_venv, "python"), "install",
                 "--index-url", index_url, "--cache-dir", setup_cache, REPO_ROOT],
                "installing wherry",
            )
            wherry_marker.write_text(repo_state(runner) + "\n")
        except CommandFailed as exc:
            log(f"setup: {exc}")

    tools = Toolset(
        python=python, index_url=index_url, venv_maker=args.venv_maker,
        uv=bin_of(TOOLS_DIR / "uv", "uv"), pip_python=pip_python,
        wherry=bin_of(wherry_venv, "wherry"),
    )
    probes: dict[str, list[str | Path]] = {
        "python": [python, "--version"],
        "uv": [tools.uv, "--version"],
        "pip": [*pip_cmd, "--version"],
        "wherry": [tools.wherry, "--version"],
    }
    for name, cmd in probes.items():
        out = runner.run(cmd, timeout=60)
        text = (out.stdout or out.stderr).strip()
        if out.returncode != 0:
            text = f"not runnable ({first_error_line(out.stdout, out.stderr)})"
        elif name == "pip":  # "pip X from /long/path (python 3.12)"
            text = " ".join(text.split()[:2])
        tools.versions[name] = text.splitlines()[0] if text else "?"
    # Recorded when wherry was installed (the checkout may have moved on since).
    tools.versions["wherry source"] = (
        wherry_marker.read_text().strip() if wherry_marker.exists() else "not installed"
    )
    pip_version = tools.versions["pip"].split()[1] if " " in tools.versions["pip"] else "0"
    if version_tuple(pip_version) < (22, 3):
        sys.exit(f"error: the harness pip ({pip_version}) predates --python (pip 22.3)")
    tools.pip_mode = (
        f"harness pip {pip_version} in its own venv, pointed at each target venv "
        "with `pip --python VENV/bin/python` (pip re-runs itself under that interpreter)"
    )
    return tools


def repo_state(runner: Runner) -> str:
    """The commit wherry was installed from, and whether its sources had local changes."""
    head = runner.run(["git", "-C", REPO_ROOT, "rev-parse", "--short", "HEAD"], timeout=30)
    if head.returncode != 0:
        return "unknown (not a git checkout)"
    dirty = runner.run(
        ["git", "-C", REPO_ROOT, "diff", "--quiet", "HEAD", "--", "src", "pyproject.toml"],
        timeout=30,
    )
    suffix = " + uncommitted changes in src/" if dirty.returncode == 1 else ""
    return f"commit {head.stdout.strip()}{suffix}"


def version_tuple(text: str) -> tuple[int, ...]:
    parts: list[int] = []
    for piece in text.split("."):
        digits = re.match(r"\d+", piece)
        if not digits:
            break
        parts.append(int(digits.group()))
    return tuple(parts)


def make_venv(runner: Runner, tools: Toolset, path: Path) -> None:
    """A fresh, empty venv for the target interpreter (the same method for every tool)."""
    if path.exists():
        shutil.rmtree(path)
    if tools.venv_maker == "uv":
        runner.check([tools.uv, "venv", "-q", "--python", tools.python, path], "uv venv")
    else:
        make_venv_stdlib(runner, tools.python, path)


def no_binary_args(tool: str, req: Path) -> list[str | Path]:
    """For a source scenario, the flags that make `tool` build every pinned project."""
    if req.stem not in SOURCE_SCENARIOS:
        return []
    names = sorted(read_pins(req))
    if tool == "pip":
        return ["--no-binary", ",".join(names)]
    return [arg for name in names for arg in ("--no-binary", name)]


def install_cmd(tools: Toolset, tool: str, req: Path, venv: Path, cache: Path) -> list[str | Path]:
    py = bin_of(venv, "python")
    no_binary = no_binary_args(tool, req)
    if tool == "uv":
        return [tools.uv, "pip", "install", "-r", req, "--python", py,
                "--cache-dir", cache, "--index-url", tools.index_url, *no_binary]
    if tool == "pip":
        return [tools.pip_python, "-m", "pip", "--python", py, "install", "-r", req,
                "--cache-dir", cache, "--index-url", tools.index_url,
                "--disable-pip-version-check", *no_binary]
    return [tools.wherry, "pip", "install", "-r", req, "--python", py,
            "--cache-dir", cache, "--index-url", tools.index_url, *no_binary]


def resolve_cmd(
    tools: Toolset, tool: str, req_in: Path, venv: Path, cache: Path, out: Path
) -> list[str | Path]:
    py = bin_of(venv, "python")
    if tool == "uv":
        return [tools.uv, "pip", "compile", req_in, "-o", out, "--python", py,
                "--cache-dir", cache, "--index-url", tools.index_url]
    if tool == "pip":
        return [tools.pip_python, "-m", "pip", "--python", py, "install", "--dry-run",
                "--ignore-installed", "--report", out, "-r", req_in,
                "--cache-dir", cache, "--index-url", tools.index_url,
                "--disable-pip-version-check"]
    # wherry has no `compile` yet: a dry-run install into an empty venv resolves the same set.
    return [tools.wherry, "pip", "install", "--dry-run", "-r", req_in, "--python", py,
            "--cache-dir", cache, "--index-url", tools.index_url]


def micro_cmd(tools: Toolset, tool: str, op: str, venv: Path) -> list[str | Path]:
    py = bin_of(venv, "python")
    table: dict[str, list[str | Path]]
    if op == "startup":
        table = {
            "uv": [tools.uv, "--version"],
            "pip": [tools.pip_python, "-m", "pip", "--version"],
            "wherry": [tools.wherry, "--version"],
        }
        return table[tool]
    table = {
        "uv": [tools.uv, "pip", "list", "--python", py],
        "pip": [tools.pip_python, "-m", "pip", "--python", py, "list",
                "--disable-pip-version-check"],
        "wherry": [tools.wherry, "pip", "list", "--python", py],
    }
    return table[tool]


# --------------------------------------------------------------------------- checks


def site_packages(venv: Path) -> Path | None:
    found = sorted(venv.glob("lib/python*/site-packages"))
    return found[0] if found else None


def installed_names(venv: Path) -> set[str]:
    sp = site_packages(venv)
    if sp is None:
        return set()
    names = set()
    for entry in sp.glob("*.dist-info"):
        name = entry.name[: -len(".dist-info")].rsplit("-", 1)[0]
        names.add(canonical(name))
    return names


def pinned_names(req: Path) -> set[str]:
    return set(read_pins(req))


def check_installed(venv: Path, req: Path) -> None:
    missing = pinned_names(req) - installed_names(venv)
    if missing:
        shown = ", ".join(sorted(missing)[:5])
        raise CommandFailed(f"exited 0 but {len(missing)} pinned packages are missing ({shown})")


def linked_fraction(venv: Path) -> float | None:
    """Share of installed package files that are hard links (st_nlink > 1), i.e. from a cache."""
    sp = site_packages(venv)
    if sp is None:
        return None
    total = linked = 0
    for root, dirs, files in os.walk(sp):
        dirs[:] = [d for d in dirs if d != "__pycache__" and not d.endswith(".dist-info")]
        for name in files:
            if not name.endswith(".py"):
                continue
            total += 1
            if os.lstat(os.path.join(root, name)).st_nlink > 1:
                linked += 1
    return linked / total if total else None


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(req: Path) -> dict[str, str]:
    """`name==version` lines of a pinned requirements file, by canonical name."""
    pins = {}
    for line in req.read_text().splitlines():
        match = PIN_RE.match(line)
        if match:
            pins[canonical(match.group(1))] = match.group(2)
    return pins


def resolved_set(tool: str, out: Path, outcome: Outcome) -> dict[str, str] | None:
    """What a resolve-only run chose, from its output file (uv, pip) or its stdout (wherry)."""
    try:
        if tool == "uv" and out.exists():
            return read_pins(out)
        if tool == "pip" and out.exists():
            report = json.loads(out.read_text())
            return {
                canonical(item["metadata"]["name"]): item["metadata"]["version"]
                for item in report.get("install", [])
            }
    except (OSError, ValueError, KeyError, TypeError):
        return None
    chosen = {
        canonical(m.group(1)): m.group(2)
        for m in DRY_RUN_RE.finditer(outcome.stdout + "\n" + outcome.stderr)
    }
    return chosen or None


def compare_with_pins(chosen: dict[str, str], pins: dict[str, str]) -> str:
    if chosen == pins:
        return "same set as the pinned file"
    extra = sorted(f"{n}=={v}" for n, v in chosen.items() if pins.get(n) != v)
    missing = sorted(f"{n}=={v}" for n, v in pins.items() if chosen.get(n) != v)
    return (f"differs from the pinned file: +{len(extra)} ({', '.join(extra[:4])}) "
            f"-{len(missing)} ({', '.join(missing[:4])})")


# --------------------------------------------------------------------------- the benchmark


@dataclass
class Cell:
    """One (scenario, operation, tool) being measured: how to prepare a run and what to time."""

    result: Result
    prepare: Callable[[], None]
    command: list[str | Path]
    after: Callable[[Outcome], None] = lambda _outcome: None


class Bench:
    def __init__(self, runner: Runner, tools: Toolset, args: argparse.Namespace) -> None:
        self.runner = runner
        self.tools = tools
        self.args = args
        self.results: list[Result] = []
        self.warm: set[tuple[str, str]] = set()  # (tool, scenario) with a warmed cache
        self.noop_ready: set[tuple[str, str]] = set()
        self.proxy: CountingProxy | None = None
        self.proxy_error: str | None = None  # None: not tried yet

    # paths
    def cache(self, tool: str, scenario: str) -> Path:
        return WORK / "cache" / tool / scenario

    def venv(self, tool: str, scenario: str, op: str) -> Path:
        return WORK / "venvs" / f"{tool}-{scenario}-{op}"

    # state helpers (never timed)
    def ensure_warm(self, tool: str, scenario: str) -> None:
        if (tool, scenario) in self.warm:
            return
        req = SCENARIO_DIR / f"{scenario}.txt"
        venv = self.venv(tool, scenario, "warmup")
        make_venv(self.runner, self.tools, venv)
        log(f"  prepare: warming {tool}'s cache for {scenario}")
        self.runner.check(
            install_cmd(self.tools, tool, req, venv, self.cache(tool, scenario)),
            "warming the cache",
        )
        check_installed(venv, req)
        shutil.rmtree(venv)
        self.warm.add((tool, scenario))

    def ensure_installed(self, tool: str, scenario: str, venv: Path) -> None:
        if (tool, scenario) in self.noop_ready and venv.exists():
            return
        req = SCENARIO_DIR / f"{scenario}.txt"
        self.ensure_warm(tool, scenario)
        make_venv(self.runner, self.tools, venv)
        self.runner.check(
            install_cmd(self.tools, tool, req, venv, self.cache(tool, scenario)),
            "installing into the no-op venv",
        )
        check_installed(venv, req)
        self.noop_ready.add((tool, scenario))

    def wipe_cache(self, tool: str, scenario: str) -> None:
        cache = self.cache(tool, scenario)
        if cache.exists():
            shutil.rmtree(cache)
        self.warm.discard((tool, scenario))

    # cells
    def scenario_cell(self, scenario: str, op: str, tool: str) -> Cell:
        req = SCENARIO_DIR / f"{scenario}.txt"
        req_in = SCENARIO_DIR / f"{scenario}.in"
        cache = self.cache(tool, scenario)
        venv = self.venv(tool, scenario, op)
        result = Result(scenario, op, tool)

        def after_install(outcome: Outcome) -> None:
            check_installed(venv, req)
            result.packages = len(installed_names(venv))
            if op in ("cold", "warm"):
                self.warm.add((tool, scenario))
            if op == "warm":
                result.linked_fraction = linked_fraction(venv)

        if op in ("cold", "warm"):
            def prepare() -> None:
                if op == "cold":
                    self.wipe_cache(tool, scenario)
                else:
                    self.ensure_warm(tool, scenario)
                make_venv(self.runner, self.tools, venv)

            return Cell(result, prepare, install_cmd(self.tools, tool, req, venv, cache),
                        after_install)
        if op == "noop":
            return Cell(result, lambda: self.ensure_installed(tool, scenario, venv),
                        install_cmd(self.tools, tool, req, venv, cache), after_install)
        out = WORK / "out" / f"{tool}-{scenario}-{op}.{'json' if tool == 'pip' else 'txt'}"

        def prepare_resolve() -> None:
            if op == "resolve-cold":
                self.wipe_cache(tool, scenario)
            else:
                self.ensure_warm(tool, scenario)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.unlink(missing_ok=True)
            make_venv(self.runner, self.tools, venv)

        def after_resolve(outcome: Outcome) -> None:
            chosen = resolved_set(tool, out, outcome)
            if chosen is None:
                match = RESOLVED_RE.search(outcome.stderr + outcome.stdout)
                result.packages = int(match.group(1)) if match else None
                result.resolve_check = "resolution not readable from the output"
            else:
                result.packages = len(chosen)
                result.resolve_check = compare_with_pins(chosen, read_pins(req))

        return Cell(result, prepare_resolve, resolve_cmd(self.tools, tool, req_in, venv, cache,
                                                        out), after_resolve)

    def micro_cell(self, op: str, tool: str) -> Cell:
        venv = WORK / "venvs" / "micro-list"
        result = Result("micro", op, tool)

        def prepare() -> None:
            if op == "list":
                self.ensure_micro_venv(venv)

        return Cell(result, prepare, micro_cmd(self.tools, tool, op, venv))

    def ensure_micro_venv(self, venv: Path) -> None:
        """A venv with the medium scenario installed (by uv, untimed), shared by all tools."""
        if (venv / ".harness-ok").exists():
            return
        make_venv(self.runner, self.tools, venv)
        req = SCENARIO_DIR / f"{MICRO_SCENARIO}.txt"
        self.runner.check(
            install_cmd(self.tools, "uv", req, venv, self.cache("uv", "micro")),
            "preparing the pip list venv",
        )
        (venv / ".harness-ok").write_text("ok\n")

    def measure(self, cells: list[Cell], runs: int, warmup: bool) -> None:
        """Time every cell `runs` times, interleaving tools run by run (fairer on a busy box)."""
        for cell in cells:
            cell.result.command = [self.redact(str(p)) for p in cell.command]
            self.results.append(cell.result)
            if cell.result.tool == "wherry" and not self.wherry_ok():
                cell.result.status = "failed"
                cell.result.error = f"wherry is not runnable: {self.tools.versions['wherry']}"
        for run in range(-1 if warmup else 0, runs):
            for cell in cells:
                res = cell.result
                if res.status != "ok":
                    continue
                label = f"{res.scenario:>6} {res.operation:<12} {res.tool:<6}"
                try:
                    cell.prepare()
                    if self.args.pause > 0:
                        time.sleep(self.args.pause)
                    outcome = self.runner.run(cell.command)
                    if outcome.returncode != 0:
                        raise CommandFailed(first_error_line(outcome.stdout, outcome.stderr))
                    cell.after(outcome)
                except CommandFailed as exc:
                    res.status, res.error = "failed", self.redact(str(exc))
                    log(f"{label} FAILED: {res.error}")
                    continue
                except OSError as exc:
                    res.status, res.error = "failed", f"harness: {exc}"
                    log(f"{label} FAILED: {exc}")
                    continue
                if run < 0:
                    log(f"{label} warm-up {outcome.seconds:.3f}s")
                    continue
                res.times.append(outcome.seconds)
                log(f"{label} run {run + 1}/{runs}: {outcome.seconds:.3f}s")
            self.save()

    def count_bytes(self, cells: list[Cell]) -> None:
        """One extra, untimed run of each cell through the counting proxy: bytes per run.

        Timed runs never go through the proxy, so its relaying never enters the times.
        """
        if self.proxy_error is None:
            self.proxy_error = direct_connect_check(self.tools.index_url)
            if self.proxy_error:
                log(f"byte counting unavailable: {self.redact(self.proxy_error)}")
            else:
                self.proxy = CountingProxy()
                log(f"byte counting: CONNECT proxy on 127.0.0.1:{self.proxy.port}, "
                    "direct TCP to the index host on 443 works")
        for cell in cells:
            res = cell.result
            if res.status != "ok":
                continue
            if self.proxy is None:
                res.bytes_error = self.redact(self.proxy_error)
                continue
            label = f"{res.scenario:>6} {res.operation:<12} {res.tool:<6}"
            try:
                cell.prepare()
                self.proxy.reset()
                outcome = self.runner.run(cell.command, extra_env=self.proxy.env())
                self.proxy.settle()
                if outcome.returncode != 0:
                    raise CommandFailed(first_error_line(outcome.stdout, outcome.stderr))
            except (CommandFailed, OSError) as exc:
                res.bytes_error = self.redact(f"byte-count run failed: {exc}")
                log(f"{label} bytes FAILED: {res.bytes_error}")
                continue
            with self.proxy.lock:
                res.bytes_down, res.bytes_up = self.proxy.bytes_down, self.proxy.bytes_up
                res.connections = self.proxy.connections
                refused = list(self.proxy.refused)
            if refused:
                res.bytes_error = self.redact(
                    f"the proxy refused {len(refused)} request(s): {refused[0]}")
            log(f"{label} bytes: {fmt_bytes(res.bytes_down)} down, "
                f"{fmt_bytes(res.bytes_up)} up, {res.connections} connections "
                f"({outcome.seconds:.3f}s through the proxy, untimed)")
        self.save()

    def close(self) -> None:
        if self.proxy is not None:
            self.proxy.close()

    def redact(self, text: str) -> str:
        """Keep the index's address out of everything the harness writes or prints."""
        url = self.tools.index_url
        host = urllib.parse.urlsplit(url).netloc
        text = text.replace(url.rstrip("/"), "<index-url>")
        text = text.replace(host, "<index-host>") if host else text
        if self.proxy is not None:  # the file hosts the tools reached through the proxy
            with self.proxy.lock:
                hosts = sorted(self.proxy.hosts, key=len, reverse=True)
            for other in hosts:
                text = text.replace(other, "<host>")
        return text

    def wherry_ok(self) -> bool:
        return not self.tools.versions.get("wherry", "").startswith("not runnable")

    def save(self) -> None:
        if self.args.json:
            write_json(Path(self.args.json), self)


# --------------------------------------------------------------------------- reporting


def machine_info() -> dict[str, str]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = "?"
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": memory,
        "os": platform.platform(),
        "work_filesystem": filesystem_of(WORK),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def filesystem_of(path: Path) -> str:
    """The mount type holding `path` (from /proc/mounts: the longest matching mount point)."""
    best, fstype, device = "", "?", "?"
    target = str(path.resolve())
    try:
        for line in Path("/proc/mounts").read_text().splitlines():
            parts = line.split()
            if len(parts) < 3:
                continue
            mount = parts[1].replace("\\040", " ")
            inside = target == mount or target.startswith(mount.rstrip("/") + "/")
            if inside and len(mount) > len(best):
                best, fstype, device = mount, parts[2], parts[0]
    except OSError:
        pass
    return f"{fstype} ({device} on {best})" if best else fstype


def write_json(path: Path, bench: Bench) -> None:
    data = {
        "machine": machine_info(),
        "python": bench.tools.python,
        "versions": bench.tools.versions,
        "venv_maker": bench.tools.venv_maker,
        "pip_mode": bench.tools.pip_mode,
        "runs": bench.args.runs,
        "micro_runs": bench.args.micro_runs,
        "results": [{**asdict(r), "median": r.median} for r in bench.results],
    }
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(path)


def fmt_seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def fmt_ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "-"
    return f"{a / b:.2f}x"


def fmt_bytes(value: int | None) -> str:
    if value is None:
        return "-"
    return f"{value / 1e6:.1f} MB" if value >= 1e5 else f"{value / 1e3:.0f} kB"


def bytes_text(result: Result | None) -> str:
    if result is None:
        return "-"
    if result.bytes_down is None:
        return "FAILED" if result.bytes_error else "-"
    return fmt_bytes(result.bytes_down)


def bytes_ratio(a: Result | None, b: Result | None) -> str:
    if a is None or b is None or a.bytes_down is None or not b.bytes_down:
        return "-"
    return f"{a.bytes_down / b.bytes_down:.2f}x"


def cell_text(result: Result | None) -> str:
    if result is None:
        return "-"
    if result.status == "failed":
        return "FAILED"
    return fmt_seconds(result.median)


def render_tables(bench: Bench, markdown: bool) -> str:
    """One table per scenario (and one for the micro-benchmarks), medians and ratios."""
    lines: list[str] = []
    by_key = {(r.scenario, r.operation, r.tool): r for r in bench.results}
    groups = [s for s in bench.args.scenarios if any(r.scenario == s for r in bench.results)]
    if any(r.scenario == "micro" for r in bench.results):
        groups.append("micro")
    for group in groups:
        ops = [op for op in ALL_OPS if any(
            r.scenario == group and r.operation == op for r in bench.results)]
        if group == "micro" and any(r.operation == "python" for r in bench.results):
            ops.append("python")
        if group == "micro":
            title = "micro-benchmarks"
        else:
            pins = len(pinned_names(SCENARIO_DIR / f"{group}.txt"))
            title = f"scenario {group} ({pins} pinned packages)"
        header = ["operation", "wherry", "uv", "pip", "wherry/uv", "wherry/pip"]
        rows: list[list[str]] = []
        notes: list[str] = []
        for op in ops:
            if op == "python":
                base = by_key.get(("micro", "python", "python"))
                rows.append([OP_TITLES[op], cell_text(base), "", "", "", ""])
                continue
            res = {tool: by_key.get((group, op, tool)) for tool in TOOLS}
            med = {tool: (r.median if r else None) for tool, r in res.items()}
            rows.append([
                OP_TITLES[op], cell_text(res["wherry"]), cell_text(res["uv"]),
                cell_text(res["pip"]), fmt_ratio(med["wherry"], med["uv"]),
                fmt_ratio(med["wherry"], med["pip"]),
            ])
            for tool, r in res.items():
                if r is not None and r.status == "failed":
                    notes.append(f"{tool} {OP_TITLES[op]}: {r.error}")
                if r is not None and r.operation.startswith("resolve") and r.status == "ok":
                    notes.append(f"{tool} {OP_TITLES[op]}: {r.packages} packages, "
                                 f"{r.resolve_check}")
                if r is not None and r.status == "ok" and len(r.times) > 1:
                    low, high = min(r.times), max(r.times)
                    if high > 2 * low and high - low > 0.5:
                        notes.append(f"{tool} {OP_TITLES[op]}: noisy, runs ranged "
                                     f"{fmt_seconds(low)} to {fmt_seconds(high)}")
                if r is not None and r.linked_fraction is not None:
                    notes.append(f"{tool} {OP_TITLES[op]}: {r.linked_fraction:.0%} of installed "
                                 ".py files are hard links into the cache")
        lines.append(f"### {title}" if markdown else f"== {title}")
        lines.append("")
        lines += render_table(header, rows, markdown)
        if notes:
            lines.append("")
            lines += [f"- {note}" if markdown else f"  * {note}" for note in notes]
        lines.append("")
        lines += render_bytes(bench, group, ops, markdown)
    return "\n".join(lines)


def render_table(header: list[str], rows: list[list[str]], markdown: bool) -> list[str]:
    if markdown:
        return ["| " + " | ".join(header) + " |",
                "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|",
                *["| " + " | ".join(row) + " |" for row in rows]]
    lines = []
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        cells = [row[0].ljust(widths[0])]
        cells += [row[i].rjust(widths[i]) for i in range(1, len(row))]
        lines.append("  ".join(cells).rstrip())
    return lines


def render_bytes(bench: Bench, group: str, ops: list[str], markdown: bool) -> list[str]:
    """Bytes downloaded per resolution (the untimed runs through the counting proxy)."""
    by_key = {(r.scenario, r.operation, r.tool): r for r in bench.results}
    counted = [op for op in ops if any(
        r.scenario == group and r.operation == op
        and (r.bytes_down is not None or r.bytes_error) for r in bench.results)]
    if not counted:
        return []
    header = ["bytes downloaded", "wherry", "uv", "pip", "wherry/uv", "wherry/pip"]
    rows: list[list[str]] = []
    notes: list[str] = []
    for op in counted:
        res = {tool: by_key.get((group, op, tool)) for tool in TOOLS}
        rows.append([OP_TITLES[op], bytes_text(res["wherry"]), bytes_text(res["uv"]),
                     bytes_text(res["pip"]), bytes_ratio(res["wherry"], res["uv"]),
                     bytes_ratio(res["wherry"], res["pip"])])
        for tool, r in res.items():
            if r is None:
                continue
            if r.bytes_error:
                notes.append(f"{tool} {OP_TITLES[op]}: {r.bytes_error}")
            if r.bytes_down is not None:
                notes.append(f"{tool} {OP_TITLES[op]}: {r.connections} TLS connections, "
                             f"{fmt_bytes(r.bytes_up)} sent")
    title = "bytes downloaded per resolution (one untimed run through a counting proxy)"
    lines = [f"{title}:" if not markdown else f"#### {title}", ""]
    lines += render_table(header, rows, markdown)
    if notes:
        lines.append("")
        lines += [f"- {note}" if markdown else f"  * {note}" for note in notes]
    lines.append("")
    return lines


# --------------------------------------------------------------------------- scenarios


def compile_scenarios(runner: Runner, tools: Toolset, scenarios: Sequence[str]) -> None:
    """Re-pin scenarios/NAME.txt from NAME.in with uv, for CPython 3.12 on manylinux x86_64."""
    for name in scenarios:
        req_in = SCENARIO_DIR / f"{name}.in"
        out = SCENARIO_DIR / f"{name}.txt"
        tmp = WORK / "out" / f"compile-{name}.txt"
        tmp.parent.mkdir(parents=True, exist_ok=True)
        runner.check(
            [tools.uv, "pip", "compile", req_in, "-o", tmp, "--no-header", "--no-annotate",
             "--python", tools.python, "--python-version", PIN_PYTHON_VERSION,
             "--python-platform", PIN_PLATFORM, "--only-binary", ":all:",
             "--cache-dir", WORK / "cache" / "setup-uv", "--index-url", tools.index_url],
            f"compiling {name}",
        )
        pins = tmp.read_text()
        header = (
            f"# {name}: {pins.count('==')} pins compiled from {name}.in by "
            f"{tools.versions['uv']}\n"
            f"# for CPython {PIN_PYTHON_VERSION} on {PIN_PLATFORM}, wheels only.\n"
            "# Regenerate with: python3 benchmarks/run.py --compile-scenarios\n"
        )
        out.write_text(header + pins)
        log(f"compiled {out.relative_to(REPO_ROOT)}: {pins.count('==')} pins")
        # The resolve-only benchmark resolves NAME.in for the real interpreter, sdists
        # allowed; it should land on the same set, or the tools are not doing the same work.
        free = WORK / "out" / f"compile-{name}-free.txt"
        runner.check(
            [tools.uv, "pip", "compile", req_in, "-o", free, "--no-header", "--no-annotate",
             "--python", tools.python, "--cache-dir", WORK / "cache" / "setup-uv",
             "--index-url", tools.index_url],
            f"compiling {name} without platform restrictions",
        )
        verdict = compare_with_pins(read_pins(free), read_pins(out))
        log(f"  unrestricted resolution of {name}.in: {verdict}")


# --------------------------------------------------------------------------- main


def csv_choice(allowed: Sequence[str]) -> Callable[[str], list[str]]:
    def parse(text: str) -> list[str]:
        values = [v.strip() for v in text.split(",") if v.strip()]
        bad = [v for v in values if v not in allowed]
        if bad:
            raise argparse.ArgumentTypeError(
                f"unknown {', '.join(bad)} (choose from {', '.join(allowed)})")
        return values
    return parse


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark wherry, uv and pip side by side (see benchmarks/README.md).")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per cell (median; 5)")
    parser.add_argument("--micro-runs", type=int, default=20,
                        help="timed runs per micro-benchmark (20)")
    parser.add_argument("--tools", type=csv_choice(TOOLS), default=list(TOOLS),
                        help="comma-separated subset of wherry,uv,pip")
    parser.add_argument("--scenarios", type=csv_choice(SCENARIOS),
                        default=list(DEFAULT_SCENARIOS),
                        help="comma-separated subset of small,medium,large,builds "
                             "(default: small,medium,large; `builds` installs from sdists)")
    parser.add_argument("--operations", type=csv_choice(ALL_OPS), default=list(DEFAULT_OPS),
                        help=f"comma-separated subset of {','.join(ALL_OPS)} "
                             f"(default: {','.join(DEFAULT_OPS)})")
    parser.add_argument("--python", help="target interpreter (default: python3.12 on PATH "
                                         "or under ~/.pyenv/versions)")
    parser.add_argument("--pause", type=float, default=0.0, metavar="SECONDS",
                        help="sleep this long before every timed command (after its preparation); "
                        "a network path that throttles bursts of new connections otherwise "
                        "adds its stalls to both tools' medians")
    parser.add_argument("--json", metavar="FILE", help="write raw numbers to FILE")
    parser.add_argument("--markdown", action="store_true", help="print tables as Markdown")
    parser.add_argument("--venv-maker", choices=("venv", "uv"), default="venv",
                        help="how fresh venvs are made (untimed; same for every tool): "
                             "`python -m venv --without-pip` (default) or `uv venv`")
    parser.add_argument("--timeout", type=float, default=1800,
                        help="seconds before one command counts as failed (1800)")
    parser.add_argument("--no-reinstall-wherry", dest="reinstall_wherry", action="store_false",
                        help="reuse the wherry tool venv instead of reinstalling from the repo")
    parser.add_argument("--refresh-tools", action="store_true",
                        help="reinstall the uv and pip tool venvs from the index")
    parser.add_argument("--no-warmup", dest="warmup", action="store_false",
                        help="skip the untimed warm-up run of the micro-benchmarks")
    parser.add_argument("--no-bytes", dest="bytes", action="store_false",
                        help="skip the untimed byte-count run of each resolve operation "
                             "(through a counting CONNECT proxy on 127.0.0.1)")
    parser.add_argument("--compile-scenarios", action="store_true",
                        help="re-pin scenarios/*.txt from *.in with the harness uv, then exit")
    parser.add_argument("--setup-only", action="store_true",
                        help="create the tool venvs, print versions, then exit")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.micro_runs < 1:
        parser.error("--runs and --micro-runs must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    WORK.mkdir(parents=True, exist_ok=True)
    runner = Runner(WORK, args.timeout)
    python = find_python(runner, args.python)
    tools = setup_tools(runner, args, python)
    info = machine_info()
    log(f"target python: {python} ({tools.versions['python']})")
    for name in ("wherry", "wherry source", "uv", "pip"):
        log(f"{name}: {tools.versions[name]}")
    log(f"machine: {info['cpu']}, {info['cores']} cores; work dir on {info['work_filesystem']}")
    if args.compile_scenarios:
        compile_scenarios(runner, tools, args.scenarios)
        return 0
    if args.setup_only:
        return 0

    bench = Bench(runner, tools, args)
    tool_order = [t for t in TOOLS if t in args.tools]
    for scenario in args.scenarios:
        for op in [op for op in (*SCENARIO_OPS, *EXTRA_OPS) if op in args.operations]:
            log(f"-- {scenario}: {OP_TITLES[op]}")
            cells = [bench.scenario_cell(scenario, op, tool) for tool in tool_order]
            bench.measure(cells, args.runs, warmup=False)
            if op.startswith("resolve") and args.bytes:
                bench.count_bytes(cells)
    micro_ops = [op for op in MICRO_OPS if op in args.operations]
    if micro_ops:
        for op in micro_ops:
            log(f"-- micro: {OP_TITLES[op]}")
            bench.measure([bench.micro_cell(op, tool) for tool in tool_order],
                          args.micro_runs, warmup=args.warmup)
        # The floor every Python tool pays: starting the interpreter wherry runs on.
        floor_python = bin_of(TOOLS_DIR / "wherry", "python")
        if not floor_python.exists():
            floor_python = Path(python)
        base = Cell(Result("micro", "python", "python"), lambda: None,
                    [floor_python, "-c", "pass"])
        bench.measure([base], args.micro_runs, warmup=args.warmup)
    bench.close()
    bench.save()
    print()
    print(f"medians of {args.runs} runs ({args.micro_runs} for micro-benchmarks); "
          f"ratios > 1 mean wherry is slower")
    print(render_tables(bench, args.markdown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
