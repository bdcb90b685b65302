"""Submit references with no rules change (server-behaviour.md §5.6, §15)."""

from __future__ import annotations

from crds_server.testing import error_message
from django.contrib.auth.models import User
from jpoll.models import Message

from interactive import confirm, contexts, storage, submission_kinds
from interactive.models import UPLOADED, FileRecord, StoredResult
from interactive.submission import BatchRequest, SubmissionError
from interactive.tests import test_submission_views as page_tests
from interactive.tests.test_submission import BIAS, MISSING_KEY, SubmissionTestCase, sha1


class SubmitReferenceTests(SubmissionTestCase):
    def submit_references(self, **fields) -> StoredResult:
        return submission_kinds.submit_references(
            BatchRequest(user=self.user, description=fields.pop("description", "Orphan biases"), **fields))

    def test_reference_is_cataloged_without_rules_and_delivered_on_confirm(self):
        self.upload(BIAS)
        result = self.submit_references()
        params = result.parameters
        self.assertEqual((params["disposition"], params["submission_kind"]), ("", "submit file"))
        official = params["new_file_map"][BIAS]
        self.assertRegex(official, r"^[0-9a-z]{8}j_bia\.fits$")
        self.assertEqual(list(params["new_file_map"]), [BIAS])  # no new rmap
        self.assertEqual(params["context_rmaps"], [])
        record = self.record(official)
        self.assertEqual((record.state, record.uploaded_as, record.sha1sum), (UPLOADED, BIAS,
                                                                              sha1(storage.cache_path(official))))
        self.assertEqual(self.subjects(), ["CRDS HST DJANGO STARTED Submit Reference by Alice Ames",
                                           "CRDS HST DJANGO READY Submit Reference by Alice Ames"])
        outcome = confirm.decide(result.name, "confirm", self.user).confirmation.parameters
        self.assertEqual(outcome["delivered"], [official])
        self.assertEqual(outcome["generated"], [])
        self.assertEqual(self.record(official).state, "delivered")
        self.assertEqual(contexts.get_pointer("edit"), self.OPERATIONAL)  # no rules change
        self.assertFalse((self.ingest / BIAS).exists())

    def test_failing_certify_is_bad_files_and_adds_nothing(self):
        self.upload(MISSING_KEY)
        result = self.submit_references()
        self.assertEqual(result.parameters["disposition"], "bad files")
        self.assert_nothing_added()
        self.assertTrue((self.ingest / MISSING_KEY).exists())

    def test_refusals_change_nothing(self):
        with self.assertRaisesMessage(SubmissionError, "No input files were specified."):
            self.submit_references()
        (self.ingest / "hst_acs_biasfile_0345.rmap").write_bytes(storage.cache_path("hst_acs_biasfile_0345.rmap")
                                                                 .read_bytes())
        with self.assertRaisesMessage(SubmissionError, "Mappings cannot be submitted as references"):
            self.submit_references()
        (self.ingest / "hst_acs_biasfile_0345.rmap").unlink()
        self.upload(BIAS)
        result = self.submit_references(auto_rename=False)  # linked unchanged: the same sha1sum
        self.assertEqual(result.parameters["new_file_map"], {BIAS: BIAS})
        with self.assertRaisesMessage(SubmissionError, "is identical to existing files"):
            self.submit_references()  # the same bytes, still pending confirmation
        confirm.decide(result.name, "cancel", self.user)
        self.assert_nothing_added()
        self.assertFalse(FileRecord.objects.filter(uploaded_as=BIAS).exists())


class SubmitReferencePageTests(SubmissionTestCase):
    form = page_tests.SubmissionPageTests.form

    def test_access_rules(self):
        self.assertIn("/login/", self.client.get("/submit/reference/")["Location"])
        User.objects.create_user("mallory", password="pw")
        refused = self.login("mallory", "acs").get("/submit/reference/")
        self.assertEqual((refused.status_code, error_message(refused)),
                         (200, "You must be a member of group 'file_submission' to use this page."))
        self.assertIn("instrument lock", error_message(self.login("alice", "none").get("/submit/reference/")))
        User.objects.create_superuser("root", password="pw", email="root@example.org")
        self.assertEqual(self.login("root", "none").get("/submit/reference/").status_code, 200)  # lock bypass

    def test_form_to_ready_page(self):
        client = self.login(enforce_csrf_checks=True)
        token = client.get("/submit/reference/").cookies["csrftoken"].value
        self.assertEqual(client.post("/submit/reference/", self.form()).status_code, 403)  # CSRF
        self.upload(BIAS)
        channel = client.get("/jpoll/open_channel/").json()
        response = client.post("/submit/reference/", {**self.form(description="<script>"),
                                                      "csrfmiddlewaretoken": token})
        self.assertIn("A description is required", error_message(response))
        response = client.post("/submit/reference/", {**self.form(), "csrfmiddlewaretoken": token})
        self.assertEqual(response.status_code, 302, error_message(response))
        failed, done = Message.objects.filter(channel__key=channel, type="done").order_by("id")
        self.assertNotEqual(failed.data["status"], 0)
        self.assertEqual(done.data["status"], 0)
        self.assertTrue(done.data["result"].endswith(response["Location"]))
        self.assertContains(client.get(response["Location"]), "READY: submit file")
