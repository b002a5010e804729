#!/usr/bin/env python3
"""A hard backtracking case, resolved by wherry, uv and pip side by side.

Two packages with many versions that conflict at the top: `a` version i depends on
`b>=i`, and `b` version j depends on `a<=j-GAP`. The newest `a` and `b` never work
together; only `a<=VERSIONS-GAP` does, and a resolver has to learn that through the top
GAP versions of both. The universe is generated as real wheels (tests/support/packages.py)
and served by the project's loopback test index (tests/support/index_server.py), which
answers each request after `--latency` seconds (default 50 ms, a distant index's round
trip; 0 measures the solvers alone). Like the index reachable here it serves no PEP 658
metadata files unless `--metadata-files` is given, so metadata comes from range requests
(wherry, uv) or whole wheels (pip).

Each tool resolves `a b` from a fresh cache (`install --dry-run`; pip with `--report`),
once per run, median of `--runs`. It uses the tool venvs that `run.py` builds (run
`python3 benchmarks/run.py --setup-only` first). pip gets `--timeout` seconds per run.

    python3 benchmarks/backtracking.py [--versions 200] [--gap 100] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent))
sys.path.insert(0, str(BENCH_DIR))

from run import TOOLS_DIR, WORK, Runner, bin_of, find_python  # noqa: E402

from tests.support.index_server import IndexServer  # noqa: E402
from tests.support.packages import build_wheel  # noqa: E402


def make_universe(root: Path, versions: int, gap: int) -> None:
    for i in range(1, versions + 1):
        build_wheel(root, "a", str(i), requires=[f"b>={i}"])
        build_wheel(root, "b", str(i), requires=[f"a<={i - gap}"])


def commands(tool: str, index_url: str, venv: Path, cache: Path, out: Path,
             wherry: Path) -> list[str | Path]:
    py = bin_of(venv, "python")
    if tool == "wherry":
        return [wherry, "pip", "install", "--dry-run", "a", "b",
                "--python", py, "--cache-dir", cache, "--index-url", index_url]
    if tool == "uv":
        return [bin_of(TOOLS_DIR / "uv", "uv"), "pip", "install", "--dry-run", "a", "b",
                "--python", py, "--cache-dir", cache, "--index-url", index_url]
    return [bin_of(TOOLS_DIR / "pip", "python"), "-m", "pip", "--python", py, "install",
            "--dry-run", "--ignore-installed", "--report", out, "a", "b", "--cache-dir", cache,
            "--index-url", index_url, "--disable-pip-version-check"]


def chosen(tool: str, output: str, report: Path) -> dict[str, str]:
    """The versions of a and b the tool picked (pip: from its --report JSON)."""
    if tool == "pip":
        data = json.loads(report.read_text())
        return {item["metadata"]["name"]: item["metadata"]["version"]
                for item in data["install"]}
    return dict(re.findall(r"\b([ab])==(\d+)", output))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=200, help="versions of a and b (200)")
    parser.add_argument("--gap", type=int, default=100,
                        help="how many top versions conflict (100)")
    parser.add_argument("--runs", type=int, default=3, help="runs per tool (3)")
    parser.add_argument("--tools", default="wherry,uv,pip", help="comma-separated subset")
    parser.add_argument("--timeout", type=float, default=900,
                        help="seconds before a run counts as failed (900)")
    parser.add_argument("--python", help="target interpreter (as run.py)")
    parser.add_argument("--latency", type=float, default=0.05,
                        help="seconds the index waits before each answer (0.05)")
    parser.add_argument("--wherry", type=Path, default=bin_of(TOOLS_DIR / "wherry", "wherry"),
                        help="the wherry to run (default: run.py's tool venv)")
    parser.add_argument("--metadata-files", action="store_true",
                        help="serve PEP 658 metadata files")
    args = parser.parse_args()

    runner = Runner(WORK, args.timeout)
    python = find_python(runner, args.python)
    scratch = Path(tempfile.mkdtemp(prefix="wherry-backtrack-"))
    try:
        files = scratch / "files"
        files.mkdir()
        make_universe(files, args.versions, args.gap)
        venv = scratch / "venv"
        runner.check([python, "-m", "venv", "--without-pip", venv], "creating the venv")
        server = IndexServer(files, metadata_files=args.metadata_files,
                             latency=args.latency).start()
        try:
            print(f"a, b: {args.versions} versions each, top {args.gap} conflicting; "
                  f"expected answer a=={args.versions - args.gap} b=={args.versions}; "
                  f"latency {args.latency * 1000:.0f} ms, PEP 658 "
                  f"{'on' if args.metadata_files else 'off'}")
            for tool in [t.strip() for t in args.tools.split(",") if t.strip()]:
                times = []
                for run in range(args.runs):
                    cache = scratch / f"cache-{tool}-{run}"
                    outcome = runner.run(commands(tool, server.url, venv, cache,
                                                  scratch / "report.json", args.wherry))
                    shutil.rmtree(cache, ignore_errors=True)
                    if outcome.returncode != 0:
                        last = (outcome.stderr or outcome.stdout).strip().splitlines()[-1:]
                        print(f"{tool}: failed ({' '.join(last)})")
                        break
                    picked = chosen(tool, outcome.stdout + outcome.stderr,
                                    scratch / "report.json")
                    expected = {"a": str(args.versions - args.gap), "b": str(args.versions)}
                    if picked != expected:
                        print(f"{tool}: picked {picked}, not {expected}")
                    times.append(outcome.seconds)
                if times:
                    print(f"{tool}: median {statistics.median(times):.2f} s over "
                          f"{len(times)} runs ({', '.join(f'{t:.2f}' for t in times)})")
        finally:
            server.stop()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
