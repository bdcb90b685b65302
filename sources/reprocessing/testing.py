"""A throw-away server root with real Celery workers, for the distributed tests and bench/bench_affected.py.

The root's tasks are *not* eager: chunk tasks go through Redis (a database
number and queue of its own) to worker subprocesses.  Its database is SQLite
(the embedded stack) or, with database="mariadb", a MariaDB database and
account of its own made through the local root account (the production
configuration).  Its file cache links the HST rules of the shared test cache.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[2]
REDIS_DB = 15  # no configured server uses it


def mariadb_available() -> bool:
    """True when the local MariaDB server takes root's commands through its socket."""
    client = shutil.which("mariadb")
    return bool(client) and subprocess.run([client, "-uroot", "-e", "SELECT 1"], capture_output=True).returncode == 0


def _mariadb(sql: str) -> None:
    subprocess.run(["mariadb", "-uroot"], input=sql, text=True, check=True, capture_output=True)


class WorkerRoot:
    def __init__(self, rules: Path, redis_db: int = REDIS_DB, chunk_size: int = 2000, database: str = "sqlite",
                 **env: str):
        from crds_server import siteconfig

        self.root = Path(tempfile.mkdtemp(prefix="crds-reproc-"))
        self.queue = f"crds_reproc_test_{uuid.uuid4().hex[:8]}"
        self.redis_db = redis_db
        self.database = database
        self.db_name = ""
        self.workers: list[subprocess.Popen] = []
        self.server: subprocess.Popen | None = None
        site = siteconfig.render("hst", "django", {"CRDS": str(self.root)})
        site["CRDS_REDIS_URL"] = f"redis://127.0.0.1:6379/{redis_db}"
        site["CRDS_CELERY_QUEUE"] = self.queue
        if database == "mariadb":
            self.db_name, self.db_password = f"crdsreproc_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
            _mariadb(f"CREATE DATABASE {self.db_name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci; " + " ".join(
                f"CREATE USER '{self.db_name}'@'{host}' IDENTIFIED BY '{self.db_password}'; "
                f"GRANT ALL ON {self.db_name}.* TO '{self.db_name}'@'{host}';" for host in ("127.0.0.1", "localhost")))
            site.update(CRDS_STACK="production", CRDS_DB_NAME=self.db_name, CRDS_DB_USER=self.db_name,
                        CRDS_DB_HOST="127.0.0.1", CRDS_DB_PORT="3306")
            secrets = Path(site["CRDS_SECRETS_FILE"])
            secrets.parent.mkdir(parents=True)
            siteconfig.write_site_env({"CRDS_DB_PASSWORD": self.db_password}, secrets)
        elif database != "sqlite":
            raise ValueError(f"database must be sqlite or mariadb, not {database!r}")
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
        try:
            self.manage("migrate", "--noinput")
        except BaseException:
            self.close()
            raise

    def manage(self, *args: str, timeout: float = 3600) -> str:
        done = subprocess.run([sys.executable, str(CHECKOUT / "manage.py"), *args], env=self.env, cwd=CHECKOUT,
                              capture_output=True, text=True, timeout=timeout)
        if done.returncode:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def sql(self, query: str, *params) -> list[dict]:
        """Rows of `query` (%s placeholders) on the root's database, read directly, as dicts."""
        if self.database == "sqlite":
            with sqlite3.connect(self.root / "server" / "crds.sqlite3", timeout=30) as db:
                db.row_factory = sqlite3.Row
                return [dict(row) for row in db.execute(query.replace("%s", "?"), params)]
        import MySQLdb
        import MySQLdb.cursors

        db = MySQLdb.connect(host="127.0.0.1", port=3306, user=self.db_name, password=self.db_password,
                             database=self.db_name, cursorclass=MySQLdb.cursors.DictCursor, autocommit=True)
        try:
            cursor = db.cursor()
            cursor.execute(query, params)
            return list(cursor.fetchall())
        finally:
            db.close()

    def computation(self, computation_id: int | None = None) -> dict:
        """The newest (or a given) computation record with its chunks, JSON and date columns decoded."""
        where, params = ("where id=%s", (computation_id,)) if computation_id else ("", ())
        comp = self.sql(f"select * from reprocessing_computation {where} order by id desc limit 1", *params)[0]
        comp["chunks"] = self.sql("select * from reprocessing_chunk where computation_id=%s order by `index`",
                                  comp["id"])
        for row in [comp, *comp["chunks"]]:
            for key in ("dataset_ids", "affected", "updates", "counts", "affected_types", "since"):
                if isinstance(row.get(key), str):
                    row[key] = json.loads(row[key])
            for key in ("created", "finished", "dispatched", "started", "heartbeat"):
                if isinstance(row.get(key), str):  # SQLite keeps them as text
                    row[key] = datetime.datetime.fromisoformat(row[key])
        return comp

    def start_workers(self, count: int, **env: str) -> list[subprocess.Popen]:
        """`count` more worker processes (concurrency 1 each, each in a session of its own), as on `count` machines."""
        started = []
        for _ in range(count):
            n = len(self.workers)
            log = open(self.root / f"worker{n}.log", "w")
            worker = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "crds_server", "worker", "-Q", self.queue, "-c", "1",
                 "-P", "prefork", "-n", f"w{n}.{self.queue}@%h", "--without-gossip", "--without-mingle",
                 "--without-heartbeat", "-l", "INFO"],
                env=dict(self.env, PYTHONPATH=str(CHECKOUT / "sources"), **env), cwd=CHECKOUT,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            self.workers.append(worker)
            started.append(worker)
        deadline = time.monotonic() + 120
        while not all(" ready." in self.worker_log(w) for w in started):
            if time.monotonic() > deadline or any(w.poll() is not None for w in started):
                raise RuntimeError(f"Celery workers did not start; see {self.root}/worker*.log")
            time.sleep(0.3)
        return started

    def worker_log(self, worker: subprocess.Popen) -> str:
        return (self.root / f"worker{self.workers.index(worker)}.log").read_text()

    def kill_worker(self, worker: subprocess.Popen) -> None:
        """SIGKILL a whole worker (main process and pool), as when its machine is lost."""
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()

    def serve(self) -> str:
        """Start Django's server on the root (a free port); its base URL."""
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        log = open(self.root / "runserver.log", "w")
        self.server = subprocess.Popen([sys.executable, str(CHECKOUT / "manage.py"), "runserver", "--noreload",
                                        f"127.0.0.1:{port}"], env=self.env, cwd=CHECKOUT, stdout=log,
                                       stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(url + "/reprocessing/", timeout=5):
                    return url
            except OSError:
                if self.server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the server did not start; see {self.root}/runserver.log") from None
                time.sleep(0.3)

    def stop_workers(self) -> None:
        for worker in self.workers:
            if worker.poll() is None:
                worker.terminate()
        for worker in self.workers:
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()
        self.workers = []

    def forget_queue(self) -> None:
        """Remove the queue and the messages killed workers left unacknowledged in Redis."""
        import redis

        client = redis.Redis(db=self.redis_db)
        client.delete(self.queue, f"_kombu.binding.{self.queue}", f"_kombu.binding_permanent.{self.queue}")
        for tag, value in client.hscan_iter("unacked"):
            try:
                _message, _exchange, routing_key = json.loads(value)
            except ValueError:
                continue
            if routing_key == self.queue:
                client.hdel("unacked", tag)
                client.zrem("unacked_index", tag)

    def close(self) -> None:
        self.stop_workers()
        if self.server is not None and self.server.poll() is None:
            self.server.terminate()
            self.server.wait(timeout=30)
        self.forget_queue()
        if self.db_name:
            _mariadb(f"DROP DATABASE IF EXISTS {self.db_name}; " + " ".join(
                f"DROP USER IF EXISTS '{self.db_name}'@'{host}';" for host in ("127.0.0.1", "localhost")))
        shutil.rmtree(self.root, ignore_errors=True)
