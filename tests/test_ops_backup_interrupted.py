"""A killed backup never leaves the server offline for good, nor a partial backup behind."""

from __future__ import annotations

import signal
import subprocess
import time

import pytest

from tests.ops_support import CHECKOUT, make_root, remove_root, tiny_rules_cache


@pytest.fixture
def server(tmp_path):
    root = make_root(tiny_rules_cache(tmp_path / "cache"))
    big = root.server_files / "deliveries" / "big.fits"  # sparse: it makes the archiving last long enough
    with open(big, "wb") as handle:
        handle.truncate(3 * 2**30)
    yield root
    remove_root(root)


def backup_killed_by(server, signum: int) -> subprocess.CompletedProcess:
    """Start tools/backup_server and send it `signum` once it is archiving the deliveries."""
    process = subprocess.Popen([str(CHECKOUT / "tools" / "backup_server")], cwd=CHECKOUT, env=server.env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list(server.backups.glob(".*.partial/deliveries.tar")):
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.02)
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=120)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def test_sigterm_cleans_up_flag_and_partial_backup(server):
    flag = server.root / "server" / "run" / "server_offline"
    result = backup_killed_by(server, signal.SIGTERM)
    assert result.returncode == 1
    assert "Backup failed, nothing kept: interrupted by signal SIGTERM" in result.stderr
    assert "Traceback" not in result.stderr
    assert not flag.exists()
    assert not list(server.backups.glob(".*"))


def test_sigkill_leaves_a_stale_flag_that_the_next_backup_removes(server):
    flag = server.root / "server" / "run" / "server_offline"
    result = backup_killed_by(server, signal.SIGKILL)
    assert result.returncode == -signal.SIGKILL
    assert "backup since" in flag.read_text() and list(server.backups.glob(".*.partial"))
    (server.server_files / "deliveries" / "big.fits").unlink()

    result = server.tool("backup_server")
    assert result.returncode == 0, result.stderr
    assert "removed a stale offline flag (backup since" in result.stdout
    assert "removed the partial backup ." in result.stdout
    assert not flag.exists()
    assert not list(server.backups.glob(".*"))
