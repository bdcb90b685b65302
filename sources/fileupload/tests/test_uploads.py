"""Uploads into the user's own ingest area: whole, chunked, list, delete, bad names, CSRF."""

import os
import shutil
import stat
from unittest import mock
from urllib.parse import urlsplit

from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, TestCase, override_settings
from interactive import storage

from fileupload import ingest

# Password hashing dominates these tests' run time; the hasher is not what they test.
FAST_PASSWORDS = override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])


@FAST_PASSWORDS
class UploadTestCase(TestCase):
    def setUp(self):
        User.objects.create_user("alice", password="pw")
        User.objects.create_user("bob", password="pw")
        self.client.login(username="alice", password="pw")
        for user in ("alice", "bob"):
            self.remove_areas(user)
            self.addCleanup(self.remove_areas, user)

    @staticmethod
    def remove_areas(user):
        shutil.rmtree(storage.ingest_dir(user), ignore_errors=True)
        shutil.rmtree(storage.uploads_dir() / "partial" / user, ignore_errors=True)

    def ingest(self, user="alice"):
        return storage.ingest_dir(user)

    def upload(self, name, data, client=None, **headers):
        return (client or self.client).post("/upload/chunked/", {"files": SimpleUploadedFile(name, data)}, **headers)


class IngestAreaTests(UploadTestCase):
    def test_login_makes_the_users_ingest_area_group_writable(self):
        """§5.1: submitters who copy files in by shell need the directory before their first upload."""
        self.assertFalse(self.ingest("bob").exists())
        Client().login(username="bob", password="pw")
        self.assertTrue(self.ingest("bob").is_dir())
        self.assertEqual(stat.S_IMODE(self.ingest("bob").stat().st_mode), 0o770)


class WholeUploadTests(UploadTestCase):
    def test_upload_new_saves_and_lists(self):
        response = self.client.post("/upload/new/", {"files": [SimpleUploadedFile("a.fits", b"x" * 10),
                                                               SimpleUploadedFile("b.rmap", b"y" * 3)]})
        self.assertEqual(response.status_code, 200)
        files = {f["name"]: f for f in response.json()["files"]}
        self.assertEqual((files["a.fits"]["size"], files["b.rmap"]["size"]), (10, 3))
        self.assertEqual(files["a.fits"]["deleteType"], "DELETE")
        self.assertRegex(files["a.fits"]["deleteUrl"], r"^/upload/delete/a\.fits\?t=[\w-]{20,}$")
        self.assertEqual((self.ingest() / "a.fits").read_bytes(), b"x" * 10)
        self.assertEqual(stat.S_IMODE(os.stat(self.ingest()).st_mode), 0o770)

    def test_a_file_django_spooled_to_disk_is_moved_not_copied(self):
        data = os.urandom(200_000)
        spool = storage.uploads_dir()
        spool.mkdir(parents=True, exist_ok=True)
        before = set(spool.iterdir())
        with override_settings(FILE_UPLOAD_MAX_MEMORY_SIZE=1024, FILE_UPLOAD_TEMP_DIR=str(spool)), \
                mock.patch.object(ingest, "save_whole", side_effect=AssertionError("copied")):
            for url in ("/upload/new/", "/upload/chunked/"):
                response = self.client.post(url, {"files": SimpleUploadedFile("big.fits", data)})
                self.assertEqual(response.status_code, 200)
                self.assertEqual((self.ingest() / "big.fits").read_bytes(), data)
                self.assertEqual(stat.S_IMODE(os.stat(self.ingest() / "big.fits").st_mode), 0o660)
                self.assertEqual(set(spool.iterdir()), before)  # no temporary file left behind

    def test_get_upload_new_redirects_to_list(self):
        self.assertRedirects(self.client.get("/upload/new/"), "/upload/list/")

    def test_chunked_without_content_range_is_the_whole_file(self):
        response = self.upload("whole.fits", b"abc")
        self.assertEqual(response.status_code, 200)
        self.assertIn("csrftoken", response.cookies)
        self.assertEqual((self.ingest() / "whole.fits").read_bytes(), b"abc")

    def test_upload_replaces_a_file_of_the_same_name(self):
        self.upload("same.fits", b"old contents")
        self.upload("same.fits", b"new")
        self.assertEqual((self.ingest() / "same.fits").read_bytes(), b"new")

    def test_bad_names_are_refused_and_nothing_is_written(self):
        for name in ("bad$name.fits", "a" * 129, "caf\u00e9.fits", " lead.fits"):
            with self.subTest(name=name):
                response = self.client.post("/upload/new/", {"files": [SimpleUploadedFile("ok.fits", b"1"),
                                                                       SimpleUploadedFile(name, b"2")]})
                self.assertEqual(response.status_code, 400, name)
                errors = [f["error"] for f in response.json()["files"] if "error" in f]
                self.assertIn("Invalid file name", errors[0])
                self.assertFalse((self.ingest() / "ok.fits").exists())

    def test_directories_in_names_never_leave_the_ingest_area(self):
        # Django's multipart parser keeps only the last component of a client's file name ...
        self.assertEqual(self.upload("../x.fits", b"1").status_code, 200)
        self.assertTrue((self.ingest() / "x.fits").exists())
        self.assertFalse((self.ingest().parent / "x.fits").exists())
        # ... and the service refuses any name that could still name another directory.
        for name in ("../x", "..", ".", "a/b", "/etc/passwd"):
            with self.subTest(name=name), self.assertRaises(ingest.UploadError):
                ingest.save_whole("alice", name, [b"1"])
            with self.subTest(name=name), self.assertRaises(ingest.UploadError):
                ingest.delete("alice", name)

    def test_a_trailing_newline_is_not_part_of_a_valid_name(self):
        with self.assertRaises(ingest.UploadError):
            ingest.save_whole("alice", "x.fits\n", [b"1"])
        self.assertEqual(list(self.ingest().iterdir()) if self.ingest().exists() else [], [])

    def test_names_with_spaces_are_acceptable(self):
        self.assertEqual(self.upload("my ref file.fits", b"1").status_code, 200)
        self.assertTrue((self.ingest() / "my ref file.fits").exists())

    def test_anonymous_cannot_upload(self):
        response = Client().post("/upload/chunked/", {"files": SimpleUploadedFile("a.fits", b"1")})
        self.assertEqual(response.status_code, 302)
        self.assertIn("/login/", response["Location"])

    def test_csrf_enforced_on_upload_posts(self):
        client = Client(enforce_csrf_checks=True)
        client.login(username="alice", password="pw")
        response = self.upload("a.fits", b"1", client=client)
        self.assertEqual(response.status_code, 403)
        self.assertFalse((self.ingest() / "a.fits").exists())
        token = client.get("/upload/chunked/").cookies["csrftoken"].value
        response = client.post("/upload/chunked/", {"files": SimpleUploadedFile("a.fits", b"1"),
                                                    "csrfmiddlewaretoken": token})
        self.assertEqual(response.status_code, 200)
        self.assertIn("csrftoken", response.cookies)

    def test_oversized_upload_is_refused(self):
        with self.settings(CRDS_MAX_UPLOAD_BYTES=10):
            response = self.upload("big.fits", b"x" * 11)
        self.assertEqual(response.status_code, 400)
        self.assertIn("larger than the upload limit", response.content.decode())
        self.assertFalse((self.ingest() / "big.fits").exists())

    def test_files_copied_in_by_shell_are_listed(self):
        ingest.user_dir("alice")
        (self.ingest() / "copied.fits").write_bytes(b"12345")
        files = self.client.get("/upload/list/").json()["files"]
        self.assertEqual([(f["name"], f["size"]) for f in files], [("copied.fits", 5)])


class ChunkedUploadTests(UploadTestCase):
    def send_chunks(self, name, data, size, client=None):
        responses = []
        for start in range(0, len(data), size):
            chunk = data[start:start + size]
            responses.append(self.upload(name, chunk, client=client,
                                         HTTP_CONTENT_RANGE=f"bytes {start}-{start + len(chunk) - 1}/{len(data)}"))
        return responses

    def test_chunks_are_reassembled(self):
        data = os.urandom(5_000_123)
        responses = self.send_chunks("big.fits", data, 2_000_000)
        self.assertEqual([r.status_code for r in responses], [200, 200, 200])
        self.assertTrue(all("csrftoken" in r.cookies for r in responses))
        self.assertEqual((self.ingest() / "big.fits").read_bytes(), data)
        self.assertNotIn("big.fits", [f["name"] for f in responses[0].json()["files"]])  # not before complete
        self.assertIn("big.fits", [f["name"] for f in responses[-1].json()["files"]])

    def test_a_missing_chunk_is_refused(self):
        data = b"a" * 30
        self.upload("gap.fits", data[:10], HTTP_CONTENT_RANGE="bytes 0-9/30")
        response = self.upload("gap.fits", data[20:], HTTP_CONTENT_RANGE="bytes 20-29/30")
        self.assertEqual(response.status_code, 400)
        self.assertIn("only 10 bytes arrived", response.content.decode())
        self.assertFalse((self.ingest() / "gap.fits").exists())

    def test_chunk_length_must_match_its_range(self):
        response = self.upload("bad.fits", b"abc", HTTP_CONTENT_RANGE="bytes 0-9/30")
        self.assertEqual(response.status_code, 400)
        self.assertIn("Content-Range says 10", response.content.decode())

    def test_malformed_content_range(self):
        for header in ("bytes 5-1/10", "bytes 0-10/10", "items 0-1/2", "bytes -1-2/3", "bytes 0-1/" + "9" * 5000,
                       "bytes \u0660-\u0661/2"):
            with self.subTest(header=header):
                response = self.upload("bad.fits", b"ab", HTTP_CONTENT_RANGE=header)
                self.assertEqual(response.status_code, 400)
                self.assertIn("Content-Range", response.json()["files"][0]["error"])

    def test_restart_from_zero(self):
        self.upload("r.fits", b"old!!", HTTP_CONTENT_RANGE="bytes 0-4/10")
        self.send_chunks("r.fits", b"0123456789", 4)
        self.assertEqual((self.ingest() / "r.fits").read_bytes(), b"0123456789")

    def test_bad_chunk_name(self):
        response = self.upload("evil$.fits", b"ab", HTTP_CONTENT_RANGE="bytes 0-1/2")
        self.assertEqual(response.status_code, 400)
        self.assertIn("Invalid file name", response.json()["files"][0]["error"])
        with self.assertRaises(ingest.UploadError):
            ingest.save_chunk("alice", "../../evil", ingest.ContentRange(0, 1, 2), b"ab")
        self.assertFalse((self.ingest().parent.parent / "evil").exists())


class DeleteTests(UploadTestCase):
    def setUp(self):
        super().setUp()
        self.upload("a.fits", b"123")
        self.delete_url = self.client.get("/upload/list/").json()["files"][0]["deleteUrl"]

    def test_get_with_the_session_token_deletes(self):
        response = self.client.get(self.delete_url)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json(), {"files": [{"a.fits": True}]})
        self.assertFalse((self.ingest() / "a.fits").exists())

    def test_get_without_or_with_a_wrong_token_deletes_nothing(self):
        for url in ("/upload/delete/a.fits", "/upload/delete/a.fits?t=guess", "/upload/delete/a.fits?t="):
            with self.subTest(url=url):
                self.assertEqual(self.client.get(url).status_code, 403)
        self.assertTrue((self.ingest() / "a.fits").exists())

    def test_token_of_another_session_deletes_nothing(self):
        other = Client()
        other.login(username="alice", password="pw")
        self.assertEqual(other.get(self.delete_url).status_code, 403)
        self.assertTrue((self.ingest() / "a.fits").exists())

    def test_other_user_cannot_touch_my_files(self):
        bob = Client()
        bob.login(username="bob", password="pw")
        bob_url = bob.get("/upload/list/").json()["files"]
        self.assertEqual(bob_url, [])
        token = urlsplit(bob.post("/upload/new/", {"files": SimpleUploadedFile("b.fits", b"1")})
                         .json()["files"][0]["deleteUrl"]).query
        self.assertEqual(bob.get(f"/upload/delete/a.fits?{token}").status_code, 404)
        self.assertTrue((self.ingest() / "a.fits").exists())

    def test_post_delete_needs_csrf(self):
        client = Client(enforce_csrf_checks=True)
        client.login(username="alice", password="pw")
        self.assertEqual(client.post("/upload/delete/a.fits").status_code, 403)
        self.assertTrue((self.ingest() / "a.fits").exists())
        token = client.get("/upload/chunked/").cookies["csrftoken"].value
        self.assertEqual(client.post("/upload/delete/a.fits", HTTP_X_CSRFTOKEN=token).status_code, 200)
        self.assertFalse((self.ingest() / "a.fits").exists())

    def test_bad_and_missing_names(self):
        token = urlsplit(self.delete_url).query
        self.assertEqual(self.client.get(f"/upload/delete/..%2Fa.fits?{token}").status_code, 404)
        self.assertEqual(self.client.get(f"/upload/delete/bad$name?{token}").status_code, 400)
        self.assertTrue((self.ingest() / "a.fits").exists())
        self.assertEqual(self.client.get(f"/upload/delete/nothere.fits?{token}").status_code, 404)

    def test_upload_page_lists_files(self):
        response = self.client.get("/upload/")
        self.assertContains(response, "a.fits")
        self.assertIn("csrftoken", response.cookies)
