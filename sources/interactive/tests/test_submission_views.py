"""The submission pages as the browser and `crds submit` use them (crds-protocol.md §7)."""

from __future__ import annotations

from crds_server.testing import error_message
from django.contrib.auth.models import User
from django.test import Client
from jpoll import service as jpoll
from jpoll.models import Message
from locking.models import Lock

from interactive import contexts
from interactive.models import FileRecord, StoredResult
from interactive.tests.test_submission import BIAS, SubmissionTestCase


class SubmissionPageTests(SubmissionTestCase):
    def form(self, **fields) -> dict:
        return {"pmap_mode": "pmap_edit", "pmap_name": "hst_0729.pmap", "instrument": "acs",
                "change_level": "SEVERE", "description": "Submitted from the page", "auto_rename": "True",
                "compare_old_reference": "False", **fields}

    def test_access_rules(self):
        self.assertIn("/login/", Client().get("/batch_submit_references/")["Location"])
        User.objects.create_user("mallory", password="pw")
        outsider = self.login("mallory", "cos")
        not_member = (200, "You must be a member of group 'file_submission' to use this page.")
        response = outsider.get("/batch_submit_references/")
        self.assertEqual((response.status_code, error_message(response)), not_member)
        unlocked = self.login("alice", "none")
        response = unlocked.get("/batch_submit_references/")
        self.assertEqual(response.status_code, 200)
        self.assertIn("instrument lock", error_message(response))
        for url in ("/submit_confirm/", "/submit_confirm_pipeline/"):
            self.assertIn("/login/", Client().post(url, {"results_id": "x", "button": "confirm"})["Location"])
            response = outsider.post(url, {"results_id": "x", "button": "confirm"})
            self.assertEqual((response.status_code, error_message(response)), not_member)
        self.assertEqual(self.login().get("/submit_confirm/").status_code, 405)  # no state change on GET

    def test_form_errors_reach_the_client_in_the_error_div(self):
        client = self.login()
        page = client.get("/batch_submit_references/")
        self.assertEqual(page.status_code, 200)
        self.assertIn("csrftoken", page.cookies)
        response = client.post("/batch_submit_references/", self.form())
        self.assertEqual(error_message(response), "No input files were specified.")
        self.upload(BIAS)
        response = client.post("/batch_submit_references/", self.form(description="<b>"))
        self.assertIn("A description is required", error_message(response))
        self.assert_nothing_added()

    def test_crds_submit_sequence_with_pipeline_confirm(self):
        client = self.login(enforce_csrf_checks=True)
        token = client.get("/batch_submit_references/").cookies["csrftoken"].value
        channel = client.get("/jpoll/open_channel/").json()  # as the client does, before uploading
        self.upload(BIAS)
        response = client.post("/batch_submit_references/", {**self.form(), "csrfmiddlewaretoken": token})
        self.assertEqual(response.status_code, 302, error_message(response))
        location = response["Location"]
        self.assertRegex(location, r"^/display_result/[0-9a-f-]{36}$")
        result_id = location.rsplit("/", 1)[1]
        done = Message.objects.filter(channel__key=channel, type="done").get()
        self.assertEqual(done.data["status"], 0)
        self.assertTrue(done.data["result"].startswith("http") and done.data["result"].endswith(location))

        self.assertIn("/login/", Client().get(location)["Location"])  # §16.1: login required
        ready = client.get(location)
        self.assertEqual(ready.status_code, 200)
        self.assertIn("csrftoken", ready.cookies)
        official = StoredResult.objects.get(name=result_id).parameters["new_file_map"][BIAS]
        self.assertContains(ready, f'<td id="{BIAS}">{official}</td>', html=True)
        self.assertContains(ready, "Logical Diff ('hst_acs_biasfile_0345.rmap', 'hst_acs_biasfile_0346.rmap')")
        self.assertEqual(error_message(ready), "")

        confirmed = client.post("/submit_confirm_pipeline/", {"results_id": result_id, "button": "confirm",
                                                              "csrfmiddlewaretoken": token})
        self.assertEqual(confirmed.status_code, 200)
        self.assertEqual(error_message(confirmed), "")
        self.assertContains(confirmed, f'<td id="{BIAS}"><a href="/browse/{official}">{official}</a></td>', html=True)
        self.assertContains(confirmed, '<span id="hst_0729.pmap"><a href="/browse/hst_0730.pmap">hst_0730.pmap</a>'
                                       '</span>', html=True)
        self.assertEqual(contexts.get_pointer("edit"), "hst_0730.pmap")
        self.assertEqual(FileRecord.objects.get(name=official).state, "delivered")
        self.assertFalse(Lock.objects.filter(user="alice").exists())  # logged out, lock released
        self.assertIn("/login/", client.get("/batch_submit_references/")["Location"])

    def test_second_confirm_is_refused_in_the_error_div(self):
        self.upload(BIAS)
        result = self.submit()
        client = self.login()
        self.assertEqual(error_message(client.post("/submit_confirm/", {"results_id": result.name,
                                                                     "button": "cancel"})), "")
        client = self.login()
        response = client.post("/submit_confirm/", {"results_id": result.name, "button": "confirm"})
        self.assertEqual(error_message(response), "This submission was already confirmed or cancelled.")
        response = client.post("/submit_confirm/", {"results_id": "not-a-result", "button": "confirm"})
        self.assertIn("Unknown submission result", error_message(response))

    def test_confirm_after_the_channel_was_aborted_still_succeeds(self):
        """The abort comes too late to stop anything: the confirm is reported, and the user logged out."""
        client = self.login()
        channel = client.get("/jpoll/open_channel/").json()
        self.upload(BIAS)
        self.assertEqual(client.post("/batch_submit_references/", self.form()).status_code, 302)
        result_id = Message.objects.get(channel__key=channel, type="done").data["result"].rsplit("/", 1)[1]
        jpoll.abort(channel)
        confirmed = client.post("/submit_confirm/", {"results_id": result_id, "button": "confirm"})
        self.assertEqual(confirmed.status_code, 200)
        self.assertEqual(error_message(confirmed), "")
        self.assertEqual(StoredResult.objects.get(name=result_id).parameters["disposition"], "confirmed")
        done = Message.objects.filter(channel__key=channel, type="done").order_by("id").last()
        self.assertEqual(done.data["status"], 0)
        self.assertNotEqual(done.data["result"].rsplit("/", 1)[1], result_id)
        self.assertFalse(Lock.objects.filter(user="alice").exists())
        self.assertIn("/login/", client.get("/batch_submit_references/")["Location"])

    def test_a_failed_delivery_is_shown_logged_and_rolled_back(self):
        self.upload(BIAS)
        result = self.submit()
        client = self.login()
        (self.files_root / "deliveries").rmdir()  # the archive's area, not mounted
        with self.assertLogs("interactive.submission_views", "ERROR") as logged:
            response = client.post("/submit_confirm/", {"results_id": result.name, "button": "confirm"})
        self.assertEqual(response.status_code, 200)  # the crds client reads the reason only from a 200 page
        self.assertRegex(error_message(response),
                         r"^Delivery failed: the delivery directory deliveries does not exist \(is the archive's "
                         r"delivery area mounted\?\); nothing was delivered\.$")
        self.assertIn("Traceback", logged.output[0])
        self.assertIn(result.name, logged.output[0])
        result.refresh_from_db()
        self.assertEqual(result.parameters["disposition"], "")
        self.assertEqual(contexts.get_pointer("edit"), "hst_0729.pmap")
        self.assertFalse(FileRecord.objects.filter(name="hst_0730.pmap").exists())
        self.assertTrue(all(FileRecord.objects.get(name=n).state == "uploaded"
                            for n in result.parameters["new_file_map"].values()))
        self.assertTrue(Lock.objects.filter(user="alice", type="instrument").exists())  # still logged in to retry
        self.assertFalse((self.files_root / "deliveries").exists())
