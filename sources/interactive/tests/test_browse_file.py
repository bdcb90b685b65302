"""The file page /browse/<name>: catalog fields, contents, actions, users, match cases, links."""

from __future__ import annotations

import crds
from crds_server.testing import error_message

from interactive import catalog
from interactive.tests.page_support import PageTestCase

HELD_REFERENCE = "v8q14451j_idc.fits"  # in the test cache with its header
METADATA_ONLY = "25716162j_bia.fits"  # known from download_metadata only


class BrowseFilePageTests(PageTestCase):
    def test_pmap_page_shows_fields_text_predecessor_diff_and_download(self):
        response = self.client.get("/browse/hst_0729.pmap")
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, '<h2 class="h4" id="file-name">hst_0729.pmap')
        self.assertContains(response, 'id="mapping-text"')
        self.assertContains(response, "&#x27;ACS&#x27; : &#x27;hst_acs_0421.imap&#x27;")
        self.assertContains(response, 'href="/difference/hst_0728.pmap/hst_0729.pmap/"')
        self.assertContains(response, 'href="/get/hst_0729.pmap"')
        self.assertNoServerPaths(response)

    def test_mapping_users_are_the_mappings_that_name_it(self):
        response = self.client.get("/browse/hst_acs_biasfile_0345.rmap")
        pmap_imap = crds.get_cached_mapping(self.OPERATIONAL).get_imap("acs").basename
        self.assertContains(response, f'<a href="/browse/{pmap_imap}">{pmap_imap}</a>')
        imap_page = self.client.get(f"/browse/{pmap_imap}")
        self.assertContains(imap_page, f'<a href="/browse/{self.OPERATIONAL}">{self.OPERATIONAL}</a>')

    def test_held_reference_shows_header_match_cases_and_users(self):
        response = self.client.get(f"/browse/{HELD_REFERENCE}")
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, 'id="header-table"')
        self.assertContains(response, "<th>FILETYPE</th>")
        rmap = crds.get_cached_mapping(self.OPERATIONAL).get_imap("acs").get_rmap("idctab")
        matches = rmap.file_matches(HELD_REFERENCE)
        if matches:
            self.assertContains(response, f'<a href="/browse/{rmap.basename}">{rmap.basename}</a>')
        else:
            self.assertContains(response, "Not selected by the edit context.")
        self.assertContains(response, 'id="used-by"')
        self.assertNoServerPaths(response)

    def test_metadata_only_reference_says_so_and_lists_match_cases(self):
        response = self.client.get(f"/browse/{METADATA_ONLY}")
        self.assertContains(response, 'id="no-header"')
        rmap = crds.get_cached_mapping(self.OPERATIONAL).get_imap("acs").get_rmap("biasfile")
        cases = rmap.file_matches(METADATA_ONLY)
        self.assertTrue(cases)
        body = response.content.decode()
        section = body[body.index('id="match-cases"'):body.index('id="constraints"')]
        self.assertEqual(section.count("<tr>") - 1, len(cases))
        self.assertIn("<th>DETECTOR</th>", section)
        self.assertIn(rmap.basename, section)
        self.assertContains(response, 'id="constraints"')

    def test_past_actions_come_from_the_audit_log_and_hide_users_anonymously(self):
        catalog.audit("blacklist", METADATA_ONLY, "operator", why="noisy columns", details="marked as 'BAD'")
        response = self.client.get(f"/browse/{METADATA_ONLY}")
        self.assertContains(response, "noisy columns")
        self.assertNotContains(response, "operator")

    def test_unknown_and_badly_named_files_are_404_with_a_message(self):
        for url, message in (
            ("/browse/hst_9999.pmap", "File 'hst_9999.pmap' is not known to CRDS."),
            ("/browse/..%2F..%2Fetc%2Fpasswd", "Invalid file name"),
            ("/browse/a%20b.fits", "Invalid file name"),
        ):
            with self.subTest(url=url):
                response = self.client.get(url)
                self.assertEqual(response.status_code, 404)
                self.assertIn(message, error_message(response))
                self.assertNoServerPaths(response)

    def test_uploaded_records_are_not_shown(self):
        record = self.record(METADATA_ONLY)
        record.state = "uploaded"
        record.save()
        self.assertEqual(self.client.get(f"/browse/{METADATA_ONLY}").status_code, 404)
