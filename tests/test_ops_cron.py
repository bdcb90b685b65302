"""The operations cron jobs (host/): dated logs, one run at a time, one-line failures, the nightly mail."""

from __future__ import annotations

import email
import email.policy
import fcntl
import socket
import threading
from datetime import date

import pytest
from aiosmtpd.controller import Controller
from crds_server.testing import make_cache

from tests.ops_support import make_root, remove_root


class Sink:
    def __init__(self):
        self.messages = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages.append((envelope.rcpt_tos, email.message_from_bytes(envelope.content,
                                                                              policy=email.policy.default)))
        return "250 OK"


@pytest.fixture(scope="module")
def smtp():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    yield sink, port
    controller.stop()


@pytest.fixture(scope="module")
def server(smtp, tmp_path_factory):
    cache = make_cache(tmp_path_factory.mktemp("cache"), ["hst_acs_biasfile_0250.rmap"], ["v8q14451j_idc.fits"],
                       operational_context="")
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

    damaged = server.mapping("hst_acs_biasfile_0250.rmap")
    damaged.chmod(0o644)
    damaged.write_text(damaged.read_text() + "# damaged\n")
    result = server.tool("host/verify_cache")
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith("verify_cache failed (exit 1): CommandError: The cache and the catalog disagree")
    assert "corrupt file (sha1sum differs from the catalog): hst_acs_biasfile_0250.rmap" in log_of(server,
                                                                                                   "verify_cache")


def test_crontab_names_existing_jobs():
    from tests.ops_support import CHECKOUT

    lines = [line for line in (CHECKOUT / "host" / "crontab").read_text().splitlines()
             if line.strip() and not line.startswith("#") and "=" not in line.split()[0]]
    jobs = {line.split()[5].strip('"').replace("$CRDS_CHECKOUT/", "") for line in lines if "$CRDS_CHECKOUT" in line}
    assert {"host/sync_server_cache", "host/clear_web_cache", "host/verify_cache", "host/nightly.cron.job",
            "host/sync_ops_to_grp"} <= jobs
    for job in jobs:
        path = CHECKOUT / job
        assert path.is_file() and path.stat().st_mode & 0o111, job
