"""The real `crds` client, run as a subprocess against a live server (crds-protocol.md §6, §8).

Expected values come from the crds library working locally on this test
process's own imported copy of the rules (tests that need it request `db`,
which imports it), never from the server under test.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from crds import data_file
from crds.core import heavy_client, rmap
from crds_server import testing

CRDS = str(Path(sys.executable).parent / "crds")
HELD_REFERENCE = "s7g1700gl_dead.fits"  # selected by hst_0729.pmap, held by the live server
DEAD_HEADER = {"INSTRUME": "COS", "DETECTOR": "FUV", "DATE-OBS": "1997-01-01", "TIME-OBS": "00:00:00"}


def run(server, crds_path: Path, *args: str, env: dict | None = None, check: bool = True):
    result = subprocess.run([CRDS, *args], env=server.client_env(crds_path, **(env or {})),
                            capture_output=True, text=True, timeout=600)
    if check:
        assert result.returncode == 0, f"crds {' '.join(args)} failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
    return result


def python(server, crds_path: Path, code: str, **env: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], env=server.client_env(crds_path, **env),
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def sha1(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


def original(name: str) -> Path:
    """The shared cache's (or test data's) copy of a file."""
    for path in (testing.test_cache() / "mappings" / "hst" / name, testing.test_cache() / "references" / "hst" / name,
                 testing.test_data() / "hst" / name):
        if path.exists():
            return path
    raise FileNotFoundError(name)


@pytest.fixture(scope="module")
def synced(crds_live_server, tmp_path_factory) -> Path:
    """A client cache holding the mappings of hst_0729.pmap, synced from the live server."""
    cache = tmp_path_factory.mktemp("client-cache")
    run(crds_live_server, cache, "sync", "--contexts", "hst_0729.pmap")
    return cache


def test_list_status(crds_live_server, tmp_path):
    out = run(crds_live_server, tmp_path, "list", "--status").stdout
    assert "hst_0729.pmap" in out
    assert crds_live_server.url in out
    assert "Last Synced" in out or "last_synced" in out.lower()


def test_sync_contexts_fetches_the_mapping_closure(db, synced):
    expected = rmap.get_cached_mapping("hst_0729.pmap").mapping_names()
    fetched = sorted(path.name for path in (synced / "mappings" / "hst").iterdir())
    assert fetched == sorted(expected)
    for name in expected[:20]:
        assert sha1(synced / "mappings" / "hst" / name) == sha1(original(name))
    assert (synced / "config" / "hst" / "server_config").exists()
    assert (synced / "config" / "hst" / "bad_files.txt").read_text().split()


def test_sync_check_files_on_a_synced_cache(crds_live_server, synced):
    result = run(crds_live_server, synced, "sync", "--contexts", "hst_0729.pmap", "--check-files", "--check-sha1sum")
    assert "0 errors" in result.stderr + result.stdout


def test_sync_files_downloads_a_reference(crds_live_server, tmp_path):
    run(crds_live_server, tmp_path, "sync", "--files", HELD_REFERENCE, "v8q14451j_idc.fits")
    for name in (HELD_REFERENCE, "v8q14451j_idc.fits"):
        local = next(tmp_path.joinpath("references").rglob(name))
        assert sha1(local) == sha1(original(name))
    result = run(crds_live_server, tmp_path, "sync", "--files", HELD_REFERENCE, "--check-files", "--check-sha1sum")
    assert "0 errors" in result.stderr + result.stdout


def test_sync_of_a_reference_the_server_does_not_hold_fails_cleanly(crds_live_server, tmp_path):
    result = run(crds_live_server, tmp_path, "sync", "--files", "m4r1753rj_bia.fits", check=False)
    output = result.stdout + result.stderr
    assert "404" in output and "m4r1753rj_bia.fits" in output
    assert not list(tmp_path.rglob("m4r1753rj_bia.fits"))


def test_sync_range(db, crds_live_server, tmp_path):
    run(crds_live_server, tmp_path, "sync", "--range", "728:729")
    fetched = {path.name for path in (tmp_path / "mappings" / "hst").iterdir()}
    assert {"hst_0728.pmap", "hst_0729.pmap"} <= fetched
    expected = set(rmap.get_cached_mapping("hst_0728.pmap").mapping_names()) | set(
        rmap.get_cached_mapping("hst_0729.pmap").mapping_names())
    assert fetched == expected


def test_resolve_contexts_by_date_and_symbol(db, crds_live_server, tmp_path):
    out = run(crds_live_server, tmp_path, "list", "--resolve-contexts", "--contexts", "hst-acs-biasfile-edit",
              "hst-2019-09-05T00:00:00", "hst-operational", "hst-wfc3-2017-03-01T00:00:00").stdout.split()
    acs = rmap.get_cached_mapping("hst_0729.pmap").get_imap("acs")
    assert len(out) == 4
    assert set(out) == {acs.get_rmap("biasfile").basename, "hst_0728.pmap", "hst_0729.pmap",
                        next(name for name in out if name.startswith("hst_wfc3_"))}
    assert next(name for name in out if name.startswith("hst_wfc3_")).endswith(".imap")


def test_bestrefs_files_equals_local_computation(db, crds_live_server, synced, tmp_path):
    dataset = tmp_path / "j8bt05njq_raw.fits"
    shutil.copy(testing.test_data() / "hst" / dataset.name, dataset)
    dataset.chmod(0o644)
    run(crds_live_server, synced, "bestrefs", "--files", str(dataset), "--new-context", "hst_0729.pmap",
        "--update-bestrefs")
    expected = heavy_client.hv_best_references("hst_0729.pmap", data_file.get_header(
        str(testing.test_data() / "hst" / dataset.name)))
    updated = data_file.get_header(str(dataset))
    checked = 0
    for filekind, name in expected.items():
        if not name.startswith("NOT FOUND"):
            assert updated[filekind.upper()].split("$")[-1] == name, filekind
            checked += 1
    assert checked >= 8


def test_getreferences_remote_mode_uses_the_server(crds_live_server, tmp_path):
    code = (f"import crds; refs = crds.getreferences({DEAD_HEADER!r}, reftypes=['deadtab'], "
            "context='hst_0729.pmap', observatory='hst'); print(refs['deadtab'])")
    path = Path(python(crds_live_server, tmp_path, code, CRDS_MODE="remote").strip().splitlines()[-1])
    assert path.name == HELD_REFERENCE
    assert sha1(path) == sha1(original(HELD_REFERENCE))
    if not crds_live_server.external:  # an installed server's log is its operator's
        log = (crds_live_server.root / "runserver.log").read_text()
        assert "get_best_references" in log
    assert not (tmp_path / "mappings" / "hst" / "hst_0729.pmap").exists()  # rules stayed on the server


def test_getreferences_local_mode_matches(crds_live_server, tmp_path):
    code = (f"import crds; refs = crds.getreferences({DEAD_HEADER!r}, reftypes=['deadtab'], "
            "observatory='hst'); print(refs['deadtab'])")
    path = Path(python(crds_live_server, tmp_path, code, CRDS_MODE="local").strip().splitlines()[-1])
    assert path.name == HELD_REFERENCE
    assert (tmp_path / "mappings" / "hst" / "hst_0729.pmap").exists()


def test_fetch_sqlite_db(crds_live_server, tmp_path):
    run(crds_live_server, tmp_path, "sync", "--fetch-sqlite-db")
    db = sqlite3.connect(tmp_path / "config" / "hst" / "crds_db.sqlite3")
    try:
        count = db.execute("SELECT count(*) FROM crds_hst_catalog").fetchone()[0]
        latest = db.execute("SELECT context FROM crds_hst_context_history WHERE state='latest' "
                            "ORDER BY start_date DESC LIMIT 1").fetchone()[0]
    finally:
        db.close()
    assert count > 43_000 and latest == "hst_0729.pmap"


def test_push_context_then_list_remote_context(crds_live_server, synced):
    added = crds_live_server.manage("remote_context", "add", "hst-test-pipeline")
    key = added.stdout.split()[-1]
    run(crds_live_server, synced, "sync", "--contexts", "hst_0729.pmap", "--push-context", key)
    out = run(crds_live_server, synced, "list", "--remote-context", "hst-test-pipeline").stdout
    assert out.split()[-1] == "hst_0729.pmap"
    bad = run(crds_live_server, synced, "sync", "--contexts", "hst_0729.pmap", "--push-context", "0" * 32,
              check=False)
    assert "Server error setting" in bad.stderr and "1 errors" in bad.stderr
    assert run(crds_live_server, synced, "list", "--remote-context", "hst-test-pipeline").stdout.split()[-1] == \
        "hst_0729.pmap"


def test_server_answers_after_bad_requests(crds_live_server):
    import json
    import urllib.request

    for body in (b"{broken", b'{"method": "nope", "params": [], "id": 1}', b"x" * 100_000):
        with urllib.request.urlopen(crds_live_server.url + "/json/", body, timeout=30) as response:
            assert response.status == 200
            assert json.loads(response.read())["error"]
    body = json.dumps({"method": "get_default_context", "params": ["hst"], "id": 1}).encode()
    with urllib.request.urlopen(crds_live_server.url + "/json/", body, timeout=30) as response:
        assert json.loads(response.read())["result"] == "hst_0729.pmap"


def test_offline_fallback_after_the_server_stops(tmp_path_factory):
    """A synced client keeps computing from its cached server_config when the server is gone."""
    from jsonapi import live_server

    if live_server.external():
        pytest.skip("stops its own private server; the installed server under test must keep running")
    server = live_server.start(testing.test_cache())
    cache = tmp_path_factory.mktemp("offline-cache")
    try:
        run(server, cache, "sync", "--contexts", "hst_0729.pmap")
    finally:
        live_server.stop(server)
    env = server.client_env(cache, CRDS_MODE="local")
    code = (f"import crds; print(crds.getrecommendations({DEAD_HEADER!r}, reftypes=['deadtab'], "
            "observatory='hst')['deadtab'])")
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == HELD_REFERENCE
    assert os.path.exists(cache / "config" / "hst" / "server_config")
