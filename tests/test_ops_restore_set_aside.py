"""A restore moves the cache files its catalog does not know into a dated directory, and its dry run lists them."""

from __future__ import annotations

import pytest

from tests.ops_support import TINY_REFERENCES, make_root, remove_root, sha1, tiny_rules_cache, tree

CATALOG_LATER = """
from interactive.models import FileRecord
FileRecord.objects.create(name="hst_acs_biasfile_0009.fits", observatory="hst", type="reference")
"""


@pytest.fixture
def server(tmp_path):
    root = make_root(tiny_rules_cache(tmp_path / "cache"))
    yield root
    remove_root(root)


def test_dry_run_lists_and_restore_sets_aside_references_cataloged_after_the_backup(server):
    assert server.tool("backup_server").returncode == 0
    server.shell(CATALOG_LATER)
    later = server.ref("hst_acs_biasfile_0009.fits")
    later.write_bytes(b"cataloged after the backup")
    later.chmod(0o444)
    before = tree(server.cache), server.snapshot()

    result = server.tool("restore_server", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert f"would set aside: {later}" in result.stdout
    assert "would move 1 cache files the backup's catalog does not know" in result.stdout
    assert not any(f"would set aside: {server.ref(name)}" in result.stdout for name in TINY_REFERENCES)
    assert (tree(server.cache), server.snapshot()) == before

    result = server.tool("restore_server")
    assert result.returncode == 0, result.stderr
    assert not later.exists()
    [aside] = (server.cache / "removed_by_restore").iterdir()
    moved = aside / "references" / later.name
    assert sha1(moved) == before[0][f"references/hst/{later.name}"][0]
    assert f"set aside: {later}" in result.stdout and f"were moved into {aside}" in result.stdout
    assert "hst_acs_biasfile_0009.fits" not in server.snapshot()["records"]
    assert all(server.ref(name).exists() for name in TINY_REFERENCES)
