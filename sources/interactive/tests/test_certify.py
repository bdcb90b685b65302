"""Certify Files: the ingest area against a context, per-file results, jpoll progress, result page."""

import gc
import re
import shutil
import tempfile
from pathlib import Path

from crds_server.testing import test_data
from django.contrib.auth.models import User
from django.test import Client, TestCase, override_settings
from jpoll import service as jpoll

from interactive import certify, contexts, storage
from interactive.models import StoredResult

# Password hashing dominates these tests' run time; the hasher is not what they test.
FAST_PASSWORDS = override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])

HST = test_data() / "hst"


@FAST_PASSWORDS
class CertifyTests(TestCase):
    def setUp(self):
        User.objects.create_user("alice", password="pw")
        self.client.login(username="alice", password="pw")
        self.ingest = storage.ingest_dir("alice")
        shutil.rmtree(self.ingest, ignore_errors=True)
        self.ingest.mkdir(parents=True)
        self.addCleanup(shutil.rmtree, self.ingest, True)

    def add(self, *names):
        for name in names:
            shutil.copy(HST / name, self.ingest / name)

    def post(self, client=None, **fields):
        data = {"pmap_mode": "pmap_menu", "pmap_name": "hst_0729.pmap", "compare_old_reference": "False"}
        data.update(fields)
        return (client or self.client).post("/certify/", data)

    def test_get_form_sets_csrf_cookie(self):
        self.add("hst_acs_biasfile_0001.fits")
        response = self.client.get("/certify/")
        self.assertEqual(response.status_code, 200)
        self.assertIn("csrftoken", response.cookies)
        self.assertContains(response, "hst_acs_biasfile_0001.fits")
        self.assertNotContains(response, 'id="error_message"')

    def test_good_reference_is_ok_and_bad_rmap_fails(self):
        self.add("hst_acs_biasfile_0001.fits", "hst_acs_darkfile_invalid1.rmap")
        key = self.client.get("/jpoll/open_channel/").json()
        response = self.post()
        self.assertEqual(response.status_code, 302)
        result_id = response["Location"].rsplit("/", 1)[-1]
        stored = StoredResult.objects.get(name=result_id)
        self.assertEqual(stored.user, "alice")
        files = {f["name"]: f for f in stored.parameters["files"]}
        self.assertEqual(files["hst_acs_biasfile_0001.fits"]["status"], "OK", files["hst_acs_biasfile_0001.fits"])
        self.assertEqual(files["hst_acs_darkfile_invalid1.rmap"]["status"], "Failed")
        self.assertTrue(any("ERROR" in line for line in files["hst_acs_darkfile_invalid1.rmap"]["lines"]))
        messages = jpoll.pull(key, 0)
        self.assertIn("Certifying &#x27;hst_acs_biasfile_0001.fits&#x27; [1 / 2 files]", messages[0]["data"])
        self.assertIn("&#x27;hst_acs_darkfile_invalid1.rmap&#x27;: Failed", [m["data"] for m in messages])
        self.assertEqual(messages[-1]["type"], "done")
        self.assertEqual(messages[-1]["data"]["status"], 0)
        self.assertEqual(messages[-1]["data"]["result"], f"http://testserver/display_result/{result_id}")

        page = self.client.get(f"/display_result/{result_id}")
        self.assertEqual(page.status_code, 200)
        self.assertIn("csrftoken", page.cookies)
        text = page.content.decode()
        self.assertNotIn('id="error_message"', text)
        self.assertIn("hst_0729.pmap", text)
        self.assertRegex(text, r"hst_acs_biasfile_0001\.fits</td>\s*<td><span[^>]*>OK<")
        self.assertRegex(text, r"hst_acs_darkfile_invalid1\.rmap</td>\s*<td><span[^>]*>Failed<")
        self.assertNotIn(str(self.ingest), text)
        self.assertIsNone(re.search(r"/tmp/|/work/", text))

    def test_result_page_needs_login(self):
        self.add("hst_acs_biasfile_0001.fits")
        result_id = self.post()["Location"].rsplit("/", 1)[-1]
        response = Client().get(f"/display_result/{result_id}")
        self.assertEqual(response.status_code, 302)
        self.assertIn("/login/", response["Location"])
        self.assertEqual(self.client.get("/display_result/0b0b0b0b-0000-4000-8000-000000000000").status_code, 404)
        self.assertEqual(self.client.get("/display_result/nonsense").status_code, 404)

    def test_edit_and_latest_modes_use_the_pointers(self):
        self.assertEqual(certify.choose_context("pmap_edit"), contexts.pointer_context("edit"))
        self.assertEqual(certify.choose_context("pmap_operational"), contexts.pointer_context("latest"))
        # `crds submit` sends pmap_text without the text: pmap_name stands in.
        self.assertEqual(certify.choose_context("pmap_text", "hst_0729.pmap"), "hst_0729.pmap")

    def test_bad_context_is_a_form_error(self):
        self.add("hst_acs_biasfile_0001.fits")
        for fields in ({"pmap_name": "hst_9999.pmap"}, {"pmap_name": "../hst.pmap"}, {"pmap_name": "hst_acs.imap"},
                       {"pmap_mode": "pmap_bogus"}):
            with self.subTest(fields=fields):
                response = self.post(**fields)
                self.assertEqual(response.status_code, 200)
                self.assertContains(response, 'id="error_message"')
        self.assertFalse(StoredResult.objects.exists())

    def test_empty_ingest_area_is_an_error(self):
        response = self.post()
        self.assertContains(response, "Your ingest area is empty")
        self.assertFalse(StoredResult.objects.exists())

    def test_links_and_unlistable_names_in_the_ingest_area_are_not_files(self):
        """What /upload/list/ hides is not certified or submitted: a link could name any server file."""
        self.add("hst_acs_biasfile_0001.fits")
        elsewhere = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, elsewhere, True)
        shutil.copy(HST / "hst_acs_biasfile_0002.fits", elsewhere / "secret.fits")
        (self.ingest / "hst_acs_biasfile_0002.fits").symlink_to(elsewhere / "secret.fits")
        (self.ingest / "two\nlines.fits").write_bytes(b"x")
        self.assertEqual(certify.ingested_files("alice"), ["hst_acs_biasfile_0001.fits"])
        listed = [f["name"] for f in self.client.get("/upload/list/").json()["files"]]
        self.assertEqual(listed, certify.ingested_files("alice"))
        response = self.post()
        stored = StoredResult.objects.get(name=response["Location"].rsplit("/", 1)[-1])
        self.assertEqual([f["name"] for f in stored.parameters["files"]], ["hst_acs_biasfile_0001.fits"])

    def test_non_fits_bytes_named_fits_fail(self):
        (self.ingest / "junk.fits").write_bytes(b"this is not a FITS file")
        response = self.post()
        stored = StoredResult.objects.get(name=response["Location"].rsplit("/", 1)[-1])
        self.assertEqual(stored.parameters["files"][0]["status"], "Failed")

    def test_an_aborted_run_stops_and_stores_nothing(self):
        self.add("hst_acs_biasfile_0001.fits")
        key = self.client.get("/jpoll/open_channel/").json()
        jpoll.abort(key)
        response = self.post()
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "External agent requested calling process termination.")
        self.assertFalse(StoredResult.objects.exists())

    def test_certify_needs_login_and_csrf(self):
        self.assertEqual(Client().get("/certify/").status_code, 302)
        client = Client(enforce_csrf_checks=True)
        client.login(username="alice", password="pw")
        self.add("hst_acs_biasfile_0001.fits")
        self.assertEqual(self.post(client=client).status_code, 403)
        self.assertFalse(StoredResult.objects.exists())


class CertifyFileTests(TestCase):
    def test_duplicate_keys_are_found_unless_crds_wrote_the_mapping(self):
        """crds' grammar pass runs for uploads; only mappings crds wrote from memory skip it."""
        folder = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, folder, True)
        path = folder / "hst_acs_0421.imap"
        text = storage.cache_path("hst_acs_0421.imap").read_text()
        path.write_text(text.replace("selector = {", "selector = {\n    'biasfile' : 'hst_acs_biasfile_0344.rmap',"))
        upload = certify.certify_file(str(path), path.name, "hst_0729.pmap", False)
        self.assertEqual(upload.status, "Failed")
        self.assertTrue(any("Duplicate entry" in line for line in upload.lines), upload.lines)
        generated = certify.certify_file(str(path), path.name, "hst_0729.pmap", False, written_by_crds=True)
        self.assertFalse(any("Duplicate entry" in line for line in generated.lines), generated.lines)
        self.assertEqual(gc.get_freeze_count(), 0)  # the older objects are collectable again

    def test_objects_stay_frozen_until_the_last_certify_ends(self):
        self.assertEqual(gc.get_freeze_count(), 0)
        with certify.older_objects_frozen():
            frozen = gc.get_freeze_count()
            self.assertGreater(frozen, 0)
            with certify.older_objects_frozen():
                self.assertEqual(gc.get_freeze_count(), frozen)
            self.assertEqual(gc.get_freeze_count(), frozen)
        self.assertEqual(gc.get_freeze_count(), 0)
