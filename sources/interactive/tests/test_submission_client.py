"""End to end with the real `crds` client: submit --autoconfirm, archive, set context, sync.

Runs its own server process (jsonapi.live_server.start), because the
submission changes the edit and latest contexts that other tests of the
shared live server rely on.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from crds_server import testing
from jsonapi import live_server

CHECKOUT = Path(__file__).resolve().parents[3]
BIAS = "hst_acs_biasfile_0001.fits"

SETUP_USER = """
from django.contrib.auth.models import Group, User
user = User.objects.create_user("alice", "alice@example.org", "secret", first_name="Alice", last_name="Ames")
user.groups.add(Group.objects.get_or_create(name="file_submission")[0])
"""


@pytest.fixture(scope="module")
def server():
    with live_server.private(SETUP_USER) as started:
        yield started


def rpc(server, method: str, *params):
    body = json.dumps({"jsonrpc": "1.0", "method": method, "params": list(params), "id": 1}).encode()
    request = urllib.request.Request(f"{server.url}/json/{method}", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        reply = json.loads(response.read())
    assert reply.get("error") is None, reply
    return reply["result"]


def crds(server, client_cache: Path, *args: str) -> subprocess.CompletedProcess:
    env = server.client_env(client_cache, CRDS_USERNAME="alice", MAST_API_TOKEN="secret")
    return subprocess.run([sys.executable, "-m", *args], env=env, capture_output=True, text=True, timeout=900,
                          cwd=client_cache)


def test_submit_confirm_archive_set_context_and_sync(server, tmp_path):
    client_cache = tmp_path / "client-cache"
    client_cache.mkdir()
    upload = tmp_path / BIAS
    shutil.copy(testing.test_data() / "hst" / BIAS, upload)

    submitted = crds(server, client_cache, "crds.submit", "--files", str(upload), "--monitor-processing",
                     "--wait-for-completion", "--wipe-existing-files", "--autoconfirm",
                     "--description", "End to end bias", "--creator", "Alice Ames")
    output = submitted.stdout + submitted.stderr
    assert submitted.returncode == 0, output
    assert "COMPLETED" in output, output
    assert "CRDS server error" not in output, output

    assert rpc(server, "get_default_context", "hst", "edit") == "hst_0730.pmap"
    assert rpc(server, "get_default_context", "hst", "latest") == "hst_0729.pmap"
    deliveries = rpc(server, "get_delivery_status", None)
    assert deliveries[0]["status"] == "delivered"
    official = next(name for name in deliveries[0]["files"] if name.endswith("_bia.fits"))
    assert sorted(deliveries[0]["files"]) == sorted([official, "hst_0730.pmap", "hst_acs_0422.imap",
                                                     "hst_acs_biasfile_0346.rmap"])

    env = {**os.environ, "CRDS_SITE_ENV": str(server.root / "site.env")}
    poll = subprocess.run([sys.executable, str(CHECKOUT / "tools" / "archive_poller"), "--through"], env=env,
                          capture_output=True, text=True, check=True)
    assert f"{deliveries[0]['catalog']} archived" in poll.stdout
    subprocess.run([str(CHECKOUT / "host" / "update_delivery_status")], env=env, check=True)
    log = server.root / "cron_logs" / f"update_delivery_status.{datetime.date.today():%Y-%m-%d}.log"
    assert "4 file(s) now archived" in log.read_text()
    assert rpc(server, "get_delivery_status", None)[0]["status"] == "archived"

    server.manage("shell", "-c", "from interactive import set_context; "
                                 "set_context.set_context('latest', 'hst_0730.pmap', 'End to end', 'alice')")
    info = rpc(server, "get_server_info")
    assert info["operational_context"] == "hst_0730.pmap"

    synced = crds(server, client_cache, "crds.sync", "--contexts", "hst-latest")
    assert synced.returncode == 0, synced.stdout + synced.stderr
    pmap = client_cache / "mappings" / "hst" / "hst_0730.pmap"
    assert pmap.exists()
    fetched = crds(server, client_cache, "crds.sync", "--files", official, "--check-sha1sum")
    assert fetched.returncode == 0, fetched.stdout + fetched.stderr
    local = next(client_cache.rglob(official))
    served = server.root / "file_cache" / "references" / "hst" / official
    assert hashlib.sha1(local.read_bytes()).hexdigest() == hashlib.sha1(served.read_bytes()).hexdigest()
