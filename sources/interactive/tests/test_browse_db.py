"""Browse Database: filters, server-side sorting and paging over the imported catalog."""

from __future__ import annotations

import datetime
import re

from interactive import browse, catalog
from interactive.models import FileRecord
from interactive.tests.page_support import PageTestCase

ROW_NAME_RE = re.compile(r'<td class="file-name"><a href="/browse/([^"]+)">')


def names(response) -> list[str]:
    return ROW_NAME_RE.findall(response.content.decode())


class BrowseDbPageTests(PageTestCase):
    def test_form_alone_runs_no_query(self):
        response = self.client.get("/browse_db/")
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, 'id="browse-form"')
        self.assertNotContains(response, 'id="browse-results"')

    def test_instrument_and_type_filter_with_count(self):
        response = self.client.get("/browse_db/", {"instrument": "acs", "filekind": "biasfile", "sort": "name"})
        expected = catalog.cataloged().filter(instrument="acs", filekind="biasfile")
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, f"{expected.count()} files")
        shown = names(response)
        self.assertEqual(shown, list(expected.order_by("name").values_list("name", flat=True)[:50]))
        self.assertTrue(all(n.endswith(".fits") or n.endswith(".rmap") for n in shown))

    def test_pages_follow_the_sort_without_overlap(self):
        params = {"instrument": "wfc3", "sort": "-name", "per_page": 25}
        first = names(self.client.get("/browse_db/", {**params, "page": 1}))
        second = names(self.client.get("/browse_db/", {**params, "page": 2}))
        expected = list(catalog.cataloged().filter(instrument="wfc3").order_by("-name")
                        .values_list("name", flat=True)[:50])
        self.assertEqual(first + second, expected)
        self.assertEqual(len(set(first) & set(second)), 0)

    def test_pages_of_a_sort_with_ties_neither_overlap_nor_skip(self):
        params = {"instrument": "stis", "sort": "-status", "per_page": 100}
        pages = [names(self.client.get("/browse_db/", {**params, "page": n})) for n in (1, 2, 3)]
        expected = list(catalog.cataloged().filter(instrument="stis").order_by("-state", "-id")
                        .values_list("name", flat=True)[:300])
        self.assertEqual(pages[0] + pages[1] + pages[2], expected)

    def test_deep_page_and_page_past_the_end(self):
        total = catalog.cataloged().count()
        self.assertGreater(total, 40_000)
        last = -(-total // 200)
        response = self.client.get("/browse_db/", {"sort": "name", "per_page": 200, "page": last})
        expected = list(catalog.cataloged().order_by("name").values_list("name", flat=True)[(last - 1) * 200:])
        self.assertEqual(names(response), expected)
        beyond = self.client.get("/browse_db/", {"sort": "name", "per_page": 200, "page": last + 50})
        self.assertEqual(names(beyond), expected)
        self.assertContains(beyond, f"page {last} of {last}")

    def test_sort_on_a_date(self):
        rows = list(FileRecord.objects.filter(instrument="cos", filekind="flatfile").order_by("name")[:3])
        for days, row in zip((3, 1, 2), rows, strict=True):
            row.delivery_date = datetime.datetime(2001, 1, days)
            row.save()
        response = self.client.get("/browse_db/", {"instrument": "cos", "filekind": "flatfile",
                                                   "sort": "delivered"})
        self.assertEqual(names(response)[:3], [rows[1].name, rows[2].name, rows[0].name])

    def test_glob_extension_deliverer_and_date_range(self):
        row = FileRecord.objects.get(name="hst_acs_biasfile_0345.rmap")
        row.deliverer_user, row.delivery_date = "jdoe", datetime.datetime(2019, 5, 2, 12)
        row.save()
        found = names(self.client.get("/browse_db/", {"glob": "hst_acs_bias*_03?5.rmap", "deliverer": "jdoe",
                                                      "date_from": "2019-05-02", "date_to": "2019-05-02"}))
        self.assertEqual(found, ["hst_acs_biasfile_0345.rmap"])
        self.assertEqual(names(self.client.get("/browse_db/", {"deliverer": "jdoe", "date_to": "2019-05-01"})), [])
        rmaps = names(self.client.get("/browse_db/", {"extension": ".rmap", "glob": "hst_cos_*", "per_page": 200}))
        self.assertTrue(rmaps and all(n.startswith("hst_cos_") and n.endswith(".rmap") for n in rmaps))

    def test_bad_files_only_and_status(self):
        rejected = set(FileRecord.objects.filter(rejected=True).values_list("name", flat=True))
        shown = names(self.client.get("/browse_db/", {"bad": "only", "per_page": 200}))
        self.assertEqual(set(shown), rejected)
        self.assertContains(self.client.get("/browse_db/", {"status": "bad"}), f"{len(rejected)} files")
        excluded = names(self.client.get("/browse_db/", {"bad": "exclude", "sort": "name", "per_page": 200}))
        self.assertFalse(set(excluded) & rejected)
        latest = catalog.cataloged().filter(state="latest", rejected=False, blacklisted=False).count()
        self.assertContains(self.client.get("/browse_db/", {"status": "latest"}), f"{latest} files")

    def test_pending_uploads_never_show(self):
        FileRecord.objects.create(name="hst_acs_biasfile_9999.rmap", state="uploaded", observatory="hst",
                                  instrument="acs", filekind="biasfile", type="mapping")
        self.assertEqual(names(self.client.get("/browse_db/", {"glob": "hst_acs_biasfile_9999.rmap"})), [])

    def test_bad_inputs_get_field_errors_and_no_results(self):
        for params, message in (
            ({"date_from": "2019-02-30"}, "Enter a valid date"),
            ({"date_from": "2019-05-02", "date_to": "2019-05-01"}, "end date is before"),
            ({"glob": "../etc/*"}, "wildcards"),
            ({"sort": "sha1sum"}, "Cannot sort on"),
            ({"per_page": "5000"}, "Select a valid choice"),
            ({"instrument": "hubble"}, "Select a valid choice"),
            ({"page": "-1"}, "greater than or equal"),
        ):
            with self.subTest(params=params):
                response = self.client.get("/browse_db/", params)
                self.assertEqual(response.status_code, 400)
                self.assertContains(response, message, status_code=400)
                self.assertNotContains(response, 'id="browse-results"', status_code=400)

    def test_count_is_cached_per_catalog_generation(self):
        from interactive import cache

        filters = browse.Filters(instrument="acs", filekind="biasfile")
        before = browse.count(filters)
        FileRecord.objects.filter(name="25716162j_bia.fits").update(instrument="wfc3")
        self.assertEqual(browse.count(filters), before)
        cache.invalidate()
        self.assertEqual(browse.count(filters), before - 1)


class GlobTests(PageTestCase):
    def test_glob_translation(self):
        self.assertEqual(browse.glob_regex("a?c*.fits"), r"^a.c.*\.fits$")
        with self.assertRaises(browse.BadQuery):
            browse.glob_regex("a/b")
