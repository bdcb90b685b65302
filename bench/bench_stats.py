#!/usr/bin/env python3
"""Measure what recording request statistics costs a request, as ratios.

In process, against a fresh temporary hst/django server root (SQLite): the
cheapest page (`/lock_status/<user>/`, one indexed query) is requested
through Django's test client with the full middleware stack, and again with
the stats middleware removed; then the cost of writing a batch of buffered
rows is measured per row (it runs after the response has been sent, so a
request never waits for it, but the worker's CPU is spent).

    .venv/bin/python bench/bench_stats.py [--requests N] [--runs R]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(CHECKOUT / "sources"))


def setup() -> None:
    from crds_server import siteconfig

    root = Path(tempfile.mkdtemp(prefix="crds-bench-stats-"))
    siteconfig.write_site_env(siteconfig.render("hst", "django", {"CRDS": str(root)}), root / "site.env")
    os.environ["CRDS_SITE_ENV"] = str(root / "site.env")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crds_server.settings")
    (root / "server").mkdir()
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", "--noinput", verbosity=0)


def per_request(requests: int) -> float:
    from django.test import Client

    client = Client()
    client.get("/lock_status/nobody/")
    started = time.perf_counter()
    for _ in range(requests):
        client.get("/lock_status/nobody/")
    return (time.perf_counter() - started) / requests


def middleware_alone(calls: int) -> float:
    """Seconds the stats middleware adds around a view that does nothing."""
    from django.contrib.auth.models import AnonymousUser
    from django.http import HttpResponse
    from django.test import RequestFactory
    from stats.middleware import RequestStatsMiddleware

    request = RequestFactory().get("/json/get_server_info/1/")
    request.user = AnonymousUser()
    response = HttpResponse()
    bare = lambda r: response  # noqa: E731
    wrapped = RequestStatsMiddleware(bare)
    timings = []
    for view in (bare, wrapped, bare, wrapped):
        started = time.perf_counter()
        for _ in range(calls):
            view(request)
        timings.append((time.perf_counter() - started) / calls)
    return min(timings[1], timings[3]) - min(timings[0], timings[2])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    setup()
    from django.conf import settings
    from django.test import override_settings
    from stats import recorder

    without = [m for m in settings.MIDDLEWARE if m != "stats.middleware.RequestStatsMiddleware"]
    batch, recorder.BATCH_SIZE, recorder.FLUSH_SECONDS = recorder.BATCH_SIZE, 10**9, float("inf")
    with_stats, without_stats = [], []
    for run in range(args.runs):  # the request path alone (batches are written below), in alternating order
        for stats_on in ((True, False) if run % 2 else (False, True)):
            with override_settings(MIDDLEWARE=list(settings.MIDDLEWARE) if stats_on else without):
                (with_stats if stats_on else without_stats).append(per_request(args.requests))
            recorder.flush()
    isolated = middleware_alone(args.requests * 20)
    flushes = []
    for _ in range(args.runs):
        for _ in range(batch):
            recorder.record("/bench/", "", "", 200, 0.001)
        started = time.perf_counter()
        written = recorder.flush()
        flushes.append((time.perf_counter() - started) / written)
    flush_per_row = statistics.median(flushes)
    on, off = statistics.median(with_stats), statistics.median(without_stats)
    print(f"requests per run: {args.requests}, runs: {args.runs}")
    print(f"median per request with stats:    {on * 1e6:8.1f} us")
    print(f"median per request without stats: {off * 1e6:8.1f} us")
    print(f"with / without:                   {on / off:8.3f}")
    print(f"middleware alone, per request:    {isolated * 1e6:8.1f} us = {isolated / off:.4f} of a request")
    print(f"batch write of {batch} rows, per row (after a response has gone out): {flush_per_row * 1e6:8.1f} us "
          f"= {flush_per_row / off:.3f} of a request")


if __name__ == "__main__":
    main()
