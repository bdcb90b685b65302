"""Best references pages: pasted headers, FITS datasets, explore menus; crds computes the answer."""

from __future__ import annotations

import re

from crds.core import heavy_client
from crds_server.testing import error_message, test_data
from django.core.files.uploadedfile import SimpleUploadedFile

from interactive import bestrefs
from interactive.tests.page_support import PageTestCase

HEADER = {"INSTRUME": "ACS", "DETECTOR": "WFC", "CCDAMP": "ABCD", "CCDGAIN": "2.0", "APERTURE": "WFC1",
          "DATE-OBS": "2015-01-01", "TIME-OBS": "00:00:00", "NAXIS1": "4144", "NAXIS2": "4136",
          "LTV1": "24.0", "LTV2": "0.0", "OBSTYPE": "IMAGING"}
ROW_RE = re.compile(r'<tr id="bestref-(\w+)"><td>\w+</td>\s*<td[^>]*>(?:<a href="/browse/[^"]+">|<span[^>]*>)?([^<]+)')


def shown(response) -> dict[str, str]:
    return dict(ROW_RE.findall(response.content.decode()))


class BestrefsPageTests(PageTestCase):
    def expected(self, header: dict[str, str]) -> dict[str, str]:
        return {k: str(v) for k, v in heavy_client.hv_best_references(self.OPERATIONAL, header).items()}

    def test_pasted_header_gives_crds_answer_and_rules_used(self):
        text = "\n".join(f"{k} = '{v}'" for k, v in HEADER.items())
        response = self.client.post("/bestrefs/", {"context": self.OPERATIONAL, "header": text})
        self.assertEqual(response.status_code, 200)
        expected = self.expected(HEADER)
        got = shown(response)
        self.assertEqual(set(got), set(expected))
        self.assertEqual(got["biasfile"], expected["biasfile"])
        self.assertTrue(expected["biasfile"].endswith(".fits"))
        self.assertContains(response, 'href="/browse/hst_acs_biasfile_0345.rmap"')
        self.assertContains(response, "<th>CCDAMP</th><td>ABCD</td>")

    def test_json_header_is_accepted(self):
        import json

        response = self.client.post("/bestrefs/", {"context": self.OPERATIONAL, "header": json.dumps(HEADER)})
        self.assertEqual(shown(response)["darkfile"], self.expected(HEADER)["darkfile"])

    def test_fits_dataset_upload(self):
        dataset = sorted((test_data() / "hst").glob("j8bt*_raw.fits"))[0]
        upload = SimpleUploadedFile(dataset.name, dataset.read_bytes())
        response = self.client.post("/bestrefs/", {"context": self.OPERATIONAL, "dataset": upload})
        self.assertEqual(response.status_code, 200)
        from crds import data_file

        header = {k: str(v) for k, v in data_file.get_header(str(dataset)).items()}
        self.assertEqual(shown(response)["biasfile"], self.expected(header)["biasfile"])

    def test_bad_inputs_are_refused_with_a_message(self):
        for data, message in (
            ({"header": "DETECTOR = WFC\nBAD<KEY = 1"}, "Invalid header keyword"),
            ({"header": "1KEY = WFC"}, "Invalid header keyword"),
            ({"header": "DETECTOR = WFC; rm -rf"}, "Invalid value for DETECTOR"),
            ({"header": "{not json"}, "does not parse as a JSON object"),
            ({"header": '{"A": ' + "[" * 60_000 + "]" * 60_000 + "}"}, "does not parse as a JSON object"),
            ({"header": "DETECTOR = WFC"}, "does not name a known instrument"),
            ({"header": ""}, "Paste header keywords or upload a FITS dataset."),
            ({"header": "INSTRUME = ACS", "context": "hst_9999.pmap"}, "Select a valid choice"),
            ({"dataset": SimpleUploadedFile("x.fits", b"SIMPLE? no")}, "could not be read as a FITS file"),
            ({"dataset": SimpleUploadedFile("x.txt", b"INSTRUME = ACS")}, "is not a FITS file"),
        ):
            with self.subTest(data=data):
                response = self.client.post("/bestrefs/", {"context": self.OPERATIONAL, **data})
                self.assertEqual(response.status_code, 400)
                self.assertContains(response, message, status_code=400)

    def test_oversized_dataset_is_refused(self):
        with self.settings(CRDS_MAX_UPLOAD_BYTES=100):
            upload = SimpleUploadedFile("big.fits", b"x" * 101)
            response = self.client.post("/bestrefs/", {"context": self.OPERATIONAL, "dataset": upload})
        self.assertEqual(response.status_code, 400)
        self.assertContains(response, "larger than the upload limit of 100 bytes", status_code=400)

    def test_parse_header_text_forms(self):
        self.assertEqual(bestrefs.parse_header_text("detector: WFC / a comment\n# note\nCCDAMP ABCD"),
                         {"DETECTOR": "WFC", "CCDAMP": "ABCD"})


class ExplorePageTests(PageTestCase):
    def test_menus_come_from_the_rules(self):
        response = self.client.get("/bestrefs_explore/", {"context": self.OPERATIONAL, "instrument": "acs"})
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, 'name="parkey_DETECTOR"')
        self.assertContains(response, '<option value="HRC">HRC</option>')
        self.assertNotContains(response, 'name="parkey_DATE-OBS"')

    def test_compute_from_menus(self):
        params = {"DETECTOR": "WFC", "CCDAMP": "ABCD", "CCDGAIN": "2.0"}
        response = self.client.post("/bestrefs_explore_compute/", {
            "context": self.OPERATIONAL, "instrument": "acs", "date": "2015-01-01", "time": "00:00:00",
            **{f"parkey_{k}": v for k, v in params.items()}, "parkey_APERTURE": "UNDEFINED"})
        self.assertEqual(response.status_code, 200)
        header = {"INSTRUME": "ACS", "DATE-OBS": "2015-01-01", "TIME-OBS": "00:00:00", **params}
        self.assertEqual(shown(response)["biasfile"], self.expected_biasfile(header))

    def expected_biasfile(self, header):
        return str(heavy_client.hv_best_references(self.OPERATIONAL, header)["biasfile"])

    def test_bad_choices(self):
        base = {"context": self.OPERATIONAL, "instrument": "acs", "date": "2015-01-01", "time": "00:00:00"}
        for data, message in (
            ({"parkey_DETECTOR": "XYZ"}, "is not a value the rules use for DETECTOR"),
            ({"parkey_FOO": "1"}, "'FOO' is not a matching parameter of acs"),
            ({"date": "2015-02-30"}, "Invalid date and time"),
            ({"instrument": "hubble"}, "Unknown instrument"),
            ({"context": "hst_9999.pmap"}, "not known to CRDS"),
        ):
            with self.subTest(data=data):
                response = self.client.post("/bestrefs_explore_compute/", {**base, **data})
                self.assertIn(response.status_code, (400, 404))
                self.assertIn(message, error_message(response))
        self.assertEqual(self.client.get("/bestrefs_explore_compute/").status_code, 400)
        response = self.client.get("/bestrefs_explore/", {"context": self.OPERATIONAL, "instrument": "hubble"})
        self.assertEqual(response.status_code, 400)
