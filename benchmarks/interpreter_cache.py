"""The interpreter-info cache: cost of a validated hit against a probe, in-process.

A validated hit is a few dozen `stat` calls and one small JSON read, well under a
millisecond, far too short to time through a subprocess; so this imports wherry and
times `query_interpreter` directly. Run it with the interpreter wherry is installed in:

    python benchmarks/interpreter_cache.py [--python PATH] [--runs N]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=sys.executable,
                        help="the interpreter to query (default: this one)")
    parser.add_argument("--runs", type=int, default=200, help="validated hits to time (200)")
    parser.add_argument("--probes", type=int, default=9, help="probes to time (9)")
    args = parser.parse_args()

    from wherry.cache.layout import Cache
    from wherry.python.info import query_interpreter

    root = Path(tempfile.mkdtemp(prefix="wherry-bench-"))
    try:
        cache = Cache.at(root)
        probes = []
        for _ in range(args.probes):
            start = time.perf_counter()
            query_interpreter(args.python, cache, refresh=True)
            probes.append(time.perf_counter() - start)
        hits = []
        for _ in range(args.runs):
            start = time.perf_counter()
            query_interpreter(args.python, cache)
            hits.append(time.perf_counter() - start)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    probe_ms = statistics.median(probes) * 1000
    hit_ms = statistics.median(hits) * 1000
    print(f"interpreter: {args.python}")
    print(f"probe (subprocess)      median {probe_ms:8.2f} ms over {args.probes} runs")
    print(f"validated cache hit     median {hit_ms:8.3f} ms over {args.runs} runs")
    print(f"ratio                   {probe_ms / hit_ms:8.0f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
