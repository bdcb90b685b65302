"""Uploads removed at confirm leave the ingest area at once and are deleted in the background."""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from pathlib import Path
from unittest import mock

from django.test import SimpleTestCase, override_settings

from interactive import storage


class DiscardTests(SimpleTestCase):
    def setUp(self):
        self.root = Path(tempfile.mkdtemp(prefix="server-files-"))
        self.addCleanup(shutil.rmtree, self.root, True)
        override = override_settings(CRDS_SERVER_FILES=self.root)
        override.enable()
        self.addCleanup(override.disable)
        self.ingest = storage.ingest_dir("alice")
        self.ingest.mkdir(parents=True)
        self.trash = storage.uploads_dir() / "discarded"

    def wait_for_background(self):
        for thread in threading.enumerate():
            if thread.name == "discard":
                thread.join(10)

    def test_the_file_leaves_at_once_and_is_deleted(self):
        upload = self.ingest / "big.fits"
        upload.write_bytes(b"x" * 100_000)
        storage.discard(upload)
        self.assertFalse(upload.exists())
        self.wait_for_background()
        self.assertEqual(list(self.trash.iterdir()), [])

    def test_several_files_leave_at_once_and_one_thread_deletes_them(self):
        uploads = [self.ingest / f"{n}.fits" for n in range(5)]
        for upload in uploads:
            upload.write_bytes(b"x" * 1000)
        started = []
        real_thread = threading.Thread
        with mock.patch.object(storage.threading, "Thread",
                               side_effect=lambda *a, **k: started.append(k) or real_thread(*a, **k)):
            storage.discard(*uploads, self.ingest / "gone.fits")
        self.assertFalse(any(upload.exists() for upload in uploads))
        self.assertEqual(len(started), 1)
        self.wait_for_background()
        self.assertEqual(list(self.trash.iterdir()), [])

    def test_leftovers_of_an_interrupted_process_are_deleted_by_the_next_discard(self):
        self.trash.mkdir(parents=True)
        (self.trash / "0123abcd").write_bytes(b"left behind")
        upload = self.ingest / "a.fits"
        upload.write_bytes(b"a")
        storage.discard(upload)
        self.wait_for_background()
        self.assertEqual(list(self.trash.iterdir()), [])

    def test_a_missing_file_is_not_an_error(self):
        storage.discard(self.ingest / "gone.fits")
        self.assertFalse(any(t.name == "discard" for t in threading.enumerate()))

    def test_across_file_systems_the_file_is_deleted_in_place(self):
        other = Path("/dev/shm")
        if not other.is_dir() or other.stat().st_dev == self.root.stat().st_dev:
            self.skipTest("needs /dev/shm on another file system")
        elsewhere = Path(tempfile.mkdtemp(prefix="ingest-", dir=other))
        self.addCleanup(shutil.rmtree, elsewhere, True)
        shutil.rmtree(self.root / "ingest")
        (self.root / "ingest").symlink_to(elsewhere)  # the ingest areas on another file system
        self.ingest.mkdir(parents=True)
        upload = self.ingest / "a.fits"
        upload.write_bytes(b"a")
        storage.discard(upload)
        self.assertFalse(upload.exists())
        self.assertEqual(list(self.trash.iterdir()), [])

    def test_a_file_under_another_name_in_the_ingest_area_stays(self):
        keep, drop = self.ingest / "keep.fits", self.ingest / "drop.fits"
        keep.write_bytes(b"k")
        drop.write_bytes(b"d")
        storage.discard(drop)
        time.sleep(0.01)
        self.wait_for_background()
        self.assertEqual([p.name for p in self.ingest.iterdir()], ["keep.fits"])
