"""The backup survives MariaDB being restarted while it dumps: it fails cleanly and keeps nothing.

A MariaDB server of the test's own (mariadb-install-db, then /usr/sbin/mariadbd on its own data
directory, socket and port) holds the server's database, so restarting it disturbs no other test.
The dump is held mid-way by a write lock on interactive_filerecord (the tables before it are
dumped, the dump waits for that one); MariaDB is then restarted under it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import MySQLdb
import pytest
from jsonapi.live_server import free_port, terminate

from tests.ops_support import make_root, remove_root, tiny_rules_cache, tree

MARIADBD = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
pytestmark = pytest.mark.skipif(not (os.access(MARIADBD, os.X_OK) and shutil.which("mariadb-install-db")
                                     and shutil.which("mariadb-dump")),
                                reason="needs the MariaDB server (mariadbd, mariadb-install-db) and client tools")
LOCKED_TABLE = "interactive_filerecord"


class MariaDB:
    """A private mariadbd: its own data directory, socket and TCP port on 127.0.0.1."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.datadir = directory / "data"
        self.socket = directory / "mariadb.sock"
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        as_root = ["--user=root"] if os.geteuid() == 0 else []
        subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={self.datadir}", "--skip-test-db",
                        "--auth-root-authentication-method=normal", *as_root], check=True, capture_output=True,
                       timeout=300)
        self.command = [MARIADBD, "--no-defaults", f"--datadir={self.datadir}", f"--socket={self.socket}",
                        f"--port={self.port}", "--bind-address=127.0.0.1", f"--pid-file={directory / 'mariadb.pid'}",
                        f"--log-error={directory / 'error.log'}", "--skip-log-bin", "--innodb-buffer-pool-size=32M",
                        *as_root]

    def start(self) -> None:
        self.process = subprocess.Popen(self.command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while subprocess.run(["mariadb-admin", "--no-defaults", f"--socket={self.socket}", "-uroot", "ping"],
                             capture_output=True).returncode:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"mariadbd did not start: {(self.directory / 'error.log').read_text()[-2000:]}")
            time.sleep(0.1)

    def stop(self) -> None:
        terminate(self.process, 60)

    def sql(self, statement: str) -> str:
        return subprocess.run(["mariadb", "--no-defaults", f"--socket={self.socket}", "-uroot", "-N", "-e", statement],
                              check=True, capture_output=True, text=True).stdout

    def connect(self, database: str) -> MySQLdb.Connection:
        return MySQLdb.connect(unix_socket=str(self.socket), user="root", database=database)


@pytest.fixture(scope="module")
def mariadb(tmp_path_factory):
    instance = MariaDB(tmp_path_factory.mktemp("mariadb"))
    try:
        instance.start()
        yield instance
    finally:
        instance.stop()


@pytest.fixture(scope="module")
def server(mariadb, tmp_path_factory):
    name = f"crdsops_{uuid.uuid4().hex[:8]}"
    password = uuid.uuid4().hex
    mariadb.sql(f"CREATE DATABASE {name} CHARACTER SET utf8mb4; CREATE USER '{name}'@'127.0.0.1' IDENTIFIED BY "
                f"'{password}'; GRANT ALL ON {name}.* TO '{name}'@'127.0.0.1';")
    root = make_root(tiny_rules_cache(tmp_path_factory.mktemp("cache")), secrets={"CRDS_DB_PASSWORD": password},
                     CRDS_STACK="production", CRDS_DB_NAME=name, CRDS_DB_USER=name, CRDS_DB_HOST="127.0.0.1",
                     CRDS_DB_PORT=str(mariadb.port))
    root.db_name = name
    yield root
    remove_root(root)


def dump_waiting(mariadb: MariaDB, user: str) -> bool:
    states = mariadb.sql(f"SELECT STATE FROM information_schema.PROCESSLIST WHERE USER = '{user}'")
    return "Waiting for table metadata lock" in states


def test_backup_fails_cleanly_when_mariadb_restarts_mid_dump(mariadb, server):
    made = server.tool("backup_server")
    assert made.returncode == 0, made.stderr
    before = tree(server.backups)
    listing = sorted(p.name for p in server.backups.iterdir())
    dated = [name for name in listing if name[0].isdigit()]
    time.sleep(1.1)  # backups are named by the second: the next one must not start in this one

    lock = mariadb.connect(server.db_name)
    lock.cursor().execute(f"LOCK TABLES {LOCKED_TABLE} WRITE")
    backup = subprocess.Popen([str(Path(__file__).resolve().parents[1] / "tools" / "backup_server")],
                              env=server.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not dump_waiting(mariadb, server.db_name):
            assert backup.poll() is None, backup.communicate()
            assert time.monotonic() < deadline, "the dump never reached the locked table"
            time.sleep(0.1)
        building = [p for p in server.backups.iterdir() if p.name.endswith(".partial")]
        assert len(building) == 1
        partial_dump = (building[0] / "database.sql").read_text()
        assert "CREATE TABLE `auth_permission`" in partial_dump and "Dump completed" not in partial_dump
        assert (server.root / "server" / "run" / "server_offline").exists()
        mariadb.stop()
    finally:
        if mariadb.process.poll() is not None:
            mariadb.start()
        lock.close()
    _, errors = backup.communicate(timeout=120)

    assert backup.returncode == 1
    assert errors.startswith("CommandError: Backup failed, nothing kept: mariadb-dump failed: "), errors
    assert "Traceback" not in errors
    assert sorted(p.name for p in server.backups.iterdir()) == listing
    assert tree(server.backups) == before
    assert not (server.root / "server" / "run" / "server_offline").exists()

    # MariaDB is back: the next backup is complete and becomes the latest.
    again = server.tool("backup_server")
    assert again.returncode == 0, again.stderr
    assert (server.backups / "latest" / "database.sql").read_text().rstrip().endswith("-- Dump completed")
    assert len([p for p in server.backups.iterdir() if p.name[0].isdigit()]) == len(dated) + 1
