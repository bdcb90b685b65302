"""Backup and restore hold every configured delivery directory (CRDS_DELIVERY_DIRS), not only server_files/."""

from __future__ import annotations

import tarfile
import tempfile
from pathlib import Path

import pytest

from tests.ops_support import make_root, remove_root, tiny_rules_cache


@pytest.fixture
def server(tmp_path):
    elsewhere = Path(tempfile.mkdtemp(prefix="crds-deliveries-", dir=tmp_path))
    dirs = [elsewhere / "archive_a", elsewhere / "archive_b"]
    for directory in dirs:
        directory.mkdir()
    root = make_root(tiny_rules_cache(tmp_path / "cache"), CRDS_DELIVERY_DIRS=",".join(map(str, dirs)))
    yield root, dirs
    remove_root(root)


def test_every_delivery_directory_is_backed_up_and_restored(server):
    server, (first, second) = server
    (first / "opus_3_i.cat").write_text("hst_acs_biasfile_0001.fits\n")
    (second / "opus_3_i.cat_proc").write_text("hst_acs_biasfile_0001.fits\n")
    assert server.tool("backup_server").returncode == 0
    latest = server.backups / "latest"
    for archive, name in (("deliveries.tar", "opus_3_i.cat"), ("deliveries_2.tar", "opus_3_i.cat_proc")):
        with tarfile.open(latest / archive) as tar:
            assert tar.getnames() == [name]
    (first / "opus_3_i.cat").unlink()
    (second / "opus_3_i.cat_proc").rename(second / "opus_3_i.cat_done")

    result = server.tool("restore_server")
    assert result.returncode == 0, result.stderr
    assert [p.name for p in first.iterdir()] == ["opus_3_i.cat"]
    assert [p.name for p in second.iterdir()] == ["opus_3_i.cat_proc"]
