"""A throw-away server root with real Celery workers, for the distributed test and bench/bench_affected.py.

The root is an embedded (SQLite) server whose tasks are *not* eager: chunk
tasks go through Redis (a database number and queue of its own) to worker
subprocesses.  Its file cache links the HST rules of the shared test cache.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[2]
REDIS_DB = 15  # no configured server uses it


class WorkerRoot:
    def __init__(self, rules: Path, redis_db: int = REDIS_DB, chunk_size: int = 2000, **env: str):
        from crds_server import siteconfig

        self.root = Path(tempfile.mkdtemp(prefix="crds-reproc-"))
        self.queue = f"crds_reproc_test_{uuid.uuid4().hex[:8]}"
        site = siteconfig.render("hst", "django", {"CRDS": str(self.root)})
        site["CRDS_REDIS_URL"] = f"redis://127.0.0.1:6379/{redis_db}"
        site["CRDS_CELERY_QUEUE"] = self.queue
        siteconfig.write_site_env(site, self.root / "site.env")
        cache = Path(site["CRDS_FILE_CACHE"])
        (cache / "mappings").mkdir(parents=True)
        (cache / "mappings" / "hst").symlink_to(rules / "mappings" / "hst")
        (cache / "config").mkdir()
        (cache / "config" / "hst").symlink_to(rules / "config" / "hst")
        for sub in ("server", "monitor_reprocessing"):
            (self.root / sub).mkdir()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CRDS_")}
        self.env.update(CRDS_SITE_ENV=str(self.root / "site.env"), CRDS_CELERY_EAGER="false",
                        CRDS_REPROCESSING_CHUNK_SIZE=str(chunk_size), **env)
        self.workers: list[subprocess.Popen] = []
        self.manage("migrate", "--noinput")

    def manage(self, *args: str, timeout: float = 3600) -> str:
        done = subprocess.run([sys.executable, str(CHECKOUT / "manage.py"), *args], env=self.env, cwd=CHECKOUT,
                              capture_output=True, text=True, timeout=timeout)
        if done.returncode:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def start_workers(self, count: int, **env: str) -> None:
        """`count` worker processes (concurrency 1 each), as on `count` machines."""
        for n in range(count):
            log = open(self.root / f"worker{n}.log", "w")
            self.workers.append(subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "crds_server", "worker", "-Q", self.queue, "-c", "1",
                 "-P", "prefork", "-n", f"w{n}.{self.queue}@%h", "--without-gossip", "--without-mingle",
                 "--without-heartbeat", "-l", "INFO"],
                env=dict(self.env, PYTHONPATH=str(CHECKOUT / "sources"), **env), cwd=CHECKOUT,
                stdout=log, stderr=subprocess.STDOUT))
        deadline = time.monotonic() + 120
        while not all(" ready." in (self.root / f"worker{n}.log").read_text() for n in range(count)):
            if time.monotonic() > deadline or any(w.poll() is not None for w in self.workers):
                raise RuntimeError(f"Celery workers did not start; see {self.root}/worker*.log")
            time.sleep(0.3)

    def stop_workers(self) -> None:
        for worker in self.workers:
            if worker.poll() is None:
                worker.terminate()
        for worker in self.workers:
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        self.workers = []

    def close(self) -> None:
        self.stop_workers()
        subprocess.run(["redis-cli", "-n", str(REDIS_DB), "DEL", self.queue, f"_kombu.binding.{self.queue}",
                        f"_kombu.binding_permanent.{self.queue}"], capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)
