"""Delete references from / add existing references to the rules (server-behaviour.md §5.6, §15, §16.3)."""

from __future__ import annotations

import crds
from crds_server.testing import error_message
from django.contrib.auth.models import User
from jpoll.models import Message

from interactive import confirm, contexts, storage, submission_kinds
from interactive.models import FileRecord, StoredResult
from interactive.submission import BatchRequest, SubmissionError
from interactive.tests import test_submission_views as page_tests
from interactive.tests.test_submission import SubmissionTestCase

DELETED = "2581508tj_bia.fits"   # in hst_acs_biasfile_0345.rmap of hst_0729.pmap
ADDED = "v8q14451j_idc.fits"     # a cataloged ACS idctab that hst_0729.pmap does not name


class DeleteAddTests(SubmissionTestCase):
    def delete(self, names: list[str], **fields) -> StoredResult:
        return submission_kinds.delete_references(
            BatchRequest(user=self.user, description=fields.pop("description", "Retire a bias"), **fields), names)

    def add(self, names: list[str], **fields) -> StoredResult:
        return submission_kinds.add_existing_references(
            BatchRequest(user=self.user, description=fields.pop("description", "Restore a table"), **fields), names)

    def test_delete_confirms_into_a_pmap_without_the_reference(self):
        result = self.delete([DELETED])
        params = result.parameters
        self.assertEqual((params["disposition"], params["submission_kind"]), ("", "delete references"))
        old, new = next(iter(params["rmap_map"].items()))
        self.assertEqual(old, "hst_acs_biasfile_0345.rmap")
        self.assertEqual(params["context_rmaps"], [new])
        self.assertNotIn(DELETED, crds.get_cached_mapping(new).reference_names())
        self.assertTrue(any(DELETED in line for line in params["diff_results"][0]["logical"]))
        self.assertEqual(self.subjects(), ["CRDS HST DJANGO STARTED Delete Existing by Alice Ames",
                                           "CRDS HST DJANGO READY Delete Existing by Alice Ames"])
        outcome = confirm.decide(result.name, "confirm", self.user).confirmation.parameters
        self.assertEqual(outcome["pmap"], "hst_0730.pmap")
        self.assertEqual(contexts.get_pointer("edit"), "hst_0730.pmap")
        pmap = crds.get_cached_mapping("hst_0730.pmap")
        self.assertEqual(pmap.get_imap("acs").get_rmap("biasfile").basename, new)
        self.assertNotIn(DELETED, pmap.reference_names())
        self.assertTrue(storage.cache_path(DELETED).exists() or self.record(DELETED))  # the file stays in CRDS
        self.assertEqual(self.subjects()[-1], "CRDS HST DJANGO CONFIRMED Delete References by Alice Ames")

    def test_add_existing_confirms_into_a_pmap_with_the_reference(self):
        result = self.add([ADDED])
        params = result.parameters
        self.assertEqual((params["disposition"], params["submission_kind"]), ("", "add references"))
        new = params["context_rmaps"][0]
        self.assertRegex(new, r"^hst_acs_idctab_\d{4}\.rmap$")
        self.assertIn(ADDED, crds.get_cached_mapping(new).reference_names())
        confirm.decide(result.name, "confirm", self.user)
        pmap = crds.get_cached_mapping(contexts.get_pointer("edit"))
        self.assertEqual(pmap.name, "hst_0730.pmap")
        self.assertIn(ADDED, pmap.reference_names())

    def test_cancel_removes_the_new_rmap(self):
        result = self.delete([DELETED])
        new = result.parameters["context_rmaps"][0]
        confirm.decide(result.name, "cancel", self.user)
        self.assertFalse(FileRecord.objects.filter(name=new).exists())
        self.assert_nothing_added()

    def test_bad_requests_change_nothing(self):
        FileRecord.objects.filter(name=ADDED).update(rejected=True)
        cases = [
            (self.delete, [], "No reference files were specified."),
            (self.delete, ["../etc/passwd"], "Invalid file name '../etc/passwd'."),
            (self.delete, ["sub/dir_bia.fits"], "Invalid file name 'sub/dir_bia.fits'."),
            (self.delete, ["zzzzzzzzz_bia.fits"], "File 'zzzzzzzzz_bia.fits' is not a reference known to CRDS."),
            (self.delete, ["hst_acs_biasfile_0345.rmap"], "is not a reference known to CRDS"),
            (self.delete, [ADDED], f"File '{ADDED}' is not in context 'hst_0729.pmap'."),
            (self.add, [DELETED], f"File '{DELETED}' is already in context 'hst_0729.pmap'."),
            (self.add, [ADDED], f"File '{ADDED}' is marked bad and cannot be added."),
        ]
        for action, names, message in cases:
            with self.subTest(message), self.assertRaisesMessage(SubmissionError, message):
                action(names)
        with self.assertRaisesMessage(SubmissionError, "A description is required"):
            self.delete([DELETED], description="")
        self.assert_nothing_added()

    def test_instrument_lock_must_match(self):
        from locking import service as locks

        lock = locks.acquire_instrument(self.user, "cos")
        with self.assertRaisesMessage(SubmissionError, "Instrument Mismatch"):
            self.delete([DELETED], lock_id=lock.lock_id, locked_instrument="cos")
        self.assert_nothing_added()

    def test_split_names(self):
        self.assertEqual(submission_kinds.split_names(" a.fits,b.fits\n a.fits ,, c.fits "),
                         ["a.fits", "b.fits", "c.fits"])


class DeleteAddPageTests(SubmissionTestCase):
    login = page_tests.SubmissionPageTests.login

    def test_access_rules_need_the_group_and_the_lock(self):
        User.objects.create_user("mallory", password="pw")
        for url in ("/delete/reference/", "/add_existing/reference/"):
            self.assertIn("/login/", self.client.get(url)["Location"])
            response = self.login("mallory", "acs").get(url)  # §16.3: the lock alone is not enough
            self.assertEqual(response.status_code, 200)
            self.assertIn("group 'file_submission'", error_message(response))
            self.assertIn("instrument lock", error_message(self.login("alice", "none").get(url)))

    def test_delete_form_to_ready_page_and_errors_in_the_error_div(self):
        client = self.login(enforce_csrf_checks=True)
        token = client.get("/delete/reference/").cookies["csrftoken"].value
        form = {"pmap_mode": "pmap_edit", "description": "Retire a bias", "csrfmiddlewaretoken": token}
        self.assertEqual(client.post("/delete/reference/", {**form, "csrfmiddlewaretoken": ""}).status_code, 403)
        response = client.post("/delete/reference/", {**form, "deleted_files": "a/b.fits"})
        self.assertEqual(error_message(response), "Invalid file name 'a/b.fits'.")
        channel = client.get("/jpoll/open_channel/").json()
        response = client.post("/delete/reference/", {**form, "deleted_files": DELETED})
        self.assertEqual(response.status_code, 302, error_message(response))
        done = Message.objects.filter(channel__key=channel, type="done").get()
        self.assertTrue(done.data["result"].endswith(response["Location"]))
        self.assertContains(client.get(response["Location"]), "READY: delete references")
        response = client.post("/add_existing/reference/", {**form, "added_files": DELETED})
        self.assertIn("already in context", error_message(response))
