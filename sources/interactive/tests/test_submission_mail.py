"""The submission e-mails: subjects per kind and what the STARTED mail says (server-behaviour.md §10)."""

from __future__ import annotations

from jpoll import service as jpoll

from interactive import confirm, submission_kinds
from interactive.submission import BatchRequest, SubmissionError
from interactive.tests.test_delete_add_references import ADDED, DELETED
from interactive.tests.test_submission import BIAS, SubmissionTestCase

SERVER = "https://crds.example.org"


class SubmissionMailTests(SubmissionTestCase):
    def request(self, **fields) -> BatchRequest:
        return BatchRequest(user=self.user, description=fields.pop("description", "Mail check"),
                            result_url=lambda result_id: f"{SERVER}/display_result/{result_id}", **fields)

    def mails(self) -> dict[str, str]:
        """{subject without its prefix: body} of the mail sent so far."""
        return {message["Subject"].removeprefix("CRDS HST DJANGO "): message.get_content().replace("\r\n", "\n")
                for _, message in self.sent()}

    def test_started_links_the_monitor_page_by_its_absolute_url(self):
        self.upload(BIAS)
        channel = jpoll.open_channel(self.user)
        submission_kinds.submit_references(self.request(channel=channel))
        started = self.mails()["STARTED Submit Reference by Alice Ames"]
        self.assertIn(f"Monitor at: {SERVER}/monitor/{channel}/\n", started)
        self.assertIn(f"Files: {BIAS}\n", started)

    def test_delete_and_add_mail_the_files_they_name_and_their_kind_titles(self):
        result = submission_kinds.delete_references(self.request(), [DELETED])
        mails = self.mails()
        self.assertEqual(list(mails), ["STARTED Delete Existing by Alice Ames", "READY Delete Existing by Alice Ames"])
        self.assertIn(f"Deleted files: {DELETED}\n", mails["STARTED Delete Existing by Alice Ames"])
        confirm.decide(result.name, "cancel", self.user)
        self.assertIn("CANCELED Delete References by Alice Ames", self.mails())
        self.collector.messages.clear()
        with self.assertRaises(SubmissionError):
            submission_kinds.add_existing_references(self.request(), [ADDED, DELETED])  # DELETED: already in
        mails = self.mails()
        self.assertEqual(list(mails), ["STARTED Add Existing by Alice Ames",
                                       "FAILED Add Existing References by Alice Ames"])
        self.assertIn(f"Added files: {ADDED}, {DELETED}\n", mails["STARTED Add Existing by Alice Ames"])
        self.assertIn("Task: Add Existing References\n", mails["FAILED Add Existing References by Alice Ames"])

    def test_failed_tasks_are_named_as_the_original_names_them(self):
        cases = [(submission_kinds.submit_references, "Submit REFERENCEs"),
                 (submission_kinds.submit_mappings, "Submit MAPPINGs"),
                 (lambda request: submission_kinds.delete_references(request, ["zzzzzzzzz_bia.fits"]),
                  "Delete References")]
        for submit, task in cases:
            with self.subTest(task):
                self.collector.messages.clear()
                (self.ingest / "junk.fits").write_bytes(b"not a FITS file\n")
                with self.assertRaises(SubmissionError):
                    submit(self.request())
                self.assertIn(f"FAILED {task} by Alice Ames", self.mails())
