"""The operations cron jobs (host/): dated logs, one run at a time, one-line failures, the nightly mail,
the server's own cache config and context pickles."""

from __future__ import annotations

import fcntl
import json
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from tests.ops_support import TINY_CONTEXT, TINY_REFERENCES, ServerRoot, make_root, remove_root, tiny_rules_cache


@pytest.fixture(scope="module")
def server(smtp, tmp_path_factory):
    cache = tiny_rules_cache(tmp_path_factory.mktemp("cache"))
    root = make_root(cache, usecase="dev", CRDS_EMAIL_PORT=str(smtp[1]), CRDS_ADMIN_EMAILS="ops@example.org")
    yield root
    remove_root(root)


def log_of(server, name: str) -> str:
    return (server.root / "cron_logs" / f"{name}.{date.today():%Y-%m-%d}.log").read_text()


def test_nightly_report_mails_diagnostics_and_backs_up(server, smtp):
    sink, _ = smtp
    result = server.tool("host/nightly.cron.job")
    assert result.returncode == 0, result.stderr
    assert [p.name for p in server.backups.iterdir() if p.name[0].isdigit()]
    log = log_of(server, "nightly")
    assert "==== nightly started" in log and "exit 0" in log
    recipients, message = sink.messages[-1]
    assert recipients == ["ops@example.org"]
    assert message["Subject"] == "CRDS HST DEV nightly OK"
    body = message.get_content()
    for section in ("==== reinstall and self-tests", "==== configuration", "==== disk usage", "==== code revision",
                    "==== cache consistency", "==== backup"):
        assert section in body
    assert "skipped reinstall and restart" in body and "CRDS_OBSERVATORY=hst" in body
    assert "0 stray, 0 missing, 0 corrupt" in body and "CRDS_FILE_CACHE" in body


def test_one_run_at_a_time_and_one_line_failures(server):
    lock = server.root / "server" / "run" / "sync_server_cache.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = server.tool("host/sync_server_cache")
    assert result.returncode == 1 and "already running" in result.stderr
    assert not (server.cache / "config" / "hst" / "bad_files.txt").exists()

    result = server.tool("host/sync_server_cache")
    assert result.returncode == 0, result.stderr
    assert "published server_config" in log_of(server, "sync_server_cache")
    assert (server.cache / "config" / "hst" / "bad_files.txt").exists()

    damaged = server.mapping("hst_acs_biasfile_0001.rmap")
    original = damaged.read_text()
    damaged.chmod(0o644)
    damaged.write_text(original + "# damaged\n")
    try:
        result = server.tool("host/verify_cache")
    finally:
        damaged.write_text(original)
        damaged.chmod(0o444)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith("verify_cache failed (exit 1): CommandError: The cache and the catalog disagree")
    assert "corrupt file (sha1sum differs from the catalog): hst_acs_biasfile_0001.rmap" in log_of(server,
                                                                                                   "verify_cache")


VERIFY_BY_BEAT = """
from operations import tasks
result = tasks.verify_cache.apply(throw=False)
print(result.status, result.result)
"""


def test_beat_verify_cache_fails_and_mails_like_the_cron_job(server, smtp):
    """Under beat no cron mails a failure: the task itself mails the operators and fails (flower shows it)."""
    sink, _ = smtp
    mailed = len(sink.messages)
    clean = server.shell(VERIFY_BY_BEAT).strip().splitlines()[-1]
    assert clean == "SUCCESS verify cache 0 stray, 0 missing, 0 corrupt files (sha1sums checked); 0 deleted."
    assert len(sink.messages) == mailed

    damaged = server.mapping("hst_acs_biasfile_0001.rmap")
    original = damaged.read_text()
    damaged.chmod(0o644)
    damaged.write_text(original + "# damaged\n")
    try:
        failed = server.shell(VERIFY_BY_BEAT).strip().splitlines()[-1]
    finally:
        damaged.write_text(original)
        damaged.chmod(0o444)
    summary = "0 stray, 0 missing, 1 corrupt files (sha1sums checked); 0 deleted."
    assert failed == f"FAILURE verify cache FAILED: {summary}"
    assert len(sink.messages) == mailed + 1
    recipients, message = sink.messages[-1]
    assert recipients == ["ops@example.org"]
    assert message["Subject"] == f"CRDS HST DEV verify cache FAILED: {summary}"
    assert "corrupt file (sha1sum differs from the catalog): hst_acs_biasfile_0001.rmap" in message.get_content()


# Loads the pickle alone (no mapping files beside it) with the crds library, as a client with
# CRDS_USE_PICKLED_CONTEXTS does, and asks it for best references.
LOAD_PICKLE = """
import json, sys
from crds.core import heavy_client
context = heavy_client.load_pickled_mapping(sys.argv[1])
header = {"INSTRUME": "ACS", "DETECTOR": "WFC", "DATE-OBS": "2000-01-01", "TIME-OBS": "00:00:00",
          "CCDAMP": "A", "CCDGAIN": "1", "APERTURE": "X", "NUMCOLS": "1", "NUMROWS": "1", "LTV1": "0",
          "LTV2": "0", "XCORNER": "N/A", "YCORNER": "N/A", "CCDCHIP": "N/A", "BIASCORR": "PERFORM"}
print(json.dumps([context.name, sorted(context.reference_names()), context.get_best_references(header)]))
"""


def test_self_sync_publishes_config_pickles_and_pushes_context(server, tmp_path):
    pickles = server.cache / "pickles" / "hst"
    stale = pickles / "hst_0000.pmap.pkl"
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_bytes(b"a context this server no longer holds")

    result = server.tool("host/sync_server_cache")
    assert result.returncode == 0, result.stderr
    assert f"pickled {TINY_CONTEXT} in {pickles}" in log_of(server, "sync_server_cache")
    assert sorted(p.name for p in pickles.iterdir()) == [f"{TINY_CONTEXT}.pkl"]
    config = server.cache / "config" / "hst"
    assert f"'operational_context': '{TINY_CONTEXT}'" in (config / "server_config").read_text()
    assert (config / "ref_cache_subdir_mode").read_text() == "flat\n"
    pushed = server.shell("from interactive.models import RemoteContext\n"
                          "r = RemoteContext.objects.get(name='hst-dev-server'); print(r.kind, r.context)")
    assert pushed.strip().splitlines()[-1].split() == ["latest", TINY_CONTEXT]

    client = tmp_path / "client"
    (client / "pickles" / "hst").mkdir(parents=True)
    shutil.copy(pickles / f"{TINY_CONTEXT}.pkl", client / "pickles" / "hst")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "CRDS_PATH": str(client), "CRDS_MODE": "local",
           "CRDS_OBSERVATORY": "hst"}
    loaded = subprocess.run([sys.executable, "-c", LOAD_PICKLE, TINY_CONTEXT], env=env, capture_output=True,
                            text=True, timeout=120)
    assert loaded.returncode == 0, loaded.stderr
    assert "Loaded pickled context" in loaded.stderr
    assert json.loads(loaded.stdout) == [TINY_CONTEXT, sorted(TINY_REFERENCES), {"biasfile": TINY_REFERENCES[1]}]

    # A restore may bring back context names with other rules: it clears the pickles, the next run remakes them.
    assert server.tool("backup_server").returncode == 0
    result = server.tool("restore_server")
    assert result.returncode == 0, result.stderr
    assert not list(pickles.glob("*.pkl"))
    assert server.tool("host/sync_server_cache").returncode == 0
    assert (pickles / f"{TINY_CONTEXT}.pkl").is_file()


def test_self_sync_fails_in_one_line_on_a_damaged_context(server):
    pickle = server.cache / "pickles" / "hst" / f"{TINY_CONTEXT}.pkl"
    pickle.unlink(missing_ok=True)
    imap = server.mapping("hst_acs_0001.imap")
    original = imap.read_text()
    imap.chmod(0o644)
    imap.write_text(original.replace("selector = {", "selector = {{"))
    try:
        result = server.tool("host/sync_server_cache")
    finally:
        imap.write_text(original)
        imap.chmod(0o444)
    assert result.returncode == 1 and result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith("sync_server_cache failed (exit 1): CommandError: Publishing the server cache "
                                    f"failed: cannot load {TINY_CONTEXT} to pickle it")
    assert not pickle.exists()
    assert (server.cache / "config" / "hst" / "server_config").is_file()


# Channels written a day ago and now, uploads left by killed submissions (7 hours ago) and a fresh one.
HOURLY_SETUP = """
import datetime
from jpoll import service
from jpoll.models import Channel
from interactive import storage
from interactive.models import FileRecord
now = datetime.datetime.now()
for name, created in (("old", now - datetime.timedelta(hours=25)), ("fresh", now)):
    key = service.open_channel("alice")
    service.write(key, f"Starting submission processing. ({name})")
    Channel.objects.filter(key=key).update(created=created, user=name)
for name, age in (("hst_acs_biasfile_0901.fits", 7), ("hst_acs_biasfile_0902.rmap", 7),
                  ("hst_acs_biasfile_0903.fits", 0)):
    FileRecord.objects.create(name=name, state="uploaded", observatory="hst", instrument="acs",
                              filekind="biasfile", type="mapping" if name.endswith(".rmap") else "reference",
                              delivery_date=now - datetime.timedelta(hours=age))
    storage.cache_path(name).write_text("left by a killed submission")
"""

HOURLY_STATE = """
import json
from jpoll.models import Channel, Message
from interactive import storage
from interactive.models import FileRecord
names = ("hst_acs_biasfile_0901.fits", "hst_acs_biasfile_0902.rmap", "hst_acs_biasfile_0903.fits")
print(json.dumps({
    "channels": sorted(Channel.objects.values_list("user", flat=True)),
    "messages": sorted(Message.objects.values_list("channel__user", flat=True)),
    "uploaded": sorted(FileRecord.objects.filter(state="uploaded").values_list("name", flat=True)),
    "cached": sorted(n for n in names if storage.cache_path(n).exists()),
}))
"""


def hourly_state(server) -> dict:
    return json.loads(server.shell(HOURLY_STATE).strip().splitlines()[-1])


def test_hourly_jobs_expire_channels_and_remove_abandoned_uploads(server):
    """The embedded stack runs no Celery beat: these jobs keep jpoll and the catalog clean there."""
    server.shell(HOURLY_SETUP)
    assert hourly_state(server)["channels"] == ["fresh", "old"]

    result = server.tool("host/expire_jpoll_channels")
    assert result.returncode == 0, result.stderr
    assert "Removed 1 channel(s)." in log_of(server, "expire_jpoll_channels")
    state = hourly_state(server)
    assert state["channels"] == ["fresh"] and state["messages"] == ["fresh"]

    result = server.tool("host/remove_abandoned_uploads")
    assert result.returncode == 0, result.stderr
    assert ("Removed 2 abandoned upload(s): hst_acs_biasfile_0901.fits hst_acs_biasfile_0902.rmap"
            in log_of(server, "remove_abandoned_uploads"))
    state = hourly_state(server)
    assert state["uploaded"] == state["cached"] == ["hst_acs_biasfile_0903.fits"]


def test_hourly_jobs_fail_in_one_line(server):
    """A mistyped option changes nothing: cron mails one line, the dated log keeps the usage."""
    before = hourly_state(server)
    result = server.tool("host/remove_abandoned_uploads", "--older-than-minutes", "soon")
    assert result.returncode != 0 and result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith("remove_abandoned_uploads failed (exit ")
    assert "invalid int value: 'soon'" in result.stderr
    assert "usage: manage.py remove_abandoned_uploads" in log_of(server, "remove_abandoned_uploads")
    assert hourly_state(server) == before


def test_crontab_names_existing_jobs():
    from tests.ops_support import CHECKOUT

    lines = [line for line in (CHECKOUT / "host" / "crontab").read_text().splitlines()
             if line.strip() and not line.startswith("#") and "=" not in line.split()[0]]
    schedules = {line.split()[5].strip('"').replace("$CRDS_CHECKOUT/", ""): " ".join(line.split()[:5])
                 for line in lines if "$CRDS_CHECKOUT" in line}
    jobs = set(schedules)
    assert {"host/sync_server_cache", "host/clear_web_cache", "host/verify_cache", "host/nightly.cron.job",
            "host/sync_ops_to_grp", "host/certify_cache", "host/weekly_status", "host/monthly_status",
            "host/query_affected_datasets", "host/expire_jpoll_channels", "host/remove_abandoned_uploads",
            "host/verify_group_cache"} <= jobs
    # Celery beat runs these every 3600 s.
    assert schedules["host/expire_jpoll_channels"] == schedules["host/remove_abandoned_uploads"] == "0 * * * *"
    for job in jobs:
        path = CHECKOUT / job
        assert path.is_file() and path.stat().st_mode & 0o111, job


def installed_crontab(tmp_path: Path, usecase: str = "django", **values: str) -> list[str]:
    """The crontab ./install writes for an hst server of `usecase` with these site settings."""
    from crds_server import installer, siteconfig

    site = {**siteconfig.render("hst", usecase, {"CRDS": str(tmp_path)}), **values}
    installer.write_crontab(site, installer.crontab_text(site))
    return (tmp_path / "server" / "conf" / "crontab").read_text().splitlines()


def jobs_of(crontab: list[str]) -> list[str]:
    return [line for line in crontab if line[:1] in tuple("*@0123456789")]


def test_installed_crontab_mails_failures_to_the_operators(tmp_path):
    crontab = installed_crontab(tmp_path, CRDS_ADMIN_EMAILS="ops@example.org, dm@example.org",
                                CRDS_STATUS_TO_ADDRESSES="status@example.org")
    mailto = [line for line in crontab if line.startswith("MAILTO")]
    assert mailto == ["MAILTO=ops@example.org,dm@example.org"]
    assert crontab.index(mailto[0]) < crontab.index(jobs_of(crontab)[0])
    assert "CRDS_SCHEDULER=cron" in crontab
    assert len(jobs_of(crontab)) == 15

    crontab = installed_crontab(tmp_path, CRDS_ADMIN_EMAILS="", CRDS_STATUS_TO_ADDRESSES="status@example.org")
    assert [line for line in crontab if line.startswith("MAILTO")] == ["MAILTO=status@example.org"]
    # Nobody configured: no MAILTO, so cron mails the crontab's owner instead of discarding the failure.
    crontab = installed_crontab(tmp_path, CRDS_ADMIN_EMAILS="", CRDS_STATUS_TO_ADDRESSES="")
    assert not [line for line in crontab if line.startswith("MAILTO")]
    assert len(jobs_of(crontab)) == 15


def test_install_refuses_an_address_cron_cannot_use(tmp_path):
    from crds_server import installer

    with pytest.raises(installer.InstallError) as refused:
        installed_crontab(tmp_path, CRDS_ADMIN_EMAILS="ops@example.org, ops team <ops@example.org>")
    assert str(refused.value) == ("CRDS_ADMIN_EMAILS: 'ops team <ops@example.org>' is not a mail address cron can "
                                  "send to; fix it in configs/ and run ./install again")
    assert not (tmp_path / "server" / "conf" / "crontab").exists()


def test_production_crontab_schedules_nothing_beat_runs_the_jobs(tmp_path):
    crontab = installed_crontab(tmp_path, "dev", CRDS_ADMIN_EMAILS="ops@example.org")
    assert crontab and all(line.startswith("# ") for line in crontab)
    assert "Celery beat" in crontab[1]


def test_cron_job_refuses_to_run_on_the_production_stack():
    """host/crontab installed by hand on a production server would run every job a second time."""
    root = make_root(None, usecase="dev", migrate=False, CRDS_STACK="production")
    try:
        from_cron = ServerRoot(root.root, {**root.env, "CRDS_SCHEDULER": "cron"})
        result = from_cron.tool("host/clear_expired_locks")
        assert result.returncode == 1 and result.stdout == ""
        assert result.stderr == ("clear_expired_locks: not run: Celery beat runs the jobs of this production server; "
                                 "remove this crontab (crontab -r)\n")
        assert not (root.root / "cron_logs").exists()
    finally:
        remove_root(root)
