"""What a failed submission tells people: file names, never server paths (server-behaviour.md §5.3, §10, §14)."""

from __future__ import annotations

import html

from crds_server.testing import error_message
from jpoll.models import Message

from interactive.tests import test_submission_views as page_tests
from interactive.tests.page_support import SERVER_PATH_RE
from interactive.tests.test_submission import SubmissionTestCase


class FailureMessageTests(SubmissionTestCase):
    form = page_tests.SubmissionPageTests.form

    def test_a_crds_error_names_the_file_without_its_path_on_the_page_in_jpoll_and_in_the_mail(self):
        (self.ingest / "junk.fits").write_bytes(b"not a FITS file\n" * 10)
        client = self.login()
        channel = client.get("/jpoll/open_channel/").json()
        response = client.post("/batch_submit_references/", self.form())
        page = error_message(response)
        failed = Message.objects.get(channel__key=channel, type="done").data
        jpoll_text = html.unescape(failed["result"])
        body = self.sent()[-1][1].get_content()
        self.assertIn("Cannot determine the instrument and type of 'junk.fits'", page)
        self.assertNotEqual(failed["status"], 0)
        self.assertEqual(jpoll_text, page)
        self.assertIn(f"Error: {page}", body)
        for outlet in (page, jpoll_text, body):
            with self.subTest(outlet=outlet):
                self.assertIn("'junk.fits'", outlet)
                self.assertIsNone(SERVER_PATH_RE.search(outlet))
                self.assertNotIn("/ingest/", outlet)
        self.assert_nothing_added()
