"""host/query_affected_datasets: the real crds client publishes newly affected ids by mail.

A live HST server of the shared test cache (its history ends hst_0727 → hst_0728 → hst_0729)
with 500 synthetic WFC3 datasets and the computation hst_0728 → hst_0729; mail goes to the real
SMTP sink.  The tests run in order: the first one finds no record yet.
"""

from __future__ import annotations

import json
import subprocess
import urllib.request
from datetime import date

import pytest
from crds_server import siteconfig, testing
from jsonapi import live_server

from tests.ops_support import CHECKOUT

OLD, NEW = "hst_0728.pmap", "hst_0729.pmap"


@pytest.fixture(scope="module")
def server(smtp):
    # CRDS_PUBLIC_URL names a port nothing answers on: the tests give the server's URL, except one.
    server = live_server.start(testing.test_cache(), CRDS_EMAIL_PORT=str(smtp[1]),
                               CRDS_ADMIN_EMAILS="ops@example.org",
                               CRDS_PUBLIC_URL=f"http://127.0.0.1:{live_server.free_port()}")
    try:
        server.manage("generate_datasets", "--context", NEW, "--instruments", "wfc3", "--count", "500",
                      "--seed", "9")
        out = server.manage("compute_affected", OLD, NEW, "--chunk-size", "100").stdout
        assert " done OK " in out, out
        yield server
    finally:
        live_server.stop(server)


def job(server, *args: str, url: bool = True) -> subprocess.CompletedProcess:
    command = [str(CHECKOUT / "host" / "query_affected_datasets"), *args]
    if url:
        command += ["--server-url", server.url]
    return subprocess.run(command, env=server.env, capture_output=True, text=True, timeout=600)


def log_of(server) -> str:
    return (server.root / "cron_logs" / f"query_affected_datasets.{date.today():%Y-%m-%d}.log").read_text()


def record(server) -> str:
    return (server.root / "monitor_reprocessing" / "query_affected" / "ad_last_processed").read_text()


def affected_ids(server) -> list[str]:
    body = json.dumps({"jsonrpc": "1.0", "method": "get_affected_datasets", "params": ["hst", OLD, NEW], "id": 1})
    with urllib.request.urlopen(server.url + "/json/", body.encode(), timeout=60) as response:
        return json.loads(response.read())["result"]["affected_ids"]


def mails_of_the_job(smtp) -> list:
    """The job's mails (the computation's own result mail goes to the same address)."""
    with smtp[0].lock:
        return [(to, message) for to, message in smtp[0].messages if "query_affected_datasets" in message["Subject"]]


def test_first_run_records_the_end_of_the_history(server, smtp):
    mails = len(smtp[0].messages)
    done = job(server)
    assert done.returncode == 0, done.stderr
    assert "first run: recorded history item" in log_of(server) and f"({NEW})" in log_of(server)
    assert NEW in record(server)
    assert len(smtp[0].messages) == mails


def test_publishes_the_ids_affected_since_a_context(server, smtp):
    done = job(server, "--from", "hst_0727.pmap")
    assert done.returncode == 0, done.stderr
    ids = affected_ids(server)
    assert ids
    recipients, message = mails_of_the_job(smtp)[-1]
    assert recipients == ["ops@example.org"]
    assert message["Subject"] == (f"CRDS HST DJANGO query_affected_datasets {len(ids)} datasets affected "
                                  f"from hst_0727.pmap to {NEW}")
    body = message.get_content().replace("\r\n", "\n")
    section = body.split(f"==== dataset ids affected from hst_0727.pmap to {NEW}\n")[1].split("\n\n")[0]
    assert section.split() == sorted(ids)
    assert f"No results for hst_0727.pmap --> {OLD} ignoring and proceeding." in body
    assert ids[0] in log_of(server)
    assert NEW in record(server)


def test_nothing_new_is_not_mailed(server, smtp):
    mails = len(smtp[0].messages)
    done = job(server)
    assert done.returncode == 0, done.stderr
    assert f"no new affected datasets results after {NEW}" in log_of(server)
    assert len(smtp[0].messages) == mails


@pytest.mark.parametrize("start, reason", [
    ("../../etc/passwd", "'../../etc/passwd' is not a hst context name such as hst_0001.pmap"),
    ("jwst_0001.pmap", "'jwst_0001.pmap' is not a hst context name"),
    ("hst_9999.pmap", "Context = 'hst_9999.pmap' not found in history"),
])
def test_a_bad_context_is_one_line_and_changes_nothing(server, smtp, start, reason):
    before, mails = record(server), len(smtp[0].messages)
    done = job(server, "--from", start)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and reason in done.stderr, done.stderr
    assert "Traceback" not in log_of(server)
    assert record(server) == before and len(smtp[0].messages) == mails


def test_an_unreachable_server_is_one_line(server):
    """Without --server-url the job asks CRDS_PUBLIC_URL, where nothing answers here."""
    before = record(server)
    done = job(server, "--from", OLD, url=False)
    public = siteconfig.read_env_file(server.root / "site.env")["CRDS_PUBLIC_URL"]
    assert done.returncode == 1 and done.stderr.count("\n") == 1
    assert f"crds query_affected against {public} failed: (FATAL) Failed connecting" in done.stderr, done.stderr
    assert record(server) == before


def test_an_unreadable_record_says_how_to_recover(server):
    path = server.root / "monitor_reprocessing" / "query_affected" / "ad_last_processed"
    before = path.read_text()
    path.write_text("not a record")
    try:
        done = job(server)
        assert done.returncode == 1
        assert "does not hold a history record; remove it to start again" in done.stderr, done.stderr
        assert path.read_text() == "not a record"
    finally:
        path.write_text(before)


def test_ids_survive_a_mail_failure(server, smtp):
    """The record has moved on when the mail fails: the job's log keeps the ids and the job fails."""
    site = server.root / "site.env"
    before = site.read_text()
    values = siteconfig.read_env_file(site)
    siteconfig.write_site_env({**values, "CRDS_EMAIL_PORT": str(live_server.free_port())}, site)
    mails = len(smtp[0].messages)
    try:
        done = job(server, "--from", OLD)
    finally:
        site.write_text(before)
    assert done.returncode == 1
    assert "Cannot mail the affected dataset ids (printed above)" in done.stderr, done.stderr
    assert all(i in log_of(server) for i in affected_ids(server))
    assert len(smtp[0].messages) == mails


def test_offline_server_is_left_alone(server, smtp):
    flag = server.root / "server" / "run" / "server_offline"
    flag.parent.mkdir(parents=True, exist_ok=True)
    flag.touch()
    try:
        done = job(server, "--from", OLD)
    finally:
        flag.unlink()
    assert done.returncode == 0 and "server offline" in log_of(server)


def test_beat_runs_the_same_job(server, smtp):
    mails = len(smtp[0].messages)
    code = ("from reprocessing.tasks import query_affected_datasets as task; "
            f"print(task.apply(args=({server.url!r},)).get())")
    assert "no new affected datasets results" in server.manage("shell", "-c", code).stdout
    path = server.root / "monitor_reprocessing" / "query_affected" / "ad_last_processed"
    path.unlink()
    assert "first run: recorded" in server.manage("shell", "-c", code).stdout
    assert len(smtp[0].messages) == mails
