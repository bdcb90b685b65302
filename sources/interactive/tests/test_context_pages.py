"""Context history (with diff selection), all contexts, and context tables of a pmap and an rmap."""

from __future__ import annotations

import crds
from crds_server.testing import error_message

from interactive.models import ContextHistory
from interactive.tests.page_support import PageTestCase


class ContextHistoryPageTests(PageTestCase):
    def test_history_lists_latest_rows_newest_first_with_diff_radios(self):
        response = self.client.get("/display_context_history/")
        self.assertEqual(response.status_code, 200)
        self.assertIn("no-cache", response["Cache-Control"])
        rows = list(ContextHistory.objects.filter(state="latest").order_by("-start_date", "-id"))
        body = response.content.decode()
        self.assertEqual(body.count('name="file1"'), len(rows))
        self.assertLess(body.index(f'value="{rows[0].context}"'), body.index(f'value="{rows[-1].context}"'))
        self.assertContains(response, 'action="/difference/"')

    def test_diff_selection_leads_to_the_difference_page(self):
        response = self.client.get("/difference/", {"file1": "hst_0728.pmap", "file2": "hst_0729.pmap"})
        self.assertRedirects(response, "/difference/hst_0728.pmap/hst_0729.pmap/", fetch_redirect_response=False)


class AllContextsPageTests(PageTestCase):
    def test_pmaps_newest_first_and_paged(self):
        first = self.client.get("/display_all_contexts/")
        self.assertContains(first, "hst_0729.pmap")
        self.assertNotContains(first, "hst_0001.pmap")
        self.assertContains(first, "page 1 of")
        body = first.content.decode()
        self.assertLess(body.index("hst_0729.pmap</a>"), body.index("hst_0728.pmap</a>"))

    def test_bad_page_number(self):
        for number in ("x1", "\u00b2", "9" * 5000):  # '²' passes str.isdigit() but not int()
            with self.subTest(number=number[:8]):
                response = self.client.get("/display_all_contexts/", {"page": number})
                self.assertEqual(response.status_code, 400)
                self.assertIn("Invalid page number", error_message(response))


class ContextTablePageTests(PageTestCase):
    def test_pmap_table_groups_references_by_instrument_and_type(self):
        response = self.client.get(f"/context_table/{self.OPERATIONAL}")
        self.assertEqual(response.status_code, 200)
        pmap = crds.get_cached_mapping(self.OPERATIONAL)
        bias = pmap.get_imap("acs").get_rmap("biasfile")
        self.assertContains(response, 'id="instrument-acs"')
        self.assertContains(response, f'href="/context_table/{bias.basename}"')
        some_reference = sorted(bias.reference_names())[0]
        self.assertContains(response, f'href="/browse/{some_reference}"')

    def test_rmap_table_lists_match_cases(self):
        name = "hst_acs_biasfile_0345.rmap"
        response = self.client.get(f"/context_table/{name}")
        rows = crds.get_cached_mapping(name).todict()["selections"]
        self.assertContains(response, f"{len(rows)} match cases")
        self.assertContains(response, "<th>DETECTOR</th>")
        self.assertContains(response, f'<a href="/browse/{rows[0][-1]}">')

    def test_unknown_reference_and_bad_names(self):
        for url, status, message in (
            ("/context_table/hst_9999.pmap", 404, "not known to CRDS"),
            ("/context_table/v8q14451j_idc.fits", 400, "is not a cataloged mapping"),
            ("/context_table/x;y.pmap", 404, "Invalid file name"),
        ):
            with self.subTest(url=url):
                response = self.client.get(url)
                self.assertEqual(response.status_code, status)
                self.assertIn(message, error_message(response))
