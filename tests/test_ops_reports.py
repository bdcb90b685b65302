"""The weekly and monthly status reports and the weekly certify of the newest context (host/ and beat).

A private dev server of the small test rules, with activity seeded in a week of May 2024 and
in April 2024; mail goes to the real SMTP sink.
"""

from __future__ import annotations

import shutil
from datetime import date

import pytest

from tests.ops_support import TINY_CONTEXT, TINY_REFERENCES, make_root, remove_root, tiny_rules_cache

SEED = """
import datetime
from interactive.models import AuditAction, ContextHistory, FileRecord, RemoteContext
from stats.models import RequestRecord
at = datetime.datetime.fromisoformat
for when, tag, serial in (("2024-05-08 10:00:00", "week", "0101"), ("2024-04-20 10:00:00", "april", "0100")):
    AuditAction.objects.create(user="alice", date=at(when), action="batch submit", filename=f"opus_{serial}_i.cat",
                               observatory="hst", why=f"{tag} delivery\\nsecond line")
    AuditAction.objects.create(user="alice", date=at(when), action="batch submit", observatory="hst",
                               filename=f"{tag}0001_bia.fits")
    ContextHistory.objects.create(start_date=at(when), context=f"hst_{serial}.pmap", state="latest",
                                  description=f"{tag} context")
    FileRecord.objects.create(name=f"{tag}0001_bia.fits", type="reference", observatory="hst", instrument="acs",
                              filekind="biasfile", size=2880, present=False, delivery_date=at(when))
    for status, method, path in ((200, "get_best_references", "/json/"), (500, "get_file_info", "/json/"),
                                 (200, "", f"/unchecked_get/references/hst/{tag}0001_bia.fits")):
        RequestRecord.objects.create(time=at(when), path=path, method=method, status=status, duration=0.1)
RemoteContext.objects.create(name="hst-ops-pipeline", observatory="hst", key="k", context="hst_0000.pmap",
                             updated=at("2024-05-09 00:00:00"))
"""


@pytest.fixture(scope="module")
def server(smtp, tmp_path_factory):
    root = make_root(tiny_rules_cache(tmp_path_factory.mktemp("cache")), usecase="dev",
                     CRDS_EMAIL_PORT=str(smtp[1]), CRDS_ADMIN_EMAILS="ops@example.org")
    try:
        root.shell(SEED)
        yield root
    finally:
        remove_root(root)


def log_of(server, name: str) -> str:
    return (server.root / "cron_logs" / f"{name}.{date.today():%Y-%m-%d}.log").read_text()


def last_mail(smtp):
    with smtp[0].lock:
        recipients, message = smtp[0].messages[-1]
    return recipients, message["Subject"], message.get_content().replace("\r\n", "\n")


def test_weekly_status_reports_the_week_before(server, smtp):
    result = server.tool("host/weekly_status", "--date", "2024-05-13")
    assert result.returncode == 0, result.stderr
    assert "==== weekly_status started" in log_of(server, "weekly_status")
    recipients, subject, body = last_mail(smtp)
    assert recipients == ["ops@example.org"]
    assert subject == ("CRDS HST DEV weekly status 2024-05-06 to 2024-05-12 problems: "
                       f"1 pipeline(s) not on {TINY_CONTEXT}: hst-ops-pipeline")
    assert "period 2024-05-06 00:00 to 2024-05-13 00:00: 1 deliveries, 1 files, 1 context changes" in body
    assert f"now: edit {TINY_CONTEXT}, latest {TINY_CONTEXT}, versions {TINY_CONTEXT}" in body
    assert "2024-05-08 10:00:00  latest   hst_0101.pmap  week context" in body
    assert "2024-05-08 10:00:00  opus_0101_i.cat  batch submit by alice: week delivery\n" in body
    assert "     1 references of acs (2,880 bytes)" in body
    assert "     2 batch submit (1 user(s))" in body
    assert "hst-ops-pipeline: latest hst_0000.pmap at 2024-05-09 00:00  <- not the operational context" in body
    assert "3 requests, 1 server errors, 1 downloads, 0 signed-in user(s)" in body
    assert "       1 get_best_references" in body
    assert "3 mappings and 4 references cataloged; 5 held in the cache" in body
    assert "CRDS_FILE_CACHE" in body
    assert "april" not in body and "hst_0100.pmap" not in body


def test_monthly_status_reports_the_month_before(server, smtp):
    result = server.tool("host/monthly_status", "--date", "2024-05-01")
    assert result.returncode == 0, result.stderr
    _, subject, body = last_mail(smtp)
    assert subject.startswith("CRDS HST DEV monthly status 2024-04 problems: 1 pipeline(s)")
    assert "period 2024-04-01 00:00 to 2024-05-01 00:00: 1 deliveries, 1 files, 1 context changes" in body
    assert "2024-04-20 10:00:00  opus_0100_i.cat  batch submit by alice: april delivery" in body
    assert "week" not in body and "hst_0101.pmap" not in body

    result = server.tool("host/monthly_status", "--date", "May 1st")
    assert result.returncode == 1
    assert result.stderr.strip() == ("monthly_status failed (exit 1): CommandError: Invalid --date 'May 1st': "
                                     "give YYYY-MM-DD.")


def test_reports_wait_while_the_server_is_offline(server, smtp):
    flag = server.root / "server" / "run" / "server_offline"
    flag.parent.mkdir(parents=True, exist_ok=True)
    flag.write_text("restore since now\n")
    sent = len(smtp[0].messages)
    try:
        for job in ("host/weekly_status", "host/certify_cache"):
            result = server.tool(job)
            assert result.returncode == 0, result.stderr
    finally:
        flag.unlink()
    assert "not made: server offline for maintenance" in log_of(server, "weekly_status")
    assert "not run: server offline for maintenance" in log_of(server, "certify_cache")
    assert len(smtp[0].messages) == sent


def test_certify_cache_checks_the_newest_context_and_its_files(server, smtp, tmp_path):
    result = server.tool("host/certify_cache")
    assert result.returncode == 0, result.stderr
    _, subject, body = last_mail(smtp)
    assert subject == f"CRDS HST DEV certify {TINY_CONTEXT} OK"
    assert f"==== crds certify {TINY_CONTEXT} --exist (compared with {TINY_CONTEXT})" in body
    assert "Certifying" in body and "hst_acs_biasfile_0001.rmap" in body and "0 errors" in body

    held = server.ref(TINY_REFERENCES[1])
    shutil.move(held, tmp_path / held.name)
    try:
        result = server.tool("host/certify_cache")
    finally:
        shutil.move(tmp_path / held.name, held)
    assert result.returncode == 1
    reason = f"certify {TINY_CONTEXT} FAILED: 1 error(s): Can't locate reference file '{TINY_REFERENCES[1]}'"
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"certify_cache failed (exit 1): CommandError: {reason}")
    _, subject, body = last_mail(smtp)
    assert subject.startswith(f"CRDS HST DEV {reason}")
    assert "1 errors" in body


def test_beat_runs_the_same_reports(server, smtp):
    output = server.shell(
        "from django.conf import settings\n"
        "from operations import tasks\n"
        "beat = settings.CELERY_BEAT_SCHEDULE\n"
        "for name in ('weekly-status', 'monthly-status', 'certify-cache'):\n"
        "    print(name, beat[name]['task'], beat[name].get('args'), beat[name]['schedule'])\n"
        "print(tasks.status_report.apply(args=('weekly',)).get())\n"
        "print(tasks.certify_cache.apply().get())\n")
    lines = output.strip().splitlines()[-5:]
    assert lines[0] == "weekly-status operations.status_report ('weekly',) <crontab: 0 7 * * 1 (m/h/dM/MY/d)>"
    assert lines[1] == "monthly-status operations.status_report ('monthly',) <crontab: 0 7 1 * * (m/h/dM/MY/d)>"
    assert lines[2] == "certify-cache operations.certify_cache None <crontab: 0 5 * * 0 (m/h/dM/MY/d)>"
    assert lines[3].startswith("weekly status ") and lines[4] == f"certify {TINY_CONTEXT} OK"
    subjects = [message["Subject"] for _, message in smtp[0].messages[-2:]]
    assert subjects[0].startswith("CRDS HST DEV weekly status ") and subjects[1].endswith(f"certify {TINY_CONTEXT} OK")
