#!/usr/bin/env python3
"""Time backup, restore and the orphan check of a server holding the HST test cache (43,780 files).

A fresh temporary hst/django server root (embedded stack, SQLite) is loaded with
`init_catalog --from-cache`; then tools/backup_server, tools/restore_server and
tools/orphan_files (with and without --check-sha1sum) run as separate processes, as an
operator runs them, N times each.  The baseline is the bare copy the backup makes: `sqlite3
.backup` of the database plus `tar cf` of the same four directories, and a Django command
that does nothing (`manage.py check`), for the start-up every tool pays.

    .venv/bin/python bench/bench_ops.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(CHECKOUT / "sources"))

from crds_server import siteconfig, testing  # noqa: E402


def timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, cwd=CHECKOUT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode not in (0,):
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="crds-bench-ops-"))
    try:
        site = siteconfig.render("hst", "django", {"CRDS": str(root)})
        siteconfig.write_site_env(site, root / "site.env")
        (root / "server").mkdir()
        env = {key: value for key, value in os.environ.items() if not key.startswith("CRDS_")}
        env["CRDS_SITE_ENV"] = str(root / "site.env")
        manage = [sys.executable, "manage.py"]
        subprocess.run([*manage, "migrate", "-v0"], cwd=CHECKOUT, env=env, check=True)
        subprocess.run([*manage, "init_catalog", "--from-cache", str(testing.test_cache())], cwd=CHECKOUT, env=env,
                       check=True, capture_output=True)
        cache, files = Path(site["CRDS_FILE_CACHE"]), Path(site["CRDS_SERVER_FILES"])
        dirs = [files / "catalogs", files / "deliveries", cache / "mappings" / "hst", cache / "config" / "hst"]
        figures: dict[str, list[float]] = {}
        for _ in range(args.runs):
            figures.setdefault("startup", []).append(timed([*manage, "check"], env))
            scratch = Path(tempfile.mkdtemp(dir=root))
            figures.setdefault("baseline", []).append(
                timed(["sqlite3", str(root / "server" / "crds.sqlite3"), f".backup {scratch / 'db'}"], env)
                + timed(["tar", "cf", str(scratch / "files.tar"), *map(str, dirs)], env))
            shutil.rmtree(scratch)
            figures.setdefault("backup", []).append(timed([str(CHECKOUT / "tools" / "backup_server")], env))
            time.sleep(1.0)  # backups are named by the second
            figures.setdefault("restore", []).append(timed([str(CHECKOUT / "tools" / "restore_server")], env))
            figures.setdefault("orphans", []).append(timed([str(CHECKOUT / "tools" / "orphan_files")], env))
            figures.setdefault("orphans_sha1", []).append(
                timed([str(CHECKOUT / "tools" / "orphan_files", ), "--check-sha1sum"], env))
        median = {key: statistics.median(values) for key, values in figures.items()}
        latest = root / "server" / "db_backups" / "latest"
        size = sum(p.stat().st_size for p in latest.iterdir())
        print(f"{platform.machine()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, "
              f"Python {platform.python_version()}; medians of {args.runs}")
        for key, value in median.items():
            print(f"{key:14s} {value:7.2f} s")
        print(f"backup size {size / 2**20:.0f} MiB")
        print(f"backup / bare copy            {median['backup'] / median['baseline']:.2f}")
        print(f"backup minus start-up / bare copy {(median['backup'] - median['startup']) / median['baseline']:.2f}")
        print(f"restore / backup              {median['restore'] / median['backup']:.2f}")
        print(f"orphan check with sha1 / without {median['orphans_sha1'] / median['orphans']:.2f}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
