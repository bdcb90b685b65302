#!/usr/bin/env python3
"""The JSON-RPC and web-page benchmarks on the production stack, in one run.

A temporary copy of the checkout (the script tests' copy: own ports, database
names, memcached and Celery queue) is installed as hst test (MariaDB,
memcached, Apache + mod_wsgi, Celery), loaded with `./init --from-cache` from
the shared HST test cache and started with `./run`; a 200 MiB reference is
added to its catalog.  This process sets Django up on the same site.env (same
database and memcached, so invalidating the catalog generation here reaches
the Apache daemons), then runs bench_jsonapi's measurements and bench_pages'
page timings over HTTP through Apache.  Everything is stopped and the
databases dropped at the end.

    .venv/bin/python bench/bench_production.py [--seconds S] [--runs N] [--parts P,...] [--page-runs N]
                                               [--no-static]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import urllib.request
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(CHECKOUT / "tests"))
sys.path.insert(0, str(CHECKOUT / "sources"))
sys.path.insert(0, str(CHECKOUT / "bench"))

import bench_jsonapi  # noqa: E402
import bench_pages  # noqa: E402

from conftest import make_copy, remove_copy  # noqa: E402

SERVER_DIR = "var/hst/test/server"  # the copy's server directory, below its root


def install(copy):
    """Install, start and load the copy as hst test, and set Django up in this process on its
    site.env (same database and memcached); the running server (a jsonapi LiveServer)."""
    from crds_server import testing
    from jsonapi.live_server import LiveServer

    copy.write_production_config("hst", "test")
    copy.run("./install", "hst", "test", check=True, timeout=600)
    copy.run("./run", check=True, timeout=300)
    copy.run("./init", "--from-cache", str(testing.test_cache()), check=True, timeout=600)
    server = LiveServer(url=f"http://127.0.0.1:{copy.port}", root=copy.root,
                        env={"CRDS_SITE_ENV": str(copy.root / "site.env")})
    bench_jsonapi.setup_in_process(server)
    return server


def http_ms(base: str, url: str) -> float:
    started = time.perf_counter()
    with urllib.request.urlopen(base + url, timeout=300) as response:
        response.read()
        if response.status != 200:
            raise RuntimeError(f"{url} answered {response.status}")
    return (time.perf_counter() - started) * 1000


def static_ceiling(copy, base: str) -> dict[str, str]:
    """The large reference served as a plain Apache static file: the fastest HTTP download here."""
    import shutil

    from interactive import storage

    source = storage.cache_path(bench_jsonapi.LARGE_REFERENCE)
    shutil.copy(source, copy.root / SERVER_DIR / "static" / source.name)
    size = source.stat().st_size * 2 / 1e6
    ours = bench_jsonapi.median_time(
        lambda: [bench_jsonapi.fetch(f"{base}/unchecked_get/references/hst/{source.name}") for _ in range(2)], 3)
    static = bench_jsonapi.median_time(
        lambda: [bench_jsonapi.fetch(f"{base}/static/{source.name}") for _ in range(2)], 3)
    return {"download of the large reference: MB/s (same file as an Apache static file)":
            f"{size / ours:.0f} ({size / static:.0f})",
            "download of the large reference: throughput / Apache static file": f"{static / ours:.2f}"}


def memcached_connections(copy, base: str) -> dict[str, str]:
    """Connections memcached accepted during 100 server-info requests (0 when the workers keep theirs).

    JSON-RPC runs in Apache's up to 100 worker threads, each opening its connection on first
    use; 300 requests first give most of them theirs.
    """
    from pymemcache.client.base import Client

    memcache = Client(("127.0.0.1", int(copy.site()["CRDS_MEMCACHED_PORT"])))
    for _ in range(300):
        bench_jsonapi.post(base, "get_server_info")
    before = int(memcache.stats()[b"total_connections"])
    for _ in range(100):
        bench_jsonapi.post(base, "get_server_info")
    opened = int(memcache.stats()[b"total_connections"]) - before
    memcache.close()
    return {"memcached connections opened by 100 requests (after 300)": str(opened)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    bench_jsonapi.add_arguments(parser)
    parser.add_argument("--page-runs", type=int, default=9, help="runs per page (0: no page timings)")
    parser.add_argument("--no-static", action="store_true", help="skip the Apache static-file and memcached figures")
    args = parser.parse_args()
    copy = make_copy()
    try:
        server = install(copy)
        base = server.url
        from interactive import cache
        from interactive.models import FileRecord

        bench_jsonapi.add_large_reference()
        cache.invalidate()
        rows = (bench_pages.time_pages(lambda url: http_ms(base, url), cache.invalidate, args.page_runs)
                if args.page_runs else [])
        figures = bench_jsonapi.measure(server, args, shared_cache=True)
        if not args.no_static:
            figures.update(static_ceiling(copy, base))
            figures.update(memcached_connections(copy, base))
        files = FileRecord.objects.count()
        from stats import recorder

        recorder.flush()  # this process's request statistics, before the database goes away
    finally:
        remove_copy(copy)
    print(f"production stack: Apache + mod_wsgi, MariaDB, memcached; load average {os.getloadavg()}")
    bench_jsonapi.print_figures(figures)
    if rows:
        print()
        bench_pages.print_rows(rows, files, args.page_runs)


if __name__ == "__main__":
    main()
