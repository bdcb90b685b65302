"""/context_table/<mapping>/<n>: the original's ignored second argument redirects to the table."""

from __future__ import annotations

from crds_server.testing import error_message

from interactive.models import FileRecord
from interactive.tests.page_support import PageTestCase


class ContextTableIndexTests(PageTestCase):
    def test_any_number_redirects_to_the_whole_table(self):
        for url in (f"/context_table/{self.OPERATIONAL}/10", f"/context_table/{self.OPERATIONAL}/0/",
                    "/context_table/hst_acs_biasfile_0345.rmap/2"):
            with self.subTest(url=url):
                response = self.client.get(url)
                target = "/context_table/" + url.split("/")[2]
                self.assertRedirects(response, target, fetch_redirect_response=False)

    def test_the_redirect_target_is_the_table_with_instrument_anchors(self):
        response = self.client.get(f"/context_table/{self.OPERATIONAL}/3", follow=True)
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, 'id="instrument-acs"')
        self.assertEqual(error_message(response), "")

    def test_bad_numbers_and_names_are_404_with_a_message(self):
        FileRecord.objects.create(name="hst_9998.pmap", observatory="hst", state="uploaded", type="mapping")
        for url, message in (
            (f"/context_table/{self.OPERATIONAL}/abc", "Invalid context table section"),
            (f"/context_table/{self.OPERATIONAL}/-1", "Invalid context table section"),
            ("/context_table/hst_9999.pmap/1", "File 'hst_9999.pmap' is not known to CRDS."),
            ("/context_table/hst_9998.pmap/1", "is not a cataloged mapping"),
            ("/context_table/25716162j_bia.fits/1", "is not a cataloged mapping"),
            ("/context_table/a%20b.pmap/1", "Invalid file name"),
        ):
            with self.subTest(url=url):
                response = self.client.get(url)
                self.assertEqual(response.status_code, 404)
                self.assertIn(message, error_message(response))
                self.assertNoServerPaths(response)
