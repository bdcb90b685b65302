"""File submission end to end on the production stack (issue 5): Apache + mod_wsgi, MariaDB, memcached,
Celery + Redis, as ./install and ./run set them up in a copy of the checkout.

Login -> upload through the web uploader -> Batch Submit References (progress followed live over
JSON-RPC jpoll) -> READY -> Confirm -> the delivery catalog appears -> tools/archive_poller archives it
-> Celery refreshes the delivery status -> Set Context (operational) -> the real `crds sync` and
`crds bestrefs`, with a fresh cache of their own, see the new rules and fetch the new reference.
The embedded-stack version of the same path is interactive/tests/test_submission_client.py.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import threading
import time
from pathlib import Path

import numpy
import pytest
import requests
from astropy.io import fits
from celery import Celery
from crds_server import testing
from interactive.tests.test_submission_client import BIAS, crds, rpc
from jsonapi import live_server
from pymemcache.client.base import Client as Memcache
from pymemcache.serde import pickle_serde

from conftest import REDIS_URL, make_copy, remove_copy, script_env

PASSWORD = "secret"  # what test_submission_client.crds() presents for alice
STATUS, CONFIRM = "crds-status@example.org", "crds-confirm@example.org"
# The ACS WFC bias case hst_acs_biasfile_0001.fits replaces: USEAFTER 2013-04-12, next one 2013-05-09.
# hst_0729.pmap gives this dataset 25b1734kj_bia.fits.
DATASET_KEYS = {"INSTRUME": "ACS", "DETECTOR": "WFC", "CCDAMP": "ABCD", "CCDGAIN": 2.0, "APERTURE": "WFC",
                "DATE-OBS": "2013-04-20", "TIME-OBS": "00:00:00", "BIASCORR": "PERFORM", "LTV1": 24.0, "LTV2": 0.0}

pytestmark = pytest.mark.skipif(subprocess.run(["mariadb", "-uroot", "-e", "SELECT 1"], capture_output=True)
                                .returncode != 0, reason="no local MariaDB server reachable as root")


@pytest.fixture(scope="module")
def production(smtp):
    """A copy installed as hst dev under /hst, loaded with the HST test cache, with user alice."""
    copy = make_copy()
    try:
        copy.write_production_config("hst", "dev", CRDS_URL_PREFIX="/hst", CRDS_EMAIL_PORT=str(smtp[1]),
                                     CRDS_STATUS_TO_ADDRESSES=STATUS, CRDS_STATUS_CONFIRM_ADDRESSES=CONFIRM)
        copy.run("./install", "hst", "dev", check=True)
        copy.run("./init", "--from-cache", str(testing.test_cache()), check=True, timeout=900)
        added = subprocess.run(["tools/add_user", "alice", "alice@example.org", "--group", "file_submission",
                                "--first-name", "Alice", "--last-name", "Ames", "--password-stdin"],
                               cwd=copy.root, env=script_env(), input=PASSWORD + "\n", capture_output=True,
                               text=True, timeout=300)
        assert added.returncode == 0, added.stderr
        copy.run("./run", check=True, timeout=180)
        copy.url = f"http://127.0.0.1:{copy.port}/hst"
        copy.files = Path(copy.site()["CRDS_SERVER_FILES"])
        copy.cache = Path(copy.site()["CRDS_FILE_CACHE"])
        copy.client = live_server.LiveServer(url=copy.url, root=copy.root)  # for the crds client helpers
        yield copy
    finally:
        remove_copy(copy)


def login(production, instrument: str) -> requests.Session:
    session = requests.Session()
    session.get(f"{production.url}/login/", timeout=60).raise_for_status()
    answer = session.post(f"{production.url}/login/", allow_redirects=False, timeout=60, data={
        "username": "alice", "password": PASSWORD, "instrument": instrument, "next": "/",
        "csrfmiddlewaretoken": session.cookies["csrftoken"]})
    assert answer.status_code == 302, answer.text[-2000:]
    return session


def follow(production, key: str, seen: list[dict], stop: threading.Event) -> None:
    """Collect the messages of jpoll channel `key` as the crds client does, until `done`."""
    while not stop.is_set():
        for message in rpc(production.client, "jpoll_pull_messages", key, "next"):
            seen.append({**message, "pulled": time.monotonic()})
        if any(m["type"] == "done" for m in seen):
            return
        time.sleep(0.5)


def sha1(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


def test_upload_submit_confirm_archive_set_context_sync_and_bestrefs(production, smtp, tmp_path):
    collector, _ = smtp
    session = login(production, "acs")
    token = session.cookies["csrftoken"]
    with open(testing.test_data() / "hst" / BIAS, "rb") as data:
        uploaded = session.post(f"{production.url}/upload/new/", files={"files": (BIAS, data)},
                                headers={"X-CSRFToken": token}, timeout=120)
    assert uploaded.status_code == 200, uploaded.text
    assert [f["name"] for f in uploaded.json()["files"]] == [BIAS]
    ingested = production.files / "ingest" / "alice" / BIAS
    assert sha1(ingested) == sha1(testing.test_data() / "hst" / BIAS)

    form = session.get(f"{production.url}/batch_submit_references/", timeout=60)
    assert form.status_code == 200 and BIAS in form.text
    key = session.get(f"{production.url}/jpoll/open_channel/", timeout=60).json()
    seen: list[dict] = []
    stop = threading.Event()
    poller = threading.Thread(target=follow, args=(production, key, seen, stop), daemon=True)
    poller.start()
    try:
        submitted = session.post(f"{production.url}/batch_submit_references/", allow_redirects=False, timeout=900,
                                 data={"pmap_mode": "pmap_edit", "pmap_name": "hst_0729.pmap", "instrument": "acs",
                                       "change_level": "SEVERE", "description": "Production end to end bias",
                                       "creator": "Alice Ames", "auto_rename": "True",
                                       "compare_old_reference": "False", "csrfmiddlewaretoken": token})
        answered = time.monotonic()
        poller.join(timeout=60)
    finally:
        stop.set()
    assert submitted.status_code == 302, testing.error_message(submitted.text) or submitted.text[-2000:]
    location = submitted.headers["Location"]
    assert re.match(r"^/hst/display_result/[0-9a-f-]{36}$", location), location
    # Progress and `done` arrived while the POST was still running (it waits for pollers before answering).
    progress = [m for m in seen if m["type"] == "log_message"]
    assert any(f"Certifying &#x27;{BIAS}&#x27;" in m["data"] or f"Certifying '{BIAS}'" in m["data"]
               for m in progress), seen
    done = [m for m in seen if m["type"] == "done"]
    assert done and done[0]["data"] == {"status": 0, "result": f"http://127.0.0.1:{production.port}{location}"}
    assert done[0]["pulled"] < answered

    ready = session.get(f"http://127.0.0.1:{production.port}{location}", timeout=60)
    assert ready.status_code == 200 and testing.error_message(ready.text) == ""
    assert '<h2 id="submission-status">READY: batch submit</h2>' in ready.text
    official = re.search(rf'<td id="{re.escape(BIAS)}">([0-9a-z]{{8}}j_bia\.fits)</td>', ready.text).group(1)
    assert "Logical Diff ('hst_acs_biasfile_0345.rmap', 'hst_acs_biasfile_0346.rmap')" in ready.text
    assert requests.get(f"http://127.0.0.1:{production.port}{location}", allow_redirects=False,
                        timeout=60).status_code == 302  # login required

    confirmed = session.post(f"{production.url}/submit_confirm/", timeout=600, data={
        "results_id": location.rsplit("/", 1)[1], "button": "confirm", "csrfmiddlewaretoken": token})
    assert confirmed.status_code == 200, confirmed.text[-2000:]
    assert testing.error_message(confirmed.text) == ""
    assert f'<a href="/hst/browse/{official}">{official}</a>' in confirmed.text
    assert '<a href="/hst/browse/hst_0730.pmap">hst_0730.pmap</a>' in confirmed.text
    assert rpc(production.client, "get_default_context", "hst", "edit") == "hst_0730.pmap"
    assert session.get(f"{production.url}/batch_submit_references/", allow_redirects=False,
                       timeout=60).status_code == 302  # logged out: the lock is released
    assert not ingested.exists()

    # The delivery: catalog last, every listed file hard-linked beside it.
    delivery = rpc(production.client, "get_delivery_status", None)[0]
    delivered = sorted([official, "hst_0730.pmap", "hst_acs_0422.imap", "hst_acs_biasfile_0346.rmap"])
    assert (delivery["status"], sorted(delivery["files"])) == ("delivered", delivered)
    deliveries = production.files / "deliveries"
    catalog = deliveries / delivery["catalog"]
    assert re.match(r"^opus_\d+_i\.cat$", catalog.name)
    assert sorted(catalog.read_text().split()) == delivered
    for name in delivered:
        assert (deliveries / name).stat().st_ino == (production.cache / ("references" if name.endswith(".fits")
                                                                          else "mappings") / "hst" / name).stat().st_ino
    assert sorted(catalog.read_text().split()) == sorted((production.files / "catalogs" / catalog.name)
                                                         .read_text().split())

    polled = production.run("tools/archive_poller", "--through", check=True)
    assert f"{catalog.name} archived (4 files)" in polled.stdout
    assert sorted(p.name for p in deliveries.iterdir()) == []
    celery = Celery(broker=REDIS_URL, backend=REDIS_URL)
    try:
        changed = celery.send_task("interactive.update_delivery_status", queue=production.queue).get(timeout=120)
    finally:
        celery.close()
    assert changed == 4
    assert rpc(production.client, "get_delivery_status", None)[0]["status"] == "archived"

    operator = login(production, "none")
    chosen = operator.post(f"{production.url}/set_default_context/", timeout=300, data={
        "context_type": "latest", "pmap_mode": "pmap_text", "pmap_text": "hst_0730.pmap",
        "description": "Production end to end", "csrfmiddlewaretoken": operator.cookies["csrftoken"]})
    assert chosen.status_code == 200 and testing.error_message(chosen.text) == "", testing.error_message(chosen.text)
    info = rpc(production.client, "get_server_info")  # through memcached: no stale answer
    assert info["operational_context"] == "hst_0730.pmap"

    client_cache = tmp_path / "client-cache"
    client_cache.mkdir()
    synced = crds(production.client, client_cache, "crds.sync", "--contexts", "hst-operational")
    assert synced.returncode == 0, synced.stdout + synced.stderr
    rmap = client_cache / "mappings" / "hst" / "hst_acs_biasfile_0346.rmap"
    assert official in rmap.read_text()
    assert sha1(client_cache / "mappings" / "hst" / "hst_0730.pmap") == sha1(
        production.cache / "mappings" / "hst" / "hst_0730.pmap")

    dataset = tmp_path / "acs_wfc_raw.fits"
    fits.HDUList([fits.PrimaryHDU(header=fits.Header(list(DATASET_KEYS.items()))),
                  fits.ImageHDU(numpy.zeros((2, 4), dtype=numpy.int16), name="SCI")]).writeto(dataset)
    bestrefs = crds(production.client, client_cache, "crds.bestrefs", "--files", str(dataset), "--new-context",
                    "hst-operational", "--types", "biasfile", "--update-bestrefs")
    assert bestrefs.returncode == 0, bestrefs.stdout + bestrefs.stderr
    assert fits.getheader(dataset)["BIASFILE"] == f"jref${official}"

    fetched = crds(production.client, client_cache, "crds.sync", "--files", official, "--check-sha1sum")
    assert fetched.returncode == 0, fetched.stdout + fetched.stderr
    local = next(client_cache.rglob(official))
    assert sha1(local) == rpc(production.client, "get_file_info", "hst", official)["sha1sum"]
    assert sha1(local) == sha1(production.cache / "references" / "hst" / official)

    subjects = {message["Subject"] for _, message in collector.messages}
    for subject in ("STARTED Batch Submit", "READY Batch Submit", "CONFIRMED Batch Submit"):
        assert f"CRDS HST DEV {subject} by Alice Ames" in subjects, subjects


def job_mails(collector, seen: int, count: int, timeout: float = 120) -> list[tuple[list[str], object]]:
    """The first `count` messages about scheduled jobs received after the first `seen` ones (others
    may arrive meanwhile: the affected-datasets mail of the set context above)."""
    deadline = time.monotonic() + timeout
    while True:
        found = [(to, message) for to, message in collector.messages[seen:] if "scheduled job" in message["Subject"]]
        if len(found) >= count:
            return found
        assert time.monotonic() < deadline, f"{len(found)} of {count} mails arrived"
        time.sleep(0.5)


def test_a_failing_scheduled_job_is_mailed_to_the_operators_and_so_is_its_recovery(production, smtp):
    """Beat's jobs run in the Celery worker, where no cron mails a failure: the worker tells the operators."""
    collector, _ = smtp
    seen = len(collector.messages)
    task = "reprocessing.tasks.query_affected_datasets"
    app = Celery(broker=REDIS_URL, backend=REDIS_URL)
    try:
        for _ in range(2):  # the server's own client, sent to a port where nothing answers
            app.send_task(task, args=[f"http://127.0.0.1:{production.backup_port}/hst"], queue=production.queue)
        [(recipients, failed)] = job_mails(collector, seen, 1)
        # Both runs are counted in the state the worker's processes share in memcached.
        memcache = Memcache(("127.0.0.1", production.memcached_port), serde=pickle_serde)
        key = f"{production.queue}:1:operations.alerts.failing:{task}"
        deadline = time.monotonic() + 120
        while (memcache.get(key) or {}).get("failures") != 2:
            assert time.monotonic() < deadline, memcache.get(key)
            time.sleep(0.5)
        assert recipients == [STATUS]
        assert failed["Subject"].startswith(f"CRDS HST DEV scheduled job {task} FAILED: QueryError: crds "
                                            f"query_affected against http://127.0.0.1:{production.backup_port}"
                                            "/hst failed")
        app.send_task(task, queue=production.queue)  # its own public URL: a first run records the history
        recipients, recovered = job_mails(collector, seen, 2)[1]
    finally:
        app.close()
    assert recipients == [STATUS]
    assert re.match(rf"CRDS HST DEV scheduled job {task} recovered: it succeeded at [-0-9: ]+ after 2 failed runs$",
                    recovered["Subject"]), recovered["Subject"]
    assert "QueryError: crds query_affected against" in recovered.get_content()
    time.sleep(2)
    assert len(job_mails(collector, seen, 2)) == 2, "the second failure was not mailed again"
