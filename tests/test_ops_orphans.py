"""tools/orphan_files: stray, missing and corrupt files, on a small server root."""

from __future__ import annotations

import pytest
from crds_server.testing import make_cache

from tests.ops_support import make_root, remove_root, tree

MAPPINGS = ["hst_acs_biasfile_0250.rmap", "hst_acs_idctab_0255.rmap"]
REFERENCES = ["v8q14451j_idc.fits", "z1q2219el_2zx.fits", "z1r1943el_1dx.fits"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    cache = make_cache(tmp_path_factory.mktemp("cache"), MAPPINGS, REFERENCES,
                       download_metadata={"zzzmeta0l_bia.fits": {"sha1sum": "0" * 40, "size": "10"}})
    root = make_root(cache)
    yield root
    remove_root(root)


def test_orphan_kinds_sha1_and_delete(server):
    result = server.tool("orphan_files", "--check-sha1sum")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 stray, 0 missing, 0 corrupt files (sha1sums checked)" in result.stdout
    # A metadata-only row (present == False) is known but not held: never "missing".
    assert "zzzmeta0l_bia.fits" in server.shell(
        "from interactive.models import FileRecord; print(list(FileRecord.objects.filter(present=False)"
        ".values_list('name', flat=True)))")

    stray = server.ref("stray000l_bia.fits")
    stray.write_bytes(b"not cataloged")
    server.ref("z1r1943el_1dx.fits").unlink()
    damaged = server.mapping("hst_acs_idctab_0255.rmap")
    damaged.chmod(0o644)
    damaged.write_text(damaged.read_text() + "# edited behind the catalog's back\n")

    result = server.tool("orphan_files")
    assert result.returncode == 1
    assert f"stray file (no catalog row): {stray}" in result.stdout
    assert "missing file (cataloged, not in the cache): z1r1943el_1dx.fits" in result.stdout
    assert "corrupt" not in result.stdout.split("\n")[0] and "0 corrupt files (sha1sums not checked)" in result.stdout
    assert "The cache and the catalog disagree" in result.stderr and "Traceback" not in result.stderr

    result = server.tool("orphan_files", "--check-sha1sum")
    assert "corrupt file (sha1sum differs from the catalog): hst_acs_idctab_0255.rmap" in result.stdout
    assert "1 stray, 1 missing, 1 corrupt files (sha1sums checked)" in result.stdout
    assert "zzzmeta0l_bia.fits" not in result.stdout

    before = tree(server.cache)
    result = server.tool("orphan_files", "--delete", "--dry-run")
    assert f"would delete: {stray}" in result.stdout and stray.exists()
    assert tree(server.cache) == before

    result = server.tool("orphan_files", "--delete")
    assert f"deleted: {stray}" in result.stdout and not stray.exists()
    assert result.returncode == 1  # the missing file is still there to be dealt with
    assert damaged.exists() and server.mapping("hst_acs_biasfile_0250.rmap").exists()


def test_bad_arguments(server):
    result = server.tool("orphan_files", "--remove-everything")
    assert result.returncode != 0 and "unrecognized arguments: --remove-everything" in result.stderr
