#!/usr/bin/env python3
"""Time `init_catalog --from-cache` on the HST test cache into a fresh temporary server root.

Each run is a separate process with its own site.env (embedded stack, SQLite), so
the figure includes Django start-up and is what an operator sees from ./init.

    .venv/bin/python bench/bench_import.py [--runs N] [--cache DIR]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(CHECKOUT / "sources"))

from crds_server import siteconfig, testing  # noqa: E402

BUDGET_SECONDS = 60.0


def fresh_server(root: Path) -> dict[str, str]:
    """A temporary hst/django server root with a migrated, empty database; its environment."""
    site = siteconfig.render("hst", "django", {"CRDS": str(root)})
    siteconfig.write_site_env(site, root / "site.env")
    (root / "server").mkdir(parents=True)
    env = {**os.environ, "CRDS_SITE_ENV": str(root / "site.env")}
    subprocess.run([sys.executable, "manage.py", "migrate", "--skip-checks", "-v0"], cwd=CHECKOUT, env=env,
                   check=True)
    return env


def one_run(cache: Path) -> tuple[float, float, int]:
    root = Path(tempfile.mkdtemp(prefix="crds-bench-import-"))
    try:
        env = fresh_server(root)
        started = time.perf_counter()
        output = subprocess.run([sys.executable, "manage.py", "init_catalog", "--from-cache", str(cache)],
                                cwd=CHECKOUT, env=env, check=True, capture_output=True, text=True).stdout
        seconds = time.perf_counter() - started
        inside = float(re.search(r"Done in ([0-9.]+) s", output).group(1))
        with sqlite3.connect(root / "server" / "crds.sqlite3") as db:
            files = db.execute("SELECT COUNT(*) FROM interactive_filerecord").fetchone()[0]
        return seconds, inside, files
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cache", type=Path, default=testing.test_cache())
    args = parser.parse_args()
    results = [one_run(args.cache) for _ in range(args.runs)]
    times = sorted(seconds for seconds, _, _ in results)
    inside = sorted(seconds for _, seconds, _ in results)
    files = results[0][2]
    median = times[len(times) // 2]
    import_median = inside[len(inside) // 2]
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.processor() or 'cpu n/a'}, "
          f"Python {platform.python_version()}, {platform.system()} {platform.release()}")
    print(f"cache: {args.cache} ({files} files cataloged)")
    print(f"runs: {', '.join(f'{t:.2f}' for t in times)} s; median {median:.2f} s")
    print(f"import alone (the command's own timing, without Python/Django start-up): median {import_median:.2f} s")
    print(f"load average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"files per second (median, whole command): {files / median:,.0f}")
    print(f"median / {BUDGET_SECONDS:.0f} s budget: {median / BUDGET_SECONDS:.3f}")


if __name__ == "__main__":
    main()
