"""The live archive status of delivered files where people see it (server-behaviour.md §3.2, §6.3).

Browse filters and the delivery list show the derived status the file page shows.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from django.conf import settings
from django.test import override_settings

from interactive import badfiles, browse, delivery
from interactive.tests.page_support import PageTestCase

# Mappings of hst_0728.pmap that hst_0729.pmap no longer uses: deliverable and markable bad.
DARK, DRKC = "hst_wfc3_darkfile_0389.rmap", "hst_wfc3_drkcfile_0092.rmap"


class ArchiveStatusTestCase(PageTestCase):
    """A private delivery area, as the archive poller sees it."""

    def setUp(self):
        super().setUp()
        self.tmp = Path(tempfile.mkdtemp(prefix="server-files-", dir=settings.CRDS_FILE_CACHE.parent))
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.area = self.tmp / "deliveries"
        self.area.mkdir()
        override = override_settings(CRDS_DELIVERY_DIRS=[self.area], CRDS_SERVER_FILES=self.tmp)
        override.enable()
        self.addCleanup(override.disable)

    def names_with_status(self, status: str) -> set[str]:
        """Which of the two delivered rmaps browse counts and lists with `status`."""
        shown = set()
        for name in (DARK, DRKC):
            found = browse.page(browse.Filters(status=status, glob=name))
            self.assertEqual(found.count, len(found.rows))
            shown |= {row.name for row in found.rows}
        return shown


class DerivedStatusShownTests(ArchiveStatusTestCase):
    def test_browse_filter_and_delivery_list_follow_the_file_page(self):
        made = delivery.deliver([DARK, DRKC], "batch submit", "Darks", "alice")
        self.assertEqual(self.names_with_status("delivered"), {DARK, DRKC})
        (self.area / made.catalog).rename(self.area / (made.catalog + "_SUBMIT"))

        page = self.client.get(f"/browse/{DARK}")
        self.assertContains(page, "submitted")
        self.assertEqual(self.names_with_status("submitted"), {DARK, DRKC})
        self.assertEqual(self.names_with_status("delivered"), set())
        self.assertNotIn(DARK, self.names_with_status("archived"))
        (row,) = [r for r in delivery.deliveries() if r.catalog == made.catalog]
        self.assertEqual(row.status, "submitted")

        badfiles.mark([DARK], "bad", "Wrong darks", "operator")
        (row,) = [r for r in delivery.deliveries() if r.catalog == made.catalog]
        self.assertEqual(row.status, "bad")
        self.assertEqual(self.names_with_status("submitted"), {DRKC})
        self.assertIn(DARK, self.names_with_status("bad"))

        (self.area / (made.catalog + "_SUBMIT")).unlink()
        self.assertIn(DRKC, self.names_with_status("archived"))
        self.assertEqual(self.names_with_status("submitted"), set())
