"""Affected-datasets throughput: 1 and 2 Celery workers against one `crds bestrefs` process.

Synthetic ACS datasets (generated from hst_0721.pmap's rules) are compared
between hst_0720.pmap and hst_0721.pmap, a change of ACS atodtab/shadfile
with an rmap header change, so every dataset is compared (no date
narrowing).  Each run uses a fresh server root in the production database
configuration (a MariaDB database of its own; --database sqlite for the
embedded one), Redis DB 13 with its own queue, and real `celery worker -c 1`
processes started before the computation, as in production.  The baseline is
`crds bestrefs --load-pickles` on the same headers with the options of
--affected-datasets.

    .venv/bin/python bench/bench_affected.py [--sizes 10000 100000] [--workers 1 2] [--database mariadb]

The server time is what `compute_affected --wait` measures inside the command:
plan, chunk dispatch, chunks and the finish (outputs and mail), not the
command's own start-up.  Per run it also prints the planning time (plan and dispatch), the chunk
window (first chunk claimed to last recorded), how busy each worker was in it
and how much of a core its process got (less than its busy share when other
work competed for the cores).  Prints datasets per second, ratios and the projected time for 1,000,000
datasets with the load average; results go to docs/benchmarks.md by hand.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(CHECKOUT / "sources"))
RULES = Path(os.environ.get("CRDS_TEST_CACHE", CHECKOUT.parent / "shared" / "data" / "crds-cache-test"))
OLD, NEW, INSTRUMENT = "hst_0720.pmap", "hst_0721.pmap", "acs"
REDIS_DB = 13


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


def seconds(start, end) -> float:
    return (end - start).total_seconds()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process and its children (a worker and its pool process)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return own + sum(cpu_seconds(int(child)) for child in children)


def run_server(load: Path, workers: int, database: str, chunk_size: int) -> dict:
    os.environ.setdefault("CRDS_SITE_ENV", str(CHECKOUT / "site.env"))  # only for importing siteconfig
    from reprocessing.testing import WorkerRoot

    root = WorkerRoot(RULES, redis_db=REDIS_DB, chunk_size=chunk_size, database=database)
    try:
        root.manage("load_datasets", str(load))
        started = root.start_workers(workers)
        before = [cpu_seconds(w.pid) for w in started]
        out = root.manage("compute_affected", OLD, NEW, "--wait", "--timeout", "7200")
        cpu = [cpu_seconds(w.pid) - b for w, b in zip(started, before, strict=True)]
        comp = root.computation()
        with gzip.open(root.root / "monitor_reprocessing" / comp["directory"] / "affected_ids.txt.gz", "rt") as handle:
            ids = handle.read().split()
        chunks = comp["chunks"]
        window = seconds(min(c["started"] for c in chunks), max(c["finished"] for c in chunks))
        busy: dict[str, float] = {}
        by_worker: dict[str, list] = {}
        for c in chunks:
            busy[c["worker"]] = busy.get(c["worker"], 0.0) + seconds(c["started"], c["finished"])
            by_worker.setdefault(c["worker"], []).append(c)
        gaps = sorted(seconds(a["finished"], b["started"]) for mine in by_worker.values()
                      for a, b in zip(sorted(mine, key=lambda c: c["started"]),
                                      sorted(mine, key=lambda c: c["started"])[1:], strict=False))
        return {"elapsed": float(re.search(r"seconds=([\d.]+)", out).group(1)), "ids": ids, "window": window,
                "cpu": sorted(round(c / window, 2) for c in cpu), "state": comp["state"],
                "plan": float(re.search(r"planned=([\d.]+)", out).group(1)),
                "busy": sorted(round(b / window, 2) for b in busy.values()) if window else [],
                "gap": gaps[len(gaps) // 2] if gaps else 0.0, "chunk": window / len(chunks) * workers}
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
    parser.add_argument("--database", choices=("mariadb", "sqlite"), default="mariadb")
    parser.add_argument("--chunk-size", type=int, default=2000)
    parser.add_argument("--no-bestrefs", action="store_true", help="skip the crds bestrefs baseline")
    args = parser.parse_args()
    print(f"database {args.database}, chunks of {args.chunk_size}; load average {os.getloadavg()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-affected-") as tmp:
        for size in args.sizes:
            load, pickle = make_datasets(size, Path(tmp))
            base, base_ids = (None, None) if args.no_bestrefs else run_bestrefs(pickle)
            if base:
                print(f"{size} datasets: crds bestrefs {base:.1f} s = {size / base:.0f} datasets/s, "
                      f"{len(base_ids)} affected; load average {os.getloadavg()}", flush=True)
            rates: dict[int, float] = {}
            for workers in args.workers:
                run = run_server(load, workers, args.database, args.chunk_size)
                rates[workers] = rate = size / run["elapsed"]
                same = ("" if base_ids is None else "; same ids" if run["ids"] == base_ids
                        else f"; DIFFERENT ids ({len(run['ids'])} vs {len(base_ids)})")
                vs_base = f", {base / run['elapsed']:.2f}x bestrefs" if base else ""
                vs_one = f", {rate / rates[1]:.2f}x 1 worker" if workers != 1 and 1 in rates else ""
                print(f"{size} datasets: {workers} worker(s) {run['state']} {run['elapsed']:.1f} s = {rate:.0f} "
                      f"datasets/s{vs_base}{vs_one}{same}; plan {run['plan']:.1f} s, chunks {run['window']:.1f} s, "
                      f"workers busy {run['busy']} using {run['cpu']} of a core, median pause between chunks "
                      f"{run['gap'] * 1000:.0f} ms (a chunk takes {run['chunk'] * 1000:.0f} ms); projected "
                      f"1,000,000: {1_000_000 / rate / 60:.1f} min; load average {os.getloadavg()}", flush=True)


if __name__ == "__main__":
    main()
