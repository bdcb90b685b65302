"""tools/restore_server either completes or leaves the server exactly as it was (the area directories too)."""

from __future__ import annotations

import subprocess

import pytest

from tests.ops_support import make_root, remove_root, tiny_rules_cache, tree

CHANGE = """
from interactive.models import AuditAction, FileRecord
FileRecord.objects.create(name="hst_acs_biasfile_0009.fits", observatory="hst", type="reference")
AuditAction.objects.all().delete()
"""


@pytest.fixture
def server(tmp_path):
    root = make_root(tiny_rules_cache(tmp_path / "cache"))
    yield root
    remove_root(root)


def leftovers(server) -> list[str]:
    return sorted(str(p) for p in server.root.rglob(".restore-*")) + sorted(
        str(p) for p in server.root.rglob("removed_by_restore"))


def test_failed_file_swap_puts_database_and_every_area_back(server):
    assert server.tool("backup_server").returncode == 0
    server.shell(CHANGE)
    (server.server_files / "catalogs" / "opus_7_i.cat").write_text("hst_acs_biasfile_0009.fits\n")
    (server.server_files / "deliveries" / "opus_7_i.cat").write_text("hst_acs_biasfile_0009.fits\n")
    server.ref("hst_acs_biasfile_0009.fits").write_bytes(b"cataloged after the backup")
    locked = server.cache / "config" / "hst" / "locked"  # the last area: earlier ones are swapped already
    locked.mkdir()
    (locked / "file").write_text("x")
    if subprocess.run(["chattr", "+i", str(locked)], capture_output=True).returncode:
        pytest.skip("chattr +i is not available here")
    try:
        before = server.snapshot(), tree(server.cache), tree(server.server_files)
        deliveries_inode = (server.server_files / "deliveries").stat().st_ino
        result = server.tool("restore_server")
        assert result.returncode == 1
        assert "Restore failed, nothing changed: " in result.stderr and "Traceback" not in result.stderr
        assert (server.snapshot(), tree(server.cache), tree(server.server_files)) == before
        assert (server.server_files / "deliveries").stat().st_ino == deliveries_inode
        assert leftovers(server) == []
        assert not (server.root / "server" / "run" / "server_offline").exists()
    finally:
        for path in server.root.rglob("locked"):  # wherever a failed restore left it
            subprocess.run(["chattr", "-i", str(path)], check=True)

    result = server.tool("restore_server")
    assert result.returncode == 0, result.stderr
    assert not (server.server_files / "catalogs" / "opus_7_i.cat").exists()
    assert not locked.exists()
    assert (server.server_files / "deliveries").stat().st_ino == deliveries_inode  # its owner, group, ACLs stay
