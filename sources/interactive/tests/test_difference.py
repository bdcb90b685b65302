"""Difference page: logical mapping differences, text diffs, crds diff of references, bad input."""

from __future__ import annotations

import shutil

from crds import diff as crds_diff
from crds_server.testing import error_message

from interactive import differences
from interactive.tests.page_support import PageTestCase

OLD, NEW = "hst_0728.pmap", "hst_0729.pmap"


class DifferencePageTests(PageTestCase):
    def test_form_posts_to_the_stable_url(self):
        self.assertContains(self.client.get("/difference/"), 'id="difference-form"')
        response = self.client.post("/difference/", {"file1": OLD, "file2": NEW})
        self.assertRedirects(response, f"/difference/{OLD}/{NEW}/", fetch_redirect_response=False)

    def test_pmap_difference_recurses_to_the_rmaps(self):
        response = self.client.get(f"/difference/{OLD}/{NEW}/")
        self.assertEqual(response.status_code, 200)
        expected = crds_diff.remove_boring(crds_diff.mapping_diffs(
            str(self.cache_path(OLD)), str(self.cache_path(NEW)), include_header_diffs=True))
        self.assertTrue(expected)
        self.assertContains(response, f"Logical differences ({len(expected)})")
        self.assertContains(response, "hst_wfc3_darkfile_0389.rmap &rarr; hst_wfc3_darkfile_0390.rmap")
        self.assertContains(response, "added terminal &#x27;39617203i_drk.fits&#x27;")
        self.assertContains(response, '<tr class="diff-add">')
        # A text diff for each changed pair, top-level pmap first.
        body = response.content.decode()
        imap_pair = "hst_wfc3_0430.imap &rarr; hst_wfc3_0431.imap ("
        self.assertLess(body.index(f"{OLD} &rarr; {NEW} ("), body.index(imap_pair))
        added = "+    &#x27;WFC3&#x27; : &#x27;hst_wfc3_0431.imap&#x27;,"
        self.assertContains(response, f'<span class="add">{added}</span>')
        self.assertNoServerPaths(response)

    def test_rmap_difference_reports_replacements(self):
        rows = differences.logical_differences(differences.cataloged("hst_wfc3_darkfile_0389.rmap"),
                                               differences.cataloged("hst_wfc3_darkfile_0390.rmap"))
        self.assertTrue(rows)
        self.assertTrue(all(r.mappings == [("hst_wfc3_darkfile_0389.rmap", "hst_wfc3_darkfile_0390.rmap")]
                            for r in rows))
        self.assertIn("add", {r.action for r in rows})

    def test_reference_difference_is_the_crds_diff_report(self):
        response = self.client.get("/difference/z1r1943el_1dx.fits/z2d19237l_1dx.fits/")
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, 'id="diff-report"')
        self.assertContains(response, "Keyword DESCRIP  has different values")
        self.assertNoServerPaths(response)

    def test_references_not_held_cannot_be_differenced(self):
        response = self.client.get("/difference/25716162j_bia.fits/2571616ej_bia.fits/")
        self.assertEqual(response.status_code, 400)
        self.assertIn("not here: 25716162j_bia.fits, 2571616ej_bia.fits", error_message(response))

    def test_bad_inputs(self):
        for url, status, message in (
            (f"/difference/{OLD}/hst_9999.pmap/", 404, "File 'hst_9999.pmap' is not known to CRDS."),
            (f"/difference/{OLD}/hst_acs_0421.imap/", 400, "not the same kind of file"),
            (f"/difference/{OLD}/v8q14451j_idc.fits/", 400, "Cannot difference a mapping with a reference"),
            ("/difference/a%20b.pmap/hst_0001.pmap/", 404, "Invalid file name"),
        ):
            with self.subTest(url=url):
                response = self.client.get(url)
                self.assertEqual(response.status_code, status)
                self.assertIn(message, error_message(response))
        response = self.client.post("/difference/", {"file1": "../x", "file2": ""})
        self.assertEqual(response.status_code, 400)
        self.assertContains(response, "Use a CRDS file name", status_code=400)
        self.assertContains(response, "Give one cataloged file name.", status_code=400)
        self.assertNotContains(response, "ingest area", status_code=400)


class IngestedDifferenceTests(PageTestCase):
    """Logged-in users may compare a file of their own ingest area with a cataloged one."""

    def setUp(self):
        super().setUp()
        from django.contrib.auth.models import User

        from interactive import storage

        self.user = User.objects.create_user("differ", password="x")
        self.ingest = storage.ingest_dir("differ")
        self.ingest.mkdir(parents=True, exist_ok=True)
        text = self.cache_path("hst_acs_biasfile_0345.rmap").read_text()
        self.assertIn("'25716162j_bia.fits'", text)
        (self.ingest / "my_bias.rmap").write_text(text.replace("'25716162j_bia.fits'", "'25716162j_new.fits'"))
        self.addCleanup(shutil.rmtree, self.ingest, True)

    def test_uploaded_mapping_against_cataloged(self):
        self.client.force_login(self.user)
        self.assertContains(self.client.get("/difference/"), '<option value="my_bias.rmap">my_bias.rmap</option>')
        response = self.client.post("/difference/", {"file1": "hst_acs_biasfile_0345.rmap",
                                                     "upload2": "my_bias.rmap"})
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "my_bias.rmap (your ingest area)")
        self.assertContains(response, "replaced &#x27;25716162j_bia.fits&#x27; with &#x27;25716162j_new.fits&#x27;")
        self.assertContains(response, '<span class="add">+')
        self.assertNoServerPaths(response)

    def test_unparsable_uploaded_mapping_gets_the_crds_error(self):
        (self.ingest / "broken.rmap").write_text("header = {\n  'mapping' : 'REFERENCE',\n")
        self.client.force_login(self.user)
        response = self.client.post("/difference/", {"file1": "hst_acs_biasfile_0345.rmap", "upload2": "broken.rmap"})
        self.assertEqual(response.status_code, 400)
        self.assertTrue(error_message(response))
        self.assertNotEqual(error_message(response), "internal server error")
        self.assertNoServerPaths(response)

    def test_other_users_files_and_anonymous_users_are_refused(self):
        response = self.client.post("/difference/", {"file1": "hst_acs_biasfile_0345.rmap",
                                                     "upload2": "my_bias.rmap"})
        self.assertEqual(response.status_code, 400)
        self.assertContains(response, "Give one cataloged file name.", status_code=400)
        from django.contrib.auth.models import User

        self.client.force_login(User.objects.create_user("other", password="x"))
        response = self.client.post("/difference/", {"file1": "hst_acs_biasfile_0345.rmap",
                                                     "upload2": "my_bias.rmap"})
        self.assertEqual(response.status_code, 400)
        self.assertContains(response, "Select a valid choice", status_code=400)
