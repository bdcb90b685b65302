#!/usr/bin/env python3
"""One client's best references on the production stack, with and without idle CPUs.

Why this exists: with one client the server and the client take turns, so each
CPU idles between calls.  On a virtual machine an idle CPU halts, and the
next computation can start with cold caches.  This script measures how much
of the one-client gap (bench_production.py's "JSON-RPC / in-process, 1 client")
comes from that, by timing the same calls, interleaved, in two conditions:

* as deployed, the way bench_production.py measures;
* CPUs kept awake: an idle-priority (SCHED_IDLE) busy loop on every CPU,
  which runs only when nothing else wants the CPU and so keeps it from halting.

Each condition reports the urllib client's requests/s (a new connection per
call, as the crds client makes them), the in-process
heavy_client.hv_best_references calls/s, their ratio, and the median time
Apache spent on each call (%D in its access log).  The copy is installed
as bench_production.py installs it and removed at the end.

    .venv/bin/python bench/bench_idle_wakeup.py [--seconds S]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(CHECKOUT / "tests"))
sys.path.insert(0, str(CHECKOUT / "sources"))
sys.path.insert(0, str(CHECKOUT / "bench"))

import bench_jsonapi  # noqa: E402
import bench_production  # noqa: E402

from conftest import make_copy, remove_copy  # noqa: E402


def idle_priority_on(cpu: int):
    """For preexec_fn: the child runs on `cpu` only, at idle priority from its first instruction."""
    def prepare() -> None:
        os.sched_setaffinity(0, {cpu})
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    return prepare


@contextlib.contextmanager
def cpus_kept_awake():
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"], preexec_fn=idle_priority_on(cpu))
                for cpu in sorted(os.sched_getaffinity(0))]
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


def apache_ms(access_log: Path, offset: int) -> float:
    """Median %D (the time Apache spent on the request) of the best-references calls logged after `offset`."""
    with open(access_log, "rb") as log:
        log.seek(offset)
        lines = log.read().decode().splitlines()
    times = [int(line.split('" ', 1)[1].split()[2]) for line in lines if "/json/get_best_references/" in line]
    return statistics.median(times) / 1000 if times else float("nan")


def measure(base: str, server_dir: Path, seconds: float) -> list[tuple[str, float, float, float]]:
    from crds.core import heavy_client

    header = bench_jsonapi.bestrefs_header()
    access_log = server_dir / "logs/access_log"

    def remote() -> None:
        bench_jsonapi.post(base, "get_best_references", "hst_0729.pmap", header, None)

    def local() -> None:
        heavy_client.hv_best_references("hst_0729.pmap", header)

    for _ in range(50):  # every Apache worker process loads the rules
        remote()
    local()
    conditions = (("as deployed", contextlib.nullcontext), ("CPUs kept awake", cpus_kept_awake))
    results = {name: ([], [], []) for name, _ in conditions}
    for _ in range(3):  # interleaved: this machine's speed drifts
        for name, condition in conditions:
            remotes, locals_, apache = results[name]
            with condition():
                offset = access_log.stat().st_size
                remotes.append(bench_jsonapi.rate(remote, 1, seconds))
                apache.append(apache_ms(access_log, offset))
                locals_.append(bench_jsonapi.rate(local, 1, seconds))
    return [(name, statistics.median(remotes), statistics.median(locals_), statistics.median(apache))
            for name, (remotes, locals_, apache) in results.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each rate measurement")
    args = parser.parse_args()
    copy = make_copy()
    try:
        server = bench_production.install(copy)
        rows = measure(server.url, copy.root / bench_production.SERVER_DIR, args.seconds)
    finally:
        remove_copy(copy)
    print(f"\n{bench_jsonapi.machine_line()}")
    print("| one client, get_best_references | requests/s | in-process calls/s | JSON-RPC / in-process "
          "| Apache's time per call |\n|---|---|---|---|---|")
    for name, remote, local, apache in rows:
        print(f"| {name} | {remote:.0f} | {local:.0f} | {remote / local:.2f} | {apache:.2f} ms |")


if __name__ == "__main__":
    main()
