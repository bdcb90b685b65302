"""Error handling shared by the pages: CRDS errors verbatim, other failures hidden, paths removed."""

from __future__ import annotations

from unittest import mock

from crds.core.exceptions import CrdsError
from crds_server.testing import error_message
from django.conf import settings

from interactive import cache, filedetails, web
from interactive.models import FileRecord
from interactive.tests.page_support import PageTestCase


class PageErrorTests(PageTestCase):
    def test_unexpected_exceptions_are_internal_server_errors(self):
        with mock.patch.object(filedetails, "_build", side_effect=RuntimeError(f"{settings.CRDS_ROOT}/secret")):
            with self.assertLogs("interactive.web", "ERROR"):
                response = self.client.get("/browse/hst_0729.pmap")
        self.assertEqual(response.status_code, 500)
        self.assertEqual(error_message(response), "internal server error")

    def test_crds_errors_are_shown_verbatim_without_paths(self):
        path = settings.CRDS_FILE_CACHE / "mappings" / "hst" / "hst_0729.pmap"
        error = CrdsError(f"Can't load {path}: checksum mismatch")
        with mock.patch.object(filedetails, "_build", side_effect=error):
            response = self.client.get("/browse/hst_0729.pmap")
        self.assertEqual(response.status_code, 400)
        self.assertEqual(error_message(response), "Can't load hst_0729.pmap: checksum mismatch")

    def test_strip_paths(self):
        root = settings.CRDS_FILE_CACHE
        self.assertEqual(web.strip_paths(f"see {root}/references/hst/x_bia.fits and {root}/"),
                         f"see x_bia.fits and {root.name}")

    def test_file_page_is_cached_and_refreshed_by_a_catalog_change(self):
        first = self.client.get("/browse/hst_0729.pmap")
        self.assertNotContains(first, "A new description")
        FileRecord.objects.filter(name="hst_0729.pmap").update(description="A new description")
        self.assertNotContains(self.client.get("/browse/hst_0729.pmap"), "A new description")
        with self.captureOnCommitCallbacks(execute=True):
            record = self.record("hst_0729.pmap")
            record.save()
        self.assertContains(self.client.get("/browse/hst_0729.pmap"), "A new description")

    def test_bulk_changes_call_invalidate(self):
        self.client.get("/browse_db/", {"instrument": "acs"})
        FileRecord.objects.filter(instrument="acs").update(instrument="wfc3")
        cache.invalidate()
        self.assertContains(self.client.get("/browse_db/", {"instrument": "acs"}), "0 files")
