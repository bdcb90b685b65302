"""The upload limit CRDS_MAX_UPLOAD_BYTES: read from the site configuration, enforced on every upload path."""

from crds_server import siteconfig
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from fileupload.tests.test_uploads import UploadTestCase

LIMIT = 10


class UploadLimitConfigTests(UploadTestCase):
    def test_the_limit_comes_from_the_site_configuration(self):
        self.assertEqual(settings.CRDS_MAX_UPLOAD_BYTES, int(settings.SITE["CRDS_MAX_UPLOAD_BYTES"]))
        default = int(siteconfig.render("hst", "django", {})["CRDS_MAX_UPLOAD_BYTES"])
        self.assertEqual(default, 50 * 1024**3)  # several times the largest reference files

    def test_an_upload_at_the_limit_is_accepted(self):
        with self.settings(CRDS_MAX_UPLOAD_BYTES=LIMIT):
            whole = self.client.post("/upload/new/", {"files": SimpleUploadedFile("a.fits", b"x" * LIMIT)})
            chunked = self.upload("b.fits", b"y" * LIMIT, HTTP_CONTENT_RANGE=f"bytes 0-{LIMIT - 1}/{LIMIT}")
        self.assertEqual((whole.status_code, chunked.status_code), (200, 200))
        self.assertEqual((self.ingest() / "a.fits").stat().st_size, LIMIT)
        self.assertEqual((self.ingest() / "b.fits").stat().st_size, LIMIT)


class OverLimitTests(UploadTestCase):
    def assertRefused(self, response, name: str):
        self.assertEqual(response.status_code, 400)
        errors = [f["error"] for f in response.json()["files"] if "error" in f]
        self.assertEqual(len(errors), 1, errors)
        self.assertIn(f"larger than the upload limit of {LIMIT} bytes", errors[0])
        self.assertNotIn("/", errors[0])  # no server path
        self.assertFalse((self.ingest() / name).exists())
        self.assertNotIn(name, [f["name"] for f in self.client.get("/upload/list/").json()["files"]])

    def test_browser_upload_over_the_limit(self):
        with self.settings(CRDS_MAX_UPLOAD_BYTES=LIMIT):
            response = self.client.post("/upload/new/", {"files": SimpleUploadedFile("big.fits", b"x" * (LIMIT + 1))})
        self.assertRefused(response, "big.fits")

    def test_chunked_upload_over_the_limit_is_refused_at_its_first_chunk(self):
        with self.settings(CRDS_MAX_UPLOAD_BYTES=LIMIT):
            response = self.upload("big.fits", b"x" * 4, HTTP_CONTENT_RANGE=f"bytes 0-3/{LIMIT + 1}")
        self.assertRefused(response, "big.fits")
        partial = self.ingest().parent.parent / "uploads" / "partial" / "alice"
        self.assertFalse(list(partial.glob("big.fits*")) if partial.exists() else [])

    def test_one_file_over_the_limit_saves_none_of_a_batch(self):
        with self.settings(CRDS_MAX_UPLOAD_BYTES=LIMIT):
            response = self.client.post("/upload/new/", {"files": [SimpleUploadedFile("ok.fits", b"x"),
                                                                   SimpleUploadedFile("big.fits", b"x" * 50)]})
        self.assertEqual(response.status_code, 400)
        self.assertIn("larger than the upload limit", response.content.decode())
        self.assertFalse((self.ingest() / "big.fits").exists())
        self.assertFalse((self.ingest() / "ok.fits").exists())
