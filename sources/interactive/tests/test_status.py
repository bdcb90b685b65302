"""Derived status (server-behaviour.md §3.2, §6.3) on Browse Database and the file page."""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders
from django.test import override_settings

from interactive import cache, filedetails
from interactive.models import ARCHIVED, DELIVERED, FileRecord
from interactive.tests.page_support import PageTestCase

REFERENCE = "25716162j_bia.fits"  # latest (in the operational context), known from metadata only
CATALOG = "opus_4242_i.cat"
STATUS_RE = re.compile(r'<span class="status-([\w-]+)[^"]*">([\w-]+)</span>')


class DerivedStatusTests(PageTestCase):
    def setUp(self):
        super().setUp()
        self.tmp = Path(tempfile.mkdtemp(prefix="deliveries-", dir=settings.CRDS_FILE_CACHE.parent))
        self.addCleanup(shutil.rmtree, self.tmp, True)
        override = override_settings(CRDS_DELIVERY_DIRS=[self.tmp])
        override.enable()
        self.addCleanup(override.disable)

    def deliver(self, state=DELIVERED, catalog_link=None, **fields):
        """Put REFERENCE in a transitory state, as a delivery through another host's directory would."""
        link = f"/elsewhere/deliveries/{CATALOG}" if catalog_link is None else catalog_link
        FileRecord.objects.filter(name=REFERENCE).update(state=state, catalog_link=link, **fields)
        cache.invalidate()  # as every catalog change does

    def rename(self, suffix: str):
        """The archive pipeline's progress: the catalog as it now appears in the delivery directory."""
        for old in self.tmp.iterdir():
            old.unlink()
        (self.tmp / (CATALOG + suffix)).write_text(REFERENCE + "\n")

    def browse_status(self) -> str:
        response = self.client.get("/browse_db/", {"glob": REFERENCE})
        self.assertEqual(response.status_code, 200)
        shown = STATUS_RE.findall(response.content.decode())
        self.assertEqual(len(shown), 1, shown)
        self.assertEqual(shown[0][0], shown[0][1])
        return shown[0][1]

    def page_status(self) -> str:
        response = self.client.get(f"/browse/{REFERENCE}")
        self.assertEqual(response.status_code, 200)
        match = re.search(r'id="file-name">[^<]*<span class="status-([\w-]+) fs-6">([\w-]+)</span>',
                          response.content.decode())
        self.assertEqual(match.group(1), match.group(2))
        self.assertContains(response, f"<th>Status</th><td class=\"wrap\">{match.group(2)}</td>", html=True)
        return match.group(2)

    def test_transitory_states_show_the_archive_progress_of_the_delivery_directory(self):
        self.deliver()
        for suffix, status in (("", "delivered"), ("_SUBMIT", "submitted"), ("_proc", "archiving"),
                               ("_PROC", "archiving"), ("_ERROR", "archiving-failed"),
                               ("_err", "archiving-failed")):
            with self.subTest(suffix=suffix):
                self.rename(suffix)
                self.assertEqual(self.browse_status(), status)
                self.assertEqual(self.page_status(), status)
                # Progress is never stored; the record stays delivered.
                self.assertEqual(self.record(REFERENCE).state, DELIVERED)

    def test_a_finished_delivery_shows_archived_and_the_file_page_stores_it(self):
        self.deliver()
        self.assertEqual(self.browse_status(), "archived")
        self.assertEqual(self.record(REFERENCE).state, DELIVERED)  # a listing only reads
        self.assertEqual(self.page_status(), "archived")
        self.assertEqual(self.record(REFERENCE).state, ARCHIVED)

    def test_a_delivered_record_without_catalog_link_counts_as_archived(self):
        self.deliver(catalog_link="")
        self.assertEqual(self.browse_status(), "archived")

    def test_rejected_and_blacklisted_files_are_bad_whatever_the_delivery_says(self):
        for flags in ({"rejected": True}, {"blacklisted": True}):
            with self.subTest(flags=flags):
                self.deliver(rejected=False, blacklisted=False)
                self.rename("_SUBMIT")
                self.deliver(**flags)
                self.assertEqual(self.browse_status(), "bad")
                self.assertEqual(self.page_status(), "bad")

    def test_stored_states_outside_delivery_are_shown_as_they_are(self):
        self.assertEqual(self.browse_status(), "latest")  # in the operational context
        self.assertEqual(self.page_status(), "latest")
        self.assertEqual(filedetails.status(self.record("hst_0001.pmap")), "archived")
        for state in ("uploaded", "cancelled"):
            record = self.record(REFERENCE)
            record.state = state
            self.assertEqual(filedetails.status(record), "bad")

    def test_status_colours_follow_the_documentation(self):
        css = Path(finders.find("css/crds.css")).read_text()
        expected = {"uploaded": "orange", "delivered": "blue", "submitted": "orange", "archiving": "blue",
                    "archived": "darkgreen", "latest": "darkgoldenrod", "archiving-failed": "red", "bad": "red"}
        for status, colour in expected.items():
            with self.subTest(status=status):
                rule = re.search(rf"\.status-{status}(?![\w-])[^{{]*\{{([^}}]*)\}}", css)
                self.assertIsNotNone(rule, status)
                self.assertIn(f"color: {colour};", rule.group(1))
