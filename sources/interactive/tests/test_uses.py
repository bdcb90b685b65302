"""The /uses/<file> page: every mapping using a file, transitively up to the pmaps."""

from __future__ import annotations

import re

import crds
from crds_server.testing import error_message

from interactive import filedetails
from interactive.models import FileRecord
from interactive.tests.page_support import PageTestCase

REFERENCE = "25716162j_bia.fits"  # an ACS bias named by the operational rules
RMAP = "hst_acs_biasfile_0345.rmap"
LINK_RE = re.compile(r'<a href="/browse/([^"]+)">')


def section(response, kind: str) -> list[str]:
    body = response.content.decode()
    match = re.search(rf'<section class="uses-level" id="uses-{kind}">(.*?)</section>', body, re.S)
    return LINK_RE.findall(match.group(1)) if match else []


class UsesPageTests(PageTestCase):
    def operational_chain(self, filekind: str) -> tuple[str, str]:
        imap = crds.get_cached_mapping(self.OPERATIONAL).get_imap("acs")
        return imap.get_rmap(filekind).basename, imap.basename

    def test_reference_is_used_by_rmaps_imaps_and_pmaps(self):
        response = self.client.get(f"/uses/{REFERENCE}")
        self.assertEqual(response.status_code, 200)
        rmaps, imaps, pmaps = (section(response, kind) for kind in ("rmap", "imap", "pmap"))
        rmap, imap = self.operational_chain("biasfile")
        self.assertIn(rmap, rmaps)
        self.assertIn(imap, imaps)
        self.assertIn(self.OPERATIONAL, pmaps)
        # Each level really names the level below, as the crds library reads the rules.
        for name in rmaps:
            self.assertIn(REFERENCE, crds.get_cached_mapping(name).reference_names())
        self.assertTrue(all(n.startswith("hst_acs_biasfile") and n.endswith(".rmap") for n in rmaps))
        self.assertTrue(all(n.endswith(".imap") for n in imaps))
        self.assertTrue(all(n.endswith(".pmap") for n in pmaps))
        self.assertContains(response, f'<a href="/browse/{REFERENCE}">{REFERENCE}</a>')
        self.assertNoServerPaths(response)

    def test_rmap_uses_match_the_crds_library(self):
        response = self.client.get(f"/uses/{RMAP}")
        self.assertEqual(section(response, "rmap"), [])
        imaps, pmaps = section(response, "imap"), section(response, "pmap")
        self.assertTrue(imaps and pmaps)
        for pmap in pmaps:
            self.assertIn(RMAP, crds.get_cached_mapping(pmap).mapping_names())
        previous = int(min(pmaps)[4:8]) - 1
        self.assertNotIn(RMAP, crds.get_cached_mapping(f"hst_{previous:04d}.pmap").mapping_names())

    def test_pmap_is_used_by_nothing(self):
        response = self.client.get(f"/uses/{self.OPERATIONAL}")
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, 'id="no-uses"')
        self.assertEqual(filedetails.uses(self.OPERATIONAL), [])

    def test_unreferenced_file_says_so(self):
        FileRecord.objects.create(name="zz11223344_bia.fits", observatory="hst", state="archived",
                                  instrument="acs", filekind="biasfile", type="reference")
        response = self.client.get("/uses/zz11223344_bia.fits")
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "No cataloged mapping uses this file.")

    def test_a_damaged_mapping_in_the_cache_does_not_break_the_page(self):
        name = "hst_acs_biasfile_9998.rmap"
        path = self.cache_path(name)
        path.write_text(f"header = {{ broken\n selector = ('{REFERENCE}' ,,,\n")
        self.addCleanup(path.unlink, True)
        FileRecord.objects.create(name=name, observatory="hst", state="archived", instrument="acs",
                                  filekind="biasfile", type="mapping")
        response = self.client.get(f"/uses/{REFERENCE}")
        self.assertEqual(response.status_code, 200)
        self.assertIn(name, section(response, "rmap"))

    def test_file_page_links_to_the_uses_page(self):
        self.assertContains(self.client.get(f"/browse/{RMAP}"), f'id="uses-link" href="/uses/{RMAP}"')

    def test_unknown_pending_and_badly_named_files_are_404_with_a_message(self):
        FileRecord.objects.create(name="zz99887766_bia.fits", observatory="hst", state="uploaded",
                                  instrument="acs", filekind="biasfile", type="reference")
        for url, message in (
            ("/uses/hst_9999.pmap", "File 'hst_9999.pmap' is not known to CRDS."),
            ("/uses/zz99887766_bia.fits", "is not known to CRDS"),
            ("/uses/..%2F..%2Fetc%2Fpasswd", "Invalid file name"),
            ("/uses/a%20b.fits", "Invalid file name"),
            ("/uses/sub/dir.fits", "Invalid file name"),
        ):
            with self.subTest(url=url):
                response = self.client.get(url)
                self.assertEqual(response.status_code, 404)
                self.assertIn(message, error_message(response))
                self.assertNoServerPaths(response)
