"""Archive delivery (server-behaviour.md §6): catalog, links, rollback, rename protocol, tools, pages."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from unittest import mock

from crds_server.testing import CatalogTestCase
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client, override_settings

from interactive import catalog, delivery, storage
from interactive.models import ARCHIVED, DELIVERED, UPLOADED, AuditAction, FileRecord

POLLER = Path(settings.BASE_DIR).parent / "tools" / "archive_poller"
NAMES = ["hst_acs_biasfile_0900.rmap", "zz11223344_bia.fits"]


class DeliveryTests(CatalogTestCase):
    def setUp(self):
        # Private server-files root (catalogs, deliveries) on the file cache's file system.
        self.tmp = Path(tempfile.mkdtemp(prefix="server-files-", dir=settings.CRDS_FILE_CACHE.parent))
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.dirs = [self.tmp / "deliveries", self.tmp / "mirror"]
        for directory in self.dirs:
            directory.mkdir()
        override = override_settings(CRDS_DELIVERY_DIRS=self.dirs, CRDS_SERVER_FILES=self.tmp)
        override.enable()
        self.addCleanup(override.disable)
        for name in NAMES:
            path = storage.cache_path(name)
            path.write_text(f"content of {name}\n")
            path.chmod(0o444)
            self.addCleanup(path.unlink, True)
            FileRecord.objects.create(name=name, observatory="hst", state=UPLOADED, instrument="acs",
                                      filekind="biasfile", type="mapping" if name.endswith("map") else "reference")

    def states(self):
        return dict(FileRecord.objects.filter(name__in=NAMES).values_list("name", "state"))

    def poll(self, *args):
        dirs = [arg for directory in self.dirs for arg in ("--dir", str(directory))]
        return subprocess.run([sys.executable, str(POLLER), *dirs, *args],
                              capture_output=True, text=True, check=True).stdout

    def test_deliver_writes_catalog_links_files_then_catalog_and_audits(self):
        made = delivery.deliver(NAMES, "batch submit", "New biases", "alice")
        self.assertRegex(made.catalog, r"^opus_\d+_i\.cat$")
        permanent = storage.catalogs_dir() / made.catalog
        self.assertEqual(permanent.read_text(), "".join(f"{n}\n" for n in sorted(NAMES)))
        self.assertEqual(permanent.stat().st_mode & 0o777, 0o444)
        for directory in self.dirs:
            for name in NAMES:
                self.assertTrue(os.path.samefile(directory / name, storage.cache_path(name)))
            self.assertTrue(os.path.samefile(directory / made.catalog, permanent))
        # The catalog is linked last in each directory.
        self.assertEqual(made.links[-1], self.dirs[-1] / made.catalog)
        self.assertEqual([p.name for p in made.links[:3]], sorted(NAMES) + [made.catalog])
        self.assertEqual(self.states(), {n: DELIVERED for n in NAMES})
        self.assertEqual(self.record(NAMES[0]).catalog_link, str(self.dirs[0] / made.catalog))
        rows = AuditAction.objects.filter(action="batch submit")
        self.assertEqual(sorted(r.filename for r in rows), sorted(NAMES + [made.catalog]))
        self.assertEqual({r.details for r in rows}, {repr([made.catalog] + sorted(NAMES))})
        self.assertEqual({r.why for r in rows}, {"New biases"})
        self.poll("--through")
        again = delivery.deliver([NAMES[0]], "submit file", "again", "alice")  # a later delivery, new number
        self.assertGreater(int(again.catalog.split("_")[1]), int(made.catalog.split("_")[1]))

    def test_rename_protocol_statuses_and_stored_archived(self):
        made = delivery.deliver(NAMES, "batch submit", "New biases", "alice")
        record = self.record(NAMES[1])
        self.assertEqual(delivery.archive_status(record), DELIVERED)
        self.assertIn("-> " + made.catalog + "_SUBMIT", self.poll())
        self.assertEqual(delivery.archive_status(record), "submitted")
        self.poll()
        self.assertEqual(delivery.archive_status(record), "archiving")
        self.assertEqual(delivery.update_delivery_status(), 0)
        self.assertIn("archived", self.poll())
        self.assertFalse((self.dirs[0] / NAMES[0]).exists())
        self.assertTrue(storage.cache_path(NAMES[0]).exists())
        self.assertEqual(self.states(), {n: DELIVERED for n in NAMES})  # only archived is stored
        call_command("update_delivery_status", stdout=open(os.devnull, "w"))
        self.assertEqual(self.states(), {n: ARCHIVED for n in NAMES})

    def test_every_spelling_of_the_renames(self):
        made = delivery.deliver(NAMES, "batch submit", "New biases", "alice")
        record = self.record(NAMES[0])
        current = self.dirs[0] / made.catalog
        for suffix, status in [("_SUBMIT", "submitted"), ("_submit", "submitted"), ("_PROC", "archiving"),
                               ("_proc", "archiving"), ("_ERROR", "archiving-failed"),
                               ("_error", "archiving-failed"), ("_ERR", "archiving-failed"),
                               ("_err", "archiving-failed")]:
            target = self.dirs[0] / (made.catalog + suffix)
            current.rename(target)
            current = target
            self.assertEqual(delivery.archive_status(record), status, suffix)
            self.assertEqual(delivery.update_delivery_status(), 0)
        current.unlink()
        self.assertEqual(delivery.archive_status(record), ARCHIVED)
        self.assertEqual(FileRecord.objects.get(name=NAMES[0]).state, DELIVERED)
        self.assertEqual(delivery.refresh(record), ARCHIVED)
        self.assertEqual(FileRecord.objects.get(name=NAMES[0]).state, ARCHIVED)

    def test_archive_failure_then_redelivery(self):
        made = delivery.deliver(NAMES, "batch submit", "New biases", "alice")
        self.poll("--through", "--fail", "--fail-suffix", "_err")
        self.assertTrue((self.dirs[0] / (made.catalog + "_err")).exists())
        self.assertEqual(delivery.archive_status(self.record(NAMES[0])), "archiving-failed")
        call_command("redeliver_catalogs", made.catalog, stdout=open(os.devnull, "w"))
        self.assertFalse((self.dirs[0] / (made.catalog + "_err")).exists())
        self.assertTrue(os.path.samefile(self.dirs[0] / made.catalog, storage.catalogs_dir() / made.catalog))
        self.assertEqual(delivery.archive_status(self.record(NAMES[0])), DELIVERED)
        self.poll("--through")
        self.assertEqual(delivery.update_delivery_status(), 2)

    def test_partial_link_failure_removes_links_keeps_catalog_and_records(self):
        (self.dirs[1] / NAMES[1]).write_text("something already there")
        before = AuditAction.objects.count()
        with self.assertRaisesMessage(delivery.DeliveryError, "Delivery failed: cannot link zz11223344_bia.fits"):
            delivery.deliver(NAMES, "batch submit", "New biases", "alice")
        self.assertEqual(sorted(p.name for p in self.dirs[0].iterdir()), [])
        self.assertEqual(sorted(p.name for p in self.dirs[1].iterdir()), [NAMES[1]])  # not ours: kept
        self.assertEqual(self.states(), {n: UPLOADED for n in NAMES})
        self.assertEqual(AuditAction.objects.count(), before)
        catalogs = sorted(storage.catalogs_dir().glob("opus_*_i.cat"), key=os.path.getmtime)
        self.assertEqual(catalogs[-1].read_text(), "".join(f"{n}\n" for n in sorted(NAMES)))  # §16.10

    def test_database_failure_after_linking_removes_the_links(self):
        with mock.patch.object(catalog, "audit", side_effect=RuntimeError("database went away")):
            with self.assertRaises(RuntimeError):
                delivery.deliver(NAMES, "batch submit", "New biases", "alice")
        for directory in self.dirs:
            self.assertEqual(list(directory.iterdir()), [])
        self.assertEqual(self.states(), {n: UPLOADED for n in NAMES})

    def test_a_missing_delivery_directory_is_refused_not_created(self):
        """An unmounted archive area must not silently become a local directory the archive never reads."""
        before = (AuditAction.objects.count(), sorted(storage.catalogs_dir().glob("*.cat")))
        self.dirs[1].rmdir()
        with self.assertRaisesMessage(delivery.DeliveryError, f"the delivery directory {self.dirs[1]} does not "
                                      "exist (is the archive's delivery area mounted?); nothing was delivered"):
            delivery.deliver(NAMES, "batch submit", "New biases", "alice")
        self.assertFalse(self.dirs[1].exists())
        self.assertEqual(list(self.dirs[0].iterdir()), [])
        self.assertEqual(self.states(), {n: UPLOADED for n in NAMES})
        self.assertEqual((AuditAction.objects.count(), sorted(storage.catalogs_dir().glob("*.cat"))), before)

    def test_redelivery_into_a_missing_delivery_directory_is_refused_before_anything_is_removed(self):
        made = delivery.deliver(NAMES, "batch submit", "New biases", "alice")
        self.poll("--through", "--fail", "--fail-suffix", "_err")
        shutil.rmtree(self.dirs[1])
        with self.assertRaisesMessage(delivery.DeliveryError, f"the delivery directory {self.dirs[1]} does not exist"):
            delivery.redeliver(made.catalog)
        self.assertFalse(self.dirs[1].exists())
        self.assertTrue((self.dirs[0] / (made.catalog + "_err")).exists())  # the archive's verdict is kept
        self.assertEqual(delivery.archive_status(self.record(NAMES[0])), "archiving-failed")

    def test_install_warns_of_a_missing_or_unusable_delivery_directory(self):
        out = io.StringIO()
        call_command("install_server", stdout=out)
        self.assertNotIn("Warning", out.getvalue())
        self.dirs[1].rmdir()
        elsewhere = Path(tempfile.mkdtemp(dir="/dev/shm"))  # tmpfs: another file system than the cache
        self.addCleanup(shutil.rmtree, elsewhere, True)
        with override_settings(CRDS_DELIVERY_DIRS=[*self.dirs, elsewhere]):
            out = io.StringIO()
            call_command("install_server", stdout=out)
        lines = out.getvalue().splitlines()
        self.assertEqual(lines[1], f"Warning: the delivery directory {self.dirs[1]} (CRDS_DELIVERY_DIRS) does not "
                                   "exist: confirms are refused until it does (mount the archive's delivery area).")
        self.assertIn(f"Warning: the delivery directory {elsewhere} (CRDS_DELIVERY_DIRS) is not readable or not on "
                      "the file system of", lines[2])
        self.assertEqual(len(lines), 3)
        self.assertFalse(self.dirs[1].exists(), "install does not create the archive's area")

    def test_refusals_before_anything_is_made(self):
        with self.assertRaisesMessage(delivery.DeliveryError, "no files to deliver"):
            delivery.deliver([], "batch submit", "x", "alice")
        with self.assertRaisesMessage(delivery.DeliveryError, "is not in the server's file cache"):
            delivery.deliver(["hst_acs_biasfile_0901.rmap"], "batch submit", "x", "alice")
        with self.assertRaisesMessage(delivery.DeliveryError, "No delivery catalog"):
            delivery.redeliver("opus_999999_i.cat")
        with self.assertRaises(storage.BadName):
            delivery.redeliver("../opus_1_i.cat")

    def test_delivery_status_page_and_rpc(self):
        made = delivery.deliver(NAMES, "batch submit", "New biases", "alice")
        self.assertIn("/login/", Client().get("/delivery_status/")["Location"])
        client = Client()
        client.force_login(User.objects.create_user("bob", password="pw"))
        page = client.get("/delivery_status/")
        self.assertContains(page, made.catalog)
        self.assertContains(page, '<td class="status status-delivered">delivered</td>', html=True)

        def rpc(*params):
            return client.post("/json/get_delivery_status", json.dumps(
                {"jsonrpc": "1.0", "method": "get_delivery_status", "params": list(params), "id": 1}),
                content_type="application/json").json()

        (row,) = [r for r in rpc(None)["result"] if r["catalog"] == made.catalog]
        self.assertEqual((row["kind"], row["status"], row["files"], row["description"]),
                         ("batch submit", "delivered", sorted(NAMES), "New biases"))
        self.assertNotIn("user", row)
        self.assertEqual(rpc("2999-01-01")["result"], [])
        self.assertIn("Invalid date", rpc("yesterday")["error"]["message"])

    def test_beat_schedule_runs_the_update(self):
        self.assertIn("interactive.update_delivery_status",
                      {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()})
