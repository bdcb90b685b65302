"""Backup and restore of a MariaDB server database (mariadb-dump / mariadb), and a refused dump.

MariaDB runs locally (root through the unix socket); the test makes a throwaway database and
account and drops them afterwards.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid

import pytest
from crds_server.testing import make_cache

from tests.ops_support import make_root, remove_root, tree

pytestmark = pytest.mark.skipif(shutil.which("mariadb") is None or subprocess.run(
    ["mariadb", "-uroot", "-e", "SELECT 1"], capture_output=True).returncode != 0,
    reason="no local MariaDB server reachable as root")


def mariadb(sql: str) -> None:
    subprocess.run(["mariadb", "-uroot"], input=sql, text=True, check=True, capture_output=True)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    name = f"crdsops_{uuid.uuid4().hex[:8]}"
    password = uuid.uuid4().hex
    mariadb(f"CREATE DATABASE {name} CHARACTER SET utf8mb4; CREATE USER '{name}'@'127.0.0.1' IDENTIFIED BY "
            f"'{password}'; CREATE USER '{name}'@'localhost' IDENTIFIED BY '{password}'; "
            f"GRANT ALL ON {name}.* TO '{name}'@'127.0.0.1'; GRANT ALL ON {name}.* TO '{name}'@'localhost';")
    root = None
    try:
        cache = make_cache(tmp_path_factory.mktemp("cache"), ["hst_acs_biasfile_0250.rmap"], ["v8q14451j_idc.fits"])
        root = make_root(cache, secrets={"CRDS_DB_PASSWORD": password}, CRDS_STACK="production",
                         CRDS_DB_NAME=name, CRDS_DB_USER=name, CRDS_DB_HOST="127.0.0.1", CRDS_DB_PORT="3306")
        root.db_name = name
        yield root
    finally:
        if root is not None:
            remove_root(root)
        mariadb(f"DROP DATABASE IF EXISTS {name}; DROP USER IF EXISTS '{name}'@'127.0.0.1'; "
                f"DROP USER IF EXISTS '{name}'@'localhost';")


COUNT = "from interactive.models import FileRecord; print(FileRecord.objects.count())"


def test_mariadb_backup_and_restore(server):
    assert "mysql" in server.shell("from django.db import connection; print(connection.vendor)")
    result = server.tool("backup_server")
    assert result.returncode == 0, result.stderr
    latest = server.backups / "latest"
    dump = (latest / "database.sql").read_text()
    assert "CREATE TABLE `interactive_filerecord`" in dump and dump.rstrip().endswith("-- Dump completed")
    assert "hst_acs_biasfile_0250.rmap" in dump
    before = server.snapshot()

    server.shell("from interactive.models import FileRecord, ContextPointer\n"
                 "FileRecord.objects.filter(name='v8q14451j_idc.fits').delete()\n"
                 "FileRecord.objects.create(name='zzz1000l_bia.fits', type='reference', observatory='hst')\n"
                 "ContextPointer.objects.update(context='hst_9999.pmap')")
    server.ref("zzz1000l_bia.fits").write_bytes(b"added after the backup")
    assert server.snapshot() != before
    # mod_wsgi restarts its daemons when their script changes: the restore must touch it.
    script = server.root / "server" / "wsgi-scripts" / "crds.wsgi"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text("# the installed WSGI script\n")
    os.utime(script, (0, 0))

    result = server.tool("restore_server")
    assert result.returncode == 0, result.stderr
    assert server.snapshot() == before
    assert not server.ref("zzz1000l_bia.fits").exists()
    assert script.stat().st_mtime > 0
    assert "WSGI daemons and JSON-RPC workers reload" in result.stdout


def test_failed_dump_leaves_no_partial_backup(server):
    if not (server.backups / "latest").exists():
        assert server.tool("backup_server").returncode == 0
    before = tree(server.backups)
    listing = sorted(p.name for p in server.backups.iterdir())
    # The dump is refused: the account loses its rights to the database (a restart mid-dump is in
    # test_ops_mariadb_restart.py).
    mariadb(f"REVOKE ALL ON {server.db_name}.* FROM '{server.db_name}'@'127.0.0.1';"
            f"REVOKE ALL ON {server.db_name}.* FROM '{server.db_name}'@'localhost';")
    try:
        result = server.tool("backup_server")
    finally:
        mariadb(f"GRANT ALL ON {server.db_name}.* TO '{server.db_name}'@'127.0.0.1';"
                f"GRANT ALL ON {server.db_name}.* TO '{server.db_name}'@'localhost';")
    assert result.returncode == 1
    assert "Backup failed, nothing kept" in result.stderr and "Traceback" not in result.stderr
    assert sorted(p.name for p in server.backups.iterdir()) == listing
    assert tree(server.backups) == before
    assert not (server.root / "server" / "run" / "server_offline").exists()
