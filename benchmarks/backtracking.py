#!/usr/bin/env python3
"""Hard backtracking cases, resolved by wherry, uv and pip side by side.

Each `--shape` is a synthetic universe of many versions of a few conflicting packages,
generated as real wheels (tests/support/packages.py) and served by the project's loopback
test index (tests/support/index_server.py), which answers each request after `--latency`
seconds (default 50 ms, a distant index's round trip; 0 measures the solvers alone).
Like the index reachable here it serves no PEP 658 metadata files unless
`--metadata-files` is given, so metadata comes from range requests (wherry, uv) or whole
wheels (pip). Every shape has exactly one answer (or, with `--unsatisfiable`, none) and
each run's answer is checked against it: the full set of chosen versions, or the
"unsatisfiable" verdict.

- `gap` (default): `a` i needs `b>=i`, `b` j needs `a<=j-GAP`. Only `a<=N-GAP` works with
  the newest `b`. pip's backjumping handles this well: not a hard case for pip or uv.
- `shared`: `a` i pins `c==i`, `b` j pins `c==N+j`, and only `a` 1 and `b` 1 agree (both
  pin `c==1`). Neither package conflicts with the other directly; the clash appears only
  once both are chosen. pip learns nothing beyond "this candidate failed under the current
  pins" and tries every pair of `a` and `b`, N*N of them.
- `deep`: `shared` one level down (`a` i pins `x==i`, `x` i pins `c==i`; `b` j pins
  `y==j`, `y` j pins `c==N+j`; only the chain through 1 and 1 meets). Every pair costs pip
  whole resolution rounds; every tool also pays a chain of metadata round trips, because
  which `x` and `y` matter is known only after reading `a` and `b`.

Measured on 2 shared cores (wherry as run.py's tool venv installed it from the checkout
at 07:09 UTC on 2026-11-24; wherry / uv / pip; "x3" is the median of 3 runs, else one
run). Every finished run gave the expected answer:

    shape           N    latency  wherry   uv       pip
    gap (GAP 100)   200  50 ms    6.46 s   0.74 s   0.73 s     x3
    gap (GAP 100)   200  0        1.16 s   0.07 s   0.44 s     x3
    shared          200  50 ms    3.49 s   3.44 s   63.7 s
    shared          200  0        2.14 s   0.54 s   27.5 s
    shared          400  50 ms    7.37 s   4.54 s   147 s      x3
    shared          400  0        5.54 s   0.83 s   85.5 s     x3 (pip x1)
    shared unsat    400  50 ms    10.9 s   4.55 s   142 s      all say unsatisfiable
    deep            150  50 ms    18.5 s   6.73 s   73.8 s
    deep            150  0        2.09 s   1.67 s   36.8 s
    deep            300  50 ms    38.0 s   24.0 s   stopped by --timeout 300 s
    deep            320  50 ms    39.4 s   26.0 s   resolution-too-deep after 339 s

pip's debug reporter (PIP_RESOLVER_DEBUG) on small universes shows the pattern: `shared`
with N=20 rejects 399 candidates, one per losing pair; `deep` with N=20 takes 861 rounds,
about 2N*N, so from N=317 on `deep` exceeds pip's 200,000-round limit. wherry's `gap`
time at 50 ms was 0.88 s at commit 5f23369; the slowdown came with 8975420.

Each tool resolves `a b` from a fresh cache (`install --dry-run`; pip with `--report`),
once per run, median of `--runs`. It uses the tool venvs that `run.py` builds (run
`python3 benchmarks/run.py --setup-only` first). Every run gets `--timeout` seconds; a run
stopped by it is reported as "more than TIMEOUT s".

    python3 benchmarks/backtracking.py [--shape gap|shared|deep] [--versions 200]
        [--gap 100] [--unsatisfiable] [--runs 3] [--latency 0.05] [--timeout 900]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent))
sys.path.insert(0, str(BENCH_DIR))

from run import TOOLS_DIR, WORK, Outcome, Runner, bin_of, find_python  # noqa: E402

from tests.support.index_server import IndexServer  # noqa: E402
from tests.support.packages import build_wheel  # noqa: E402


@dataclass(frozen=True)
class Universe:
    """What a shape built: the requirements to resolve and the one right answer."""

    requirements: tuple[str, ...]
    #: Every package the answer installs with its version; None: no answer exists.
    expected: dict[str, str] | None
    summary: str


def gap_universe(root: Path, versions: int, gap: int, solvable: bool) -> Universe:
    """`a` i needs `b>=i`, `b` j needs `a<=j-GAP`: the top GAP versions never pair up.

    With `gap >= versions` no `b` accepts any `a`; `solvable` does not apply here.
    """
    for i in range(1, versions + 1):
        build_wheel(root, "a", str(i), requires=[f"b>={i}"])
        # `a<=0` where i-GAP drops below 1: a valid specifier no `a` satisfies.
        build_wheel(root, "b", str(i), requires=[f"a<={max(i - gap, 0)}"])
    answer = {"a": str(versions - gap), "b": str(versions)} if gap < versions else None
    return Universe(("a", "b"), answer,
                    f"a, b: {versions} versions each, top {gap} conflicting")


def b_pin(j: int, versions: int, solvable: bool) -> int:
    """The version of `c` that `b` j (or `y` j) pins: N+j, except 1 for j == 1 if solvable."""
    return 1 if j == 1 and solvable else versions + j


def shared_universe(root: Path, versions: int, gap: int, solvable: bool) -> Universe:
    """`a` i pins `c==i`, `b` j pins `c==N+j`; only `a` 1 and `b` 1 agree (on `c==1`).

    Neither top-level requirement conflicts with the other by itself: the clash shows
    only once both are chosen and their pins of `c` meet. A resolver that learns
    nothing from a clash beyond "this version failed here" tries every pair, N*N of
    them. With `solvable` false `b` 1 pins `c==N+1` too and no pair works.
    """
    for i in range(1, versions + 1):
        build_wheel(root, "a", str(i), requires=[f"c=={i}"])
        build_wheel(root, "b", str(i), requires=[f"c=={b_pin(i, versions, solvable)}"])
    for k in range(1, 2 * versions + 1):
        build_wheel(root, "c", str(k))
    return Universe(("a", "b"), {"a": "1", "b": "1", "c": "1"} if solvable else None,
                    f"a, b: {versions} versions each, a i -> c==i, b j -> c=={versions}+j"
                    f"{' (b 1 -> c==1)' if solvable else ''}; {2 * versions} versions of c")


def deep_universe(root: Path, versions: int, gap: int, solvable: bool) -> Universe:
    """`shared` one level down: `a` i pins `x==i`, `x` i pins `c==i`; `b` j pins `y==j`,
    `y` j pins `c==N+j`; only the chain through `a` 1 and `b` 1 meets (on `c==1`).

    The clash is two steps away from the packages whose choice decides it, so a
    resolver that backs out only what it was pinning when the clash showed up undoes
    and redoes the chain for every pair of `a` and `b`.
    """
    for i in range(1, versions + 1):
        build_wheel(root, "a", str(i), requires=[f"x=={i}"])
        build_wheel(root, "b", str(i), requires=[f"y=={i}"])
        build_wheel(root, "x", str(i), requires=[f"c=={i}"])
        build_wheel(root, "y", str(i), requires=[f"c=={b_pin(i, versions, solvable)}"])
    for k in range(1, 2 * versions + 1):
        build_wheel(root, "c", str(k))
    answer = {"a": "1", "b": "1", "c": "1", "x": "1", "y": "1"}
    return Universe(("a", "b"), answer if solvable else None,
                    f"a, b, x, y: {versions} versions each, a i -> x==i -> c==i, "
                    f"b j -> y==j -> c=={versions}+j"
                    f"{' (y 1 -> c==1)' if solvable else ''}; {2 * versions} versions of c")


SHAPES: dict[str, Callable[[Path, int, int, bool], Universe]] = {
    "gap": gap_universe,
    "shared": shared_universe,
    "deep": deep_universe,
}


def commands(tool: str, index_url: str, venv: Path, cache: Path, out: Path,
             wherry: Path, requirements: Sequence[str]) -> list[str | Path]:
    py = bin_of(venv, "python")
    if tool == "wherry":
        return [wherry, "pip", "install", "--dry-run", *requirements,
                "--python", py, "--cache-dir", cache, "--index-url", index_url]
    if tool == "uv":
        return [bin_of(TOOLS_DIR / "uv", "uv"), "pip", "install", "--dry-run", *requirements,
                "--python", py, "--cache-dir", cache, "--index-url", index_url]
    return [bin_of(TOOLS_DIR / "pip", "python"), "-m", "pip", "--python", py, "install",
            "--dry-run", "--ignore-installed", "--report", out, *requirements,
            "--cache-dir", cache, "--index-url", index_url, "--disable-pip-version-check"]


def chosen(tool: str, output: str, report: Path) -> dict[str, str]:
    """Every package the tool would install (pip: from its --report JSON)."""
    if tool == "pip":
        data = json.loads(report.read_text())
        return {item["metadata"]["name"]: item["metadata"]["version"]
                for item in data["install"]}
    return dict(re.findall(r"^\s*\+\s*([A-Za-z0-9._-]+)==(\S+)", output, re.MULTILINE))


def verdict(tool: str, outcome: Outcome, report: Path) -> str:
    """One line on what the run answered: the versions chosen, "unsatisfiable", or why not."""
    text = outcome.stdout + outcome.stderr
    if outcome.returncode == -1:
        return text.strip().splitlines()[-1] if text.strip() else "did not run"
    if outcome.returncode != 0:
        if re.search(r"ResolutionTooDeep|resolution-too-deep", text):
            return "gave up (resolution-too-deep)"
        if re.search(r"No solution found|ResolutionImpossible|conflicting dependencies"
                     r"|unsatisfiable|cannot be satisfied|[Nn]o version", text):
            return "unsatisfiable"
        last = text.strip().splitlines()[-1:] or ["(no output)"]
        return f"failed ({last[0][:200]})"
    picked = chosen(tool, text, report)
    return " ".join(f"{name}=={version}" for name, version in sorted(picked.items()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=sorted(SHAPES), default="gap",
                        help="which universe to build (gap; see the module docstring)")
    parser.add_argument("--versions", type=int, default=200,
                        help="versions of each conflicting package (200)")
    parser.add_argument("--gap", type=int, default=100,
                        help="gap shape: how many top versions conflict (100)")
    parser.add_argument("--unsatisfiable", action="store_true",
                        help="shared, deep: no pair agrees, every tool must say so")
    parser.add_argument("--runs", type=int, default=3, help="runs per tool (3)")
    parser.add_argument("--tools", default="wherry,uv,pip", help="comma-separated subset")
    parser.add_argument("--timeout", type=float, default=900,
                        help="seconds before a run is stopped and counts as failed (900)")
    parser.add_argument("--python", help="target interpreter (as run.py)")
    parser.add_argument("--latency", type=float, default=0.05,
                        help="seconds the index waits before each answer (0.05)")
    parser.add_argument("--wherry", type=Path, default=bin_of(TOOLS_DIR / "wherry", "wherry"),
                        help="the wherry to run (default: run.py's tool venv)")
    parser.add_argument("--metadata-files", action="store_true",
                        help="serve PEP 658 metadata files")
    args = parser.parse_args()
    if args.unsatisfiable and args.shape == "gap":
        parser.error("--unsatisfiable applies to shared and deep; for gap, give "
                     "--gap >= --versions")

    runner = Runner(WORK, args.timeout)
    python = find_python(runner, args.python)
    scratch = Path(tempfile.mkdtemp(prefix="wherry-backtrack-"))
    try:
        files = scratch / "files"
        files.mkdir()
        universe = SHAPES[args.shape](files, args.versions, args.gap, not args.unsatisfiable)
        if universe.expected is None:
            expected = "unsatisfiable"
        else:
            expected = " ".join(f"{name}=={version}"
                                for name, version in sorted(universe.expected.items()))
        venv = scratch / "venv"
        runner.check([python, "-m", "venv", "--without-pip", venv], "creating the venv")
        server = IndexServer(files, metadata_files=args.metadata_files,
                             latency=args.latency).start()
        try:
            print(f"shape {args.shape}: {universe.summary}; resolving "
                  f"{' '.join(universe.requirements)}; expected answer {expected}; "
                  f"latency {args.latency * 1000:.0f} ms, PEP 658 "
                  f"{'on' if args.metadata_files else 'off'}", flush=True)
            for tool in [t.strip() for t in args.tools.split(",") if t.strip()]:
                times = []
                for run in range(args.runs):
                    cache = scratch / f"cache-{tool}-{run}"
                    report = scratch / "report.json"
                    report.unlink(missing_ok=True)
                    outcome = runner.run(commands(tool, server.url, venv, cache, report,
                                                  args.wherry, universe.requirements))
                    shutil.rmtree(cache, ignore_errors=True)
                    answer = verdict(tool, outcome, report)
                    if outcome.returncode == -1 and "timed out" in outcome.stderr:
                        print(f"{tool}: run {run + 1} stopped by --timeout: more than "
                              f"{args.timeout:.0f} s", flush=True)
                        break
                    if answer != expected:
                        print(f"{tool}: run {run + 1} after {outcome.seconds:.2f} s: "
                              f"{answer}, not {expected}", flush=True)
                        break
                    times.append(outcome.seconds)
                if times:
                    print(f"{tool}: median {statistics.median(times):.2f} s over "
                          f"{len(times)} runs ({', '.join(f'{t:.2f}' for t in times)}), "
                          f"answer {expected}", flush=True)
        finally:
            server.stop()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
