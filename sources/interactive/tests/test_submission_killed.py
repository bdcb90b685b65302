"""A submission whose worker is killed mid-way leaves nothing behind once the hourly cleanup has run.

The worker is a real process (manage.py shell) on a server root of its own,
killed with SIGKILL after the references are cataloged and the new rmap is
written; the catalog and the file cache are then compared.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time

import pytest
from crds_server import testing
from jsonapi import live_server

SETUP = """
from django.contrib.auth.models import Group, User
User.objects.create_user("alice", "alice@example.org", "secret").groups.add(
    Group.objects.get_or_create(name="file_submission")[0])
"""

SUBMIT = """
import pathlib, time
from interactive import submission
real = submission._set_mapping_names
def stall(*args, **kwargs):
    real(*args, **kwargs)
    pathlib.Path({signal!r}).write_text("rmap written")
    time.sleep(600)
if {stall!r}:
    submission._set_mapping_names = stall
result = submission.batch_submit(submission.BatchRequest(user="alice", description={description!r}))
print("READY", result.name)
"""

STATE = """
import json
from interactive import storage
from interactive.models import FileRecord
uploaded = sorted(FileRecord.objects.filter(state="uploaded").values_list("name", flat=True))
cached = {p.name for d in (storage.mappings_dir(), storage.references_dir()) for p in d.iterdir() if p.is_file()}
cataloged = set(FileRecord.objects.filter(present=True).values_list("name", flat=True))
print(json.dumps({"uploaded": uploaded, "uncataloged": sorted(cached - cataloged),
                  "missing": sorted(n for n in cataloged if not storage.cache_path(n).exists())}))
"""


@pytest.fixture(scope="module")
def server():
    with live_server.private(SETUP) as started:
        yield started


def state(server) -> dict:
    return json.loads(server.manage("shell", "-c", STATE).stdout.strip().splitlines()[-1])


def upload(server, name: str) -> None:
    ingest = server.root / "server_files" / "ingest" / "alice"
    ingest.mkdir(parents=True, exist_ok=True)
    shutil.copy(testing.test_data() / "hst" / name, ingest / name)


def test_killed_submission_is_cleaned_and_pending_ones_are_kept(server, tmp_path):
    before = state(server)
    assert before["uploaded"] == []

    upload(server, "hst_acs_biasfile_0001.fits")
    ready = server.manage("shell", "-c", SUBMIT.format(signal="", stall=False, description="kept pending"))
    assert "READY" in ready.stdout, ready.stdout + ready.stderr
    pending = state(server)["uploaded"]
    assert len(pending) == 2  # the reference and its new rmap, awaiting confirmation

    (server.root / "server_files" / "ingest" / "alice" / "hst_acs_biasfile_0001.fits").unlink()
    upload(server, "s7g1700gl_dead_good_xsum.fits")
    signal = tmp_path / "signal"
    worker = subprocess.Popen([sys.executable, str(live_server.CHECKOUT / "manage.py"), "shell", "-c",
                               SUBMIT.format(signal=str(signal), stall=True, description="killed")],
                              env=server.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 300
    while not signal.exists():
        assert worker.poll() is None, worker.stdout.read().decode()
        assert time.monotonic() < deadline, "the worker never reached the rmap step"
        time.sleep(0.2)
    worker.kill()
    worker.wait()

    left = state(server)
    orphans = sorted(set(left["uploaded"]) - set(pending))
    assert len(orphans) == 2 and any(n.endswith(".rmap") for n in orphans), left
    assert (server.root / "server_files" / "ingest" / "alice" / "s7g1700gl_dead_good_xsum.fits").exists()

    cleaned = server.manage("remove_abandoned_uploads", "--older-than-minutes", "0")
    assert all(name in cleaned.stdout for name in orphans), cleaned.stdout
    after = state(server)
    assert after["uploaded"] == pending  # the READY submission is untouched
    assert after["missing"] == before["missing"]
    assert after["uncataloged"] == before["uncataloged"]  # no file of the killed submission is left
    assert (server.root / "server_files" / "ingest" / "alice" / "s7g1700gl_dead_good_xsum.fits").exists()
