#!/usr/bin/env python3
"""Time the read-only pages on the imported HST test catalog (43,780 files).

A fresh temporary hst/django server root (SQLite, local-memory cache) is
migrated and loaded with the test cache, then each page is requested through
Django's test client in this process (view, queries, templates; no HTTP):

* first: the first request of the process (crds loads the rules it needs);
* cold: after the catalog generation is invalidated (derived values rebuilt,
  loaded rules kept), median of the runs;
* warm: repeated requests, median of the runs.

    .venv/bin/python bench/bench_pages.py [--runs N] [--keep]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(CHECKOUT / "sources"))

BUDGET_MS = 200.0
PAGES = {
    "home": "/",
    "browse_db first page": "/browse_db/?sort=-delivered",
    "browse_db filtered": "/browse_db/?instrument=wfc3&filekind=darkfile&glob=*_drk.fits&bad=exclude&sort=name",
    "browse_db deep page": "/browse_db/?sort=name&per_page=50&page=800",
    "browse_db deep page, date sort": "/browse_db/?sort=-useafter&per_page=50&page=800",
    "file page (rmap)": "/browse/hst_acs_biasfile_0345.rmap",
    "file page (reference)": "/browse/25716162j_bia.fits",
}


def setup_server(root: Path) -> None:
    from crds_server import siteconfig

    site = siteconfig.render("hst", "django", {"CRDS": str(root)})
    siteconfig.write_site_env(site, root / "site.env")
    (root / "server").mkdir(parents=True)
    os.environ["CRDS_SITE_ENV"] = str(root / "site.env")
    os.environ["DJANGO_SETTINGS_MODULE"] = "crds_server.settings"
    import django

    django.setup()
    from crds_server import testing
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    testing.import_test_cache()


def timed(client, url: str) -> float:
    started = time.perf_counter()
    response = client.get(url)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"{url} answered {response.status_code}")
    return elapsed


def time_pages(get, invalidate, runs: int) -> list[tuple[str, float, float, float]]:
    """(page, first, cold median, warm median) in ms; get(url) times one request, invalidate() starts a generation."""
    rows = []
    for label, url in PAGES.items():
        first = get(url)
        cold, warm = [], []
        for _ in range(runs):
            invalidate()
            cold.append(get(url))
            warm.append(get(url))
        rows.append((label, first, statistics.median(cold), statistics.median(warm)))
    return rows


def print_rows(rows, files: int, runs: int) -> None:
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"{platform.system()} {platform.release()}; load average {os.getloadavg()[0]:.1f}")
    print(f"catalog: {files} files; {runs} runs; budget {BUDGET_MS:.0f} ms warm")
    print(f"| page | first (ms) | cold (ms) | warm (ms) | warm / {BUDGET_MS:.0f} ms |")
    print("|---|---|---|---|---|")
    for label, first, cold, warm in rows:
        print(f"| {label} | {first:.0f} | {cold:.0f} | {warm:.0f} | {warm / BUDGET_MS:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--keep", action="store_true", help="keep the temporary server root")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="crds-bench-pages-"))
    try:
        setup_server(root)
        from django.test import Client
        from interactive import cache
        from interactive.models import FileRecord

        client = Client()
        rows = time_pages(lambda url: timed(client, url), cache.invalidate, args.runs)
        print_rows(rows, FileRecord.objects.count(), args.runs)
        from stats import recorder

        recorder.flush()  # the request statistics buffer, before its database goes away
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
