#!/usr/bin/env python3
"""Time `./run` (start-up until the server answers) and `./stop` on both stacks.

Works on a temporary copy of the checkout (the script tests' copy: own ports,
own database names), installs hst django (embedded) and hst dev (production:
memcached, Apache + mod_wsgi, Celery), then starts and stops each N times.
The baseline is a bare `django.setup()` in a fresh interpreter, so the figures
can be read as ratios on any machine.

    .venv/bin/python bench/bench_startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(CHECKOUT / "tests"))
sys.path.insert(0, str(CHECKOUT / "sources"))

from conftest import free_port, make_copy, remove_copy  # noqa: E402


def timed(copy, *command: str) -> float:
    started = time.perf_counter()
    copy.run(*command, check=True, timeout=300)
    return time.perf_counter() - started


def django_setup_seconds(copy) -> float:
    """A fresh interpreter importing the settings and all apps: the floor of any start-up."""
    env = {"CRDS_SITE_ENV": str(copy.root / "site.env"), "PYTHONPATH": str(copy.root / "sources"),
           "DJANGO_SETTINGS_MODULE": "crds_server.settings", "PATH": os.environ["PATH"]}
    started = time.perf_counter()
    subprocess.run([str(copy.root / ".venv/bin/python"), "-c", "import django; django.setup()"], env=env,
                   check=True)
    return time.perf_counter() - started


def measure(copy, obs: str, usecase: str, runs: int) -> dict[str, float]:
    if usecase == "django":
        copy.write_config(obs, usecase, CRDS_PORT=str(free_port()), CRDS_BACKUP_PORT=str(free_port()),
                          CRDS_STACK="embedded", CRDS_CACHE_BACKEND="locmem")
    else:
        copy.write_production_config(obs, usecase)
    copy.run("./install", obs, usecase, check=True)
    baseline = statistics.median(django_setup_seconds(copy) for _ in range(runs))
    starts, stops = [], []
    for _ in range(runs):
        starts.append(timed(copy, "./run"))
        time.sleep(1)  # let the worker finish starting before stopping it
        stops.append(timed(copy, "./stop"))
    return {"run": statistics.median(starts), "run_min": min(starts), "run_max": max(starts),
            "stop": statistics.median(stops), "django_setup": baseline}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    copy = make_copy()
    try:
        embedded = measure(copy, "hst", "django", args.runs)
        production = measure(copy, "hst", "dev", args.runs)
    finally:
        remove_copy(copy)
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, "
          f"Python {platform.python_version()}, runs: {args.runs}")
    for name, figures in (("embedded (runserver)", embedded), ("production (memcached, Apache, Celery)", production)):
        print(f"{name}: ./run median {figures['run']:.2f} s (min {figures['run_min']:.2f}, max "
              f"{figures['run_max']:.2f}), ./stop median {figures['stop']:.2f} s, django.setup() "
              f"{figures['django_setup']:.2f} s, ./run / django.setup() = "
              f"{figures['run'] / figures['django_setup']:.1f}")
    print(f"production ./run / embedded ./run = {production['run'] / embedded['run']:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
