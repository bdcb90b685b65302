"""tools/mirror_server: from a server's backup plus HTTP, and from its public interface only.

The source is the session's live HST server (jsonapi.live_server, the shared test cache plus
three real references); targets are fresh server roots.  After mirroring, `crds sync` from the
source and from the mirror (served by its own runserver) must give identical caches.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request

import pytest
from crds.client import proxy
from jsonapi import live_server

from tests.ops_support import (
    TINY_CONTEXT,
    TINY_REFERENCES,
    UNHELD_REFERENCE,
    make_root,
    remove_root,
    serve,
    sha1,
    tiny_rules_cache,
    tree,
)

SOURCE_REFERENCES = ["v8q14451j_idc.fits", "z1q2219el_2zx.fits", "s7g1700gl_dead.fits", "j4d1435jj_bpx.fits"]


def server_info(url: str) -> dict:
    request = urllib.request.Request(url + "/json/", data=json.dumps(
        {"jsonrpc": "1.0", "method": "get_server_info", "params": [], "id": 1}).encode(),
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())["result"]


def crds_sync(url: str, cache, *args: str) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cache), "CRDS_SERVER_URL": url, "CRDS_PATH": str(cache),
           "CRDS_OBSERVATORY": "hst", "CRDS_MODE": "remote"}
    return subprocess.run([sys.executable, "-m", "crds.sync", *args], env=env, capture_output=True, text=True,
                          timeout=900)


@pytest.fixture
def target():
    root = make_root(None)
    yield root
    remove_root(root)


def test_mirror_from_backup_then_crds_sync_gives_identical_caches(crds_live_server, target, tmp_path):
    made = crds_live_server.manage("backup_server")
    assert "Made backup" in made.stdout
    source_backup = crds_live_server.root / "server" / "db_backups" / "latest"
    stray = target.ref("stray000l_bia.fits")
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_bytes(b"not in the source")

    mirror = ("mirror_server", "hst", "django", crds_live_server.url, "--backup", str(source_backup))
    result = target.tool(*mirror, "--dry-run")
    assert result.returncode == 0 and "would restore backup" in result.stdout, result.stderr
    assert stray.exists() and target.snapshot()["records"] == {}

    result = target.tool(*mirror)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "fetched 8 files with crds sync" in result.stdout
    assert f"set aside: {stray}" in result.stdout
    assert "0 stray, 0 missing, 0 corrupt files (sha1sums not checked); 0 deleted." in result.stdout
    assert not stray.exists() and list(target.cache.glob(f"removed_by_restore/*/references/{stray.name}"))
    assert "WARNING" not in result.stdout
    for name in SOURCE_REFERENCES:
        assert target.ref(name).stat().st_mode & 0o777 == 0o444

    process, url = serve(target)
    try:
        mine, theirs = server_info(url), server_info(crds_live_server.url)
        for key in ("operational_context", "edit_context", "mappings", "context_history", "bad_files_list"):
            assert mine[key] == theirs[key], key
        assert proxy.crds_decode(mine["download_metadata"]) == proxy.crds_decode(theirs["download_metadata"])
        caches = {}
        for label, server_url in (("source", crds_live_server.url), ("mirror", url)):
            cache = tmp_path / label
            for args in (("--contexts", "hst_0729.pmap"), ("--files", *SOURCE_REFERENCES)):
                synced = crds_sync(server_url, cache, *args)
                assert synced.returncode == 0, synced.stdout + synced.stderr
            caches[label] = {**tree(cache / "mappings"), **tree(cache / "references")}
        assert caches["source"] == caches["mirror"]
        assert len([n for n in caches["mirror"] if n.endswith(".rmap")]) > 50
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_mirror_from_server_public_interface(crds_live_server, target):
    only = ("--contexts", "hst_0729.pmap")
    result = target.tool("mirror_server", "--from-server", crds_live_server.url, *only, "--dry-run")
    assert result.returncode == 0 and "dry run: would replace the catalog of 0 files" in result.stdout
    assert target.snapshot()["records"] == {}

    result = target.tool("mirror_server", "--from-server", crds_live_server.url, *only)
    assert result.returncode == 0, result.stdout + result.stderr
    snapshot = target.snapshot()
    info = server_info(crds_live_server.url)
    mappings = {name for name, row in snapshot["records"].items() if row["type"] == "mapping"}
    assert sorted(mappings) == info["mappings"]
    assert dict(snapshot["pointers"])["latest"] == info["operational_context"]
    assert len(snapshot["history"]) == len(info["context_history"])
    # File metadata of every distributed file, references included, without their contents.
    held = {name for name, row in snapshot["records"].items() if row["present"] == "True"}
    assert "hst_0729.pmap" in held and "hst_acs_0001.imap" not in held and held < mappings
    assert held == set(snapshot["mappings"]) and snapshot["references"] == []
    assert snapshot["records"]["v8q14451j_idc.fits"]["present"] == "False"
    assert len(snapshot["records"]) > 40000


@pytest.fixture(scope="module")
def small_source(tmp_path_factory):
    """A live server whose operational context selects three references, two of which it holds."""
    server = live_server.start(tiny_rules_cache(tmp_path_factory.mktemp("small"), unheld=True))
    yield server
    live_server.stop(server)


def test_mirror_from_server_with_references(small_source, target):
    result = target.tool("mirror_server", "--from-server", small_source.url, "--references", "operational")
    assert result.returncode == 0, result.stdout + result.stderr
    warnings = [line for line in result.stdout.splitlines() if line.startswith("WARNING")]
    assert warnings and all(UNHELD_REFERENCE in line for line in warnings), result.stdout
    records = target.snapshot()["records"]
    served = small_source.root / "file_cache" / "references" / "hst"
    for name in TINY_REFERENCES:
        copy = target.ref(name)
        assert sha1(copy) == sha1(served / name) == records[name]["sha1sum"], name
        assert records[name]["present"] == "True" and copy.stat().st_mode & 0o777 == 0o444
    assert records[UNHELD_REFERENCE]["present"] == "False" and not target.ref(UNHELD_REFERENCE).exists()
    assert records[TINY_CONTEXT]["present"] == "True"
    checked = target.tool("orphan_files", "--check-sha1sum")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "0 stray, 0 missing, 0 corrupt files (sha1sums checked)" in checked.stdout


def test_refusals_and_bad_arguments(crds_live_server, tmp_path):
    ops = make_root(None, usecase="ops", migrate=False)
    try:
        result = ops.tool("mirror_server", "--from-server", crds_live_server.url)
        assert result.returncode == 1 and "This is an ops server" in result.stderr and "--force" in result.stderr
    finally:
        remove_root(ops)
    dev = make_root(None, usecase="dev", migrate=False)
    try:
        for args, message in (
            (("hst", "django"), "Give OBS USECASE SOURCE_URL"),
            (("--from-server", "ftp://example"), "Invalid server URL"),
            (("jwst", "django", crds_live_server.url, "--backup", str(tmp_path)), "cannot mirror a jwst server"),
            (("hst", "django", crds_live_server.url, "--backup", str(tmp_path / "none")), "No backup"),
            (("hst", "ops", crds_live_server.url, "--from-server", crds_live_server.url), "not both"),
            (("hst", "test", crds_live_server.url), "Server hst test has no latest backup"),
        ):
            result = dev.tool("mirror_server", *args)
            assert result.returncode != 0 and message in result.stderr, (args, result.stderr)
            assert "Traceback" not in result.stderr
    finally:
        remove_root(dev)


def test_sync_group_cache(crds_live_server, target, tmp_path):
    shared = tmp_path / "grp"
    result = target.manage("sync_group_cache", str(shared), "--url", crds_live_server.url, check=False)
    assert result.returncode == 0 and "is not ops: nothing done" in result.stdout and not shared.exists()
    result = target.tool("host/sync_ops_to_grp")
    assert result.returncode == 0 and "is not ops: nothing done" in result.stdout

    result = target.manage("sync_group_cache", str(shared), "--url", crds_live_server.url, "--contexts",
                           "hst_0729.pmap", "--no-references", "--force")
    assert f"synchronised {shared}" in result.stdout
    rmaps = list((shared / "mappings" / "hst").glob("*.rmap"))
    assert len(rmaps) > 50 and (shared / "mappings" / "hst" / "hst_0729.pmap").exists()
    assert all(path.stat().st_mode & 0o777 == 0o444 for path in rmaps)
    result = target.manage("sync_group_cache", "relative/dir", "--force", check=False)
    assert result.returncode == 1 and "absolute path" in result.stderr
