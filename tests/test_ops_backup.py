"""tools/backup_server and tools/restore_server on a server root holding the HST test cache."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import tarfile
import time

import pytest
from crds_server.testing import test_cache

from tests.ops_support import make_root, remove_root, tiny_rules_cache, tree

# A real submission through the submission and confirmation services (what the web pages call).
SUBMIT = """
import shutil
from django.conf import settings
from django.contrib.auth.models import Group, User
from crds_server.testing import test_data
from interactive import confirm, storage, submission
settings.CRDS_SUBMIT_DONE_DELAY = 0
settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
user, _ = User.objects.get_or_create(username="alice", defaults={{"email": "alice@example.org"}})
user.groups.add(Group.objects.get_or_create(name="file_submission")[0])
ingest = storage.ingest_dir("alice")
ingest.mkdir(parents=True, exist_ok=True)
shutil.copy(test_data() / "hst" / "{name}", ingest / "{name}")
result = submission.batch_submit(submission.BatchRequest(user="alice", description="ops test {name}"))
decision = confirm.decide(result.name, "confirm", "alice")
assert decision.disposition == "confirmed", decision.disposition
print(" ".join(sorted(set(result.parameters["new_file_map"].values()) | set(
    decision.confirmation.parameters["generated"]))))
"""


@pytest.fixture(scope="module")
def server():
    root = make_root(test_cache())
    yield root
    remove_root(root)


def deliver(server, name: str) -> list[str]:
    """Submit and confirm reference `name` of the crds test data; the new files' names."""
    return server.shell(SUBMIT.format(name=name)).strip().splitlines()[-1].split()


def backup(server) -> str:
    result = server.tool("backup_server")
    assert result.returncode == 0, result.stderr
    made = [p.name for p in server.backups.iterdir() if p.name[0].isdigit()]
    time.sleep(1.1)  # backups are named by the second
    return max(made)


def test_round_trip_restores_exactly_and_removes_later_files(server):
    first_files = deliver(server, "hst_acs_biasfile_0001.fits")
    assert "hst_0730.pmap" in first_files and any(n.endswith("_bia.fits") for n in first_files)
    first = backup(server)
    state_first = server.snapshot()
    second_files = deliver(server, "s7g1700gl_dead_good_xsum.fits")
    second_reference = next(n for n in second_files if n.endswith(".fits"))
    assert "hst_0731.pmap" in second_files
    second = backup(server)
    state_second = server.snapshot()
    stray = server.ref("zzz9000l_bia.fits")
    stray.write_bytes(b"a reference added behind the catalog's back")

    result = server.tool("restore_server", first)
    assert result.returncode == 0, result.stderr
    restored = server.snapshot()
    assert restored == state_first
    assert len(restored["records"]) == 43780 + len(first_files)
    assert len(state_second["records"]) == 43780 + len(first_files) + len(second_files)
    for name in second_files:
        path = server.ref(name) if name.endswith(".fits") else server.mapping(name)
        assert not path.exists(), name
    assert not (server.server_files / "catalogs" / "opus_2_i.cat").exists()
    assert not (server.server_files / "deliveries" / "opus_2_i.cat").exists()
    assert (server.server_files / "catalogs" / "opus_1_i.cat").exists()
    assert not stray.exists()
    assert f"set aside: {server.ref(second_reference)}" in result.stdout
    assert "restart the server (./stop; ./run)" in result.stdout  # the embedded server has no reload hook
    for name in first_files:
        path = server.ref(name) if name.endswith(".fits") else server.mapping(name)
        assert stat.S_IMODE(path.stat().st_mode) == 0o444, name

    result = server.tool("restore_server")  # the latest backup: the second one
    assert result.returncode == 0, result.stderr
    assert server.snapshot() == {**state_second, "references": [
        n for n in state_second["references"] if n != second_reference]}
    # References are not backed up: the second delivery's reference, removed by the first restore,
    # is reported missing instead of being invented.
    assert f"missing file (cataloged, not in the cache): {second_reference}" in result.stdout
    assert second in {p.name for p in server.backups.iterdir()}


def test_backup_layout_modes_and_no_references(server):
    name = backup(server)
    dated, latest = server.backups / name, server.backups / "latest"
    for directory in (server.backups, dated, latest):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    names = {"MANIFEST.json", "database.sqlite3", "catalogs.tar", "deliveries.tar", "mappings.tar", "config.tar",
             "packages.txt"}
    assert {p.name for p in dated.iterdir()} == names
    assert tree(dated) == tree(latest)
    manifest = json.loads((dated / "MANIFEST.json").read_text())
    assert manifest["observatory"] == "hst" and manifest["engine"] == "sqlite"
    assert manifest["counts"]["FileRecord"] >= 43780
    assert "Django==" in (dated / "packages.txt").read_text()
    with tarfile.open(dated / "mappings.tar") as tar:
        names = tar.getnames()
    assert "hst_0729.pmap" in names and not any(n.endswith(".fits") for n in names)
    with tarfile.open(dated / "config.tar") as tar:
        assert "server_config" in tar.getnames()
    assert not list(server.backups.glob(".*"))  # no partial or staging directories left


def test_dry_runs_change_nothing(server):
    before_backups = sorted(p.name for p in server.backups.iterdir())
    before_cache, before_state = tree(server.cache), server.snapshot()
    server.ref("zzz8000l_bia.fits").write_bytes(b"stray")
    server.ref("zzz8000l_bia.fits").chmod(0o644)
    result = server.tool("backup_server", "--dry-run")
    assert result.returncode == 0 and "Would back up the sqlite database" in result.stdout
    result = server.tool("restore_server", "--dry-run")
    assert result.returncode == 0 and "would restore" in result.stdout
    assert f"would set aside: {server.ref('zzz8000l_bia.fits')}" in result.stdout
    assert sorted(p.name for p in server.backups.iterdir()) == before_backups
    assert server.ref("zzz8000l_bia.fits").exists()
    server.ref("zzz8000l_bia.fits").unlink()
    assert tree(server.cache) == before_cache and server.snapshot() == before_state


def _damaged_copy(server, tmp_path, damage) -> str:
    target = tmp_path / "backup"
    shutil.copytree(server.backups / "latest", target)
    damage(target)
    return str(target)


def truncate(target):
    path = target / "database.sqlite3"
    path.write_bytes(path.read_bytes()[:4096])


def corrupt_mappings(target):
    with open(target / "mappings.tar", "r+b") as handle:
        handle.seek(10_000)
        handle.write(b"garbage")


def other_observatory(target):
    manifest = json.loads((target / "MANIFEST.json").read_text())
    manifest["observatory"] = "jwst"
    (target / "MANIFEST.json").write_text(json.dumps(manifest))


def no_manifest(target):
    (target / "MANIFEST.json").unlink()


def test_restore_refuses_damaged_or_mismatched_backup(server, tmp_path):
    if not (server.backups / "latest").exists():
        backup(server)
    before_cache, before_files, before_state = tree(server.cache), tree(server.server_files), server.snapshot()
    for damage, message in ((truncate, "missing or truncated"), (corrupt_mappings, "does not match its checksum"),
                            (other_observatory, "backup of a jwst server"), (no_manifest, "not a complete backup")):
        path = _damaged_copy(server, tmp_path / damage.__name__, damage)
        result = server.tool("restore_server", path)
        assert result.returncode == 1, damage.__name__
        assert "Restore failed, nothing changed" in result.stderr and message in result.stderr
        assert "Traceback" not in result.stderr
    assert tree(server.cache) == before_cache and tree(server.server_files) == before_files
    assert server.snapshot() == before_state


@pytest.mark.parametrize("args, message", [
    (("2001-01-01-000000",), "No backup '2001-01-01-000000'"),
    (("no/such/dir",), "No backup 'no/such/dir'"),
    (("--bogus",), "unrecognized arguments"),
])
def test_restore_bad_arguments(server, args, message):
    result = server.tool("restore_server", *args)
    assert result.returncode != 0 and message in result.stderr and "Traceback" not in result.stderr


def test_help_of_every_tool(server):
    for name in ("backup_server", "restore_server", "mirror_server", "orphan_files", "add_user", "set_groups",
                 "clear_cache"):
        result = server.tool(name, "--help")
        assert result.returncode == 0 and "usage:" in result.stdout, name


@pytest.fixture
def kept_two(tmp_path):
    """A small server keeping its 2 newest backups."""
    root = make_root(tiny_rules_cache(tmp_path / "cache"), CRDS_KEEP_BACKUPS="2")
    yield root
    remove_root(root)


def fake_backup(path, manifest: bool = True):
    path.mkdir(parents=True)
    (path / "database.sqlite3").write_bytes(b"an old copy")
    if manifest:
        (path / "MANIFEST.json").write_text("{}\n")


def test_nightly_keeps_the_newest_backups_and_nothing_else_is_touched(kept_two, tmp_path):
    backups = kept_two.backups
    for day in ("01", "02", "03"):
        fake_backup(backups / f"2001-01-{day}-000000")
    fake_backup(backups / "2001-01-04-000000", manifest=False)  # not made by the server: no manifest
    fake_backup(tmp_path / "elsewhere")
    (backups / "2000-01-01-000000").symlink_to(tmp_path / "elsewhere")
    fake_backup(backups / "notes", manifest=True)
    gone = subprocess.Popen(["true"])
    gone.wait()
    killed = backups / f".2001-01-05-000000.pid{gone.pid}.x1.partial"  # a killed run: its process is gone
    fake_backup(killed, manifest=False)
    running = backups / f".{time.strftime('%Y-%m-%d-%H%M%S')}.pid{os.getpid()}.x2.partial"  # one being made now
    fake_backup(running, manifest=False)

    result = kept_two.manage("nightly_report", "--no-mail")
    made = max(p.name for p in backups.iterdir() if p.name[:2] == "20" and p.name != "2001-01-04-000000")
    assert made > "2002"
    assert ("==== old backups\nkeeping the newest 2; removed 2\nremoved 2001-01-01-000000\n"
            "removed 2001-01-02-000000\n") in result.stdout, result.stdout
    assert not killed.exists()
    assert result.stdout.rstrip().endswith("nightly OK")
    assert sorted(p.name for p in backups.iterdir()) == sorted(
        ["2000-01-01-000000", "2001-01-03-000000", "2001-01-04-000000", made, "latest", "notes", running.name])
    assert tree(tmp_path / "elsewhere") and (tmp_path / "elsewhere" / "MANIFEST.json").is_file()
    assert tree(backups / "latest") == tree(backups / made)


def test_nightly_with_a_bad_retention_setting_backs_up_and_removes_nothing(kept_two):
    from crds_server import siteconfig

    fake_backup(kept_two.backups / "2001-01-01-000000")
    siteconfig.write_site_env({**kept_two.site, "CRDS_KEEP_BACKUPS": "0"}, kept_two.root / "site.env")
    result = kept_two.manage("nightly_report", "--no-mail", check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    reason = ("removing old backups: CRDS_KEEP_BACKUPS is '0': set it in configs/ to the number of nightly "
              "backups to keep (1 or more) and run ./install again.")
    assert result.stderr.strip() == f"CommandError: nightly FAILED: {reason}"
    dated = sorted(p.name for p in kept_two.backups.iterdir() if p.name[:2] == "20")
    assert len(dated) == 2 and dated[0] == "2001-01-01-000000"
