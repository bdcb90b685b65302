"""Affected-datasets throughput: 1 and 2 Celery workers against one `crds bestrefs` process.

Synthetic ACS datasets (generated from hst_0721.pmap's rules) are compared
between hst_0720.pmap and hst_0721.pmap, a change of ACS atodtab/shadfile
with an rmap header change, so every dataset is compared (no date
narrowing).  Each run uses a fresh server root (SQLite, Redis DB 15, its own
queue) and real worker processes; the baseline is `crds bestrefs
--load-pickles` on the same headers with the options of --affected-datasets.

    .venv/bin/python bench/bench_affected.py [--sizes 10000 100000] [--workers 1 2]

Prints datasets per second and ratios; results go to docs/benchmarks.md by hand.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(CHECKOUT / "sources"))
RULES = Path(os.environ.get("CRDS_TEST_CACHE", CHECKOUT.parent / "shared" / "data" / "crds-cache-test"))
OLD, NEW, INSTRUMENT = "hst_0720.pmap", "hst_0721.pmap", "acs"


def make_datasets(count: int, directory: Path) -> tuple[Path, Path]:
    """(JSON lines for load_datasets, bestrefs pickle JSON) with the same headers."""
    os.environ["CRDS_PATH"] = str(RULES)
    from reprocessing import synthetic

    load, pickle = directory / f"acs{count}.jsonl", directory / f"acs{count}.json"
    with open(load, "w") as a, open(pickle, "w") as b:
        for ident, header in synthetic.generate(NEW, INSTRUMENT, count, seed=2024):
            a.write(json.dumps({"id": ident, "header": header}) + "\n")
            b.write(json.dumps({ident: header}) + "\n")
    return load, pickle


def run_server(load: Path, workers: int) -> tuple[float, list[str]]:
    os.environ.setdefault("CRDS_SITE_ENV", str(CHECKOUT / "site.env"))  # only for importing siteconfig
    from reprocessing.testing import WorkerRoot

    root = WorkerRoot(RULES, chunk_size=2000)
    try:
        root.manage("load_datasets", str(load))
        root.start_workers(workers)
        start = time.perf_counter()
        out = root.manage("compute_affected", OLD, NEW, "--wait", "--timeout", "7200")
        elapsed = time.perf_counter() - start
        directory = out.split()[4]
        with gzip.open(root.root / "monitor_reprocessing" / directory / "affected_ids.txt.gz", "rt") as handle:
            return elapsed, handle.read().split()
    finally:
        root.close()


def run_bestrefs(pickle: Path) -> tuple[float, list[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRDS_")}
    env.update(CRDS_PATH=str(RULES), CRDS_OBSERVATORY="hst", CRDS_MODE="local", CRDS_SERVER_URL="https://127.0.0.1:9")
    start = time.perf_counter()
    done = subprocess.run(
        [str(Path(sys.executable).with_name("crds")), "bestrefs", "--load-pickles", str(pickle),
         "--old-context", OLD, "--new-context", NEW, "--types", "atodtab", "shadfile",
         "--na-differences-matter", "--undefined-differences-matter", "--print-affected"],
        env=env, capture_output=True, text=True, timeout=7200)
    return time.perf_counter() - start, done.stdout.split()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-affected-") as tmp:
        for size in args.sizes:
            load, pickle = make_datasets(size, Path(tmp))
            base, base_ids = run_bestrefs(pickle)
            print(f"{size} datasets: crds bestrefs {base:.1f} s = {size / base:.0f} datasets/s, "
                  f"{len(base_ids)} affected", flush=True)
            for workers in args.workers:
                elapsed, ids = run_server(load, workers)
                same = "same ids" if ids == base_ids else f"DIFFERENT ids ({len(ids)} vs {len(base_ids)})"
                print(f"{size} datasets: {workers} worker(s) {elapsed:.1f} s = {size / elapsed:.0f} datasets/s, "
                      f"{base / elapsed:.2f}x bestrefs, {same}; projected 1,000,000: "
                      f"{1_000_000 / (size / elapsed) / 60:.0f} min", flush=True)


if __name__ == "__main__":
    main()
