"""A file submitted again is refused while an earlier submission of it is pending or delivered, also when
renaming rewrote that earlier copy (server-behaviour.md §5.3 step 6, §16.16)."""

from __future__ import annotations

from interactive import confirm, submission_kinds
from interactive.models import UPLOADED, FileRecord
from interactive.submission import BatchRequest, SubmissionError
from interactive.tests.test_submission import BIAS, SubmissionTestCase, sha1
from interactive.tests.test_submit_mapping import EDITED, MappingTestsMixin


class DuplicateUploadTests(MappingTestsMixin, SubmissionTestCase):
    def test_a_renamed_hst_reference_cannot_be_submitted_again(self):
        self.upload(BIAS)
        first = self.submit()
        official = first.parameters["new_file_map"][BIAS]
        self.assertNotEqual(self.record(official).sha1sum, sha1(self.ingest / BIAS))  # rewritten by uniqname
        pending = set(FileRecord.objects.filter(state=UPLOADED).values_list("name", flat=True))
        with self.assertRaisesMessage(SubmissionError, f"'{BIAS}' is identical to existing files: {official}"):
            self.submit()
        self.assertEqual(set(FileRecord.objects.filter(state=UPLOADED).values_list("name", flat=True)), pending)
        confirm.decide(first.name, "confirm", self.user)
        self.upload(BIAS)  # the confirm removed it from the ingest area
        with self.assertRaisesMessage(SubmissionError, f"'{BIAS}' is identical to existing files: {official}"):
            submission_kinds.submit_references(BatchRequest(user=self.user, description="Again"))
        self.assertFalse(FileRecord.objects.filter(state=UPLOADED).exists())

    def test_a_renamed_mapping_cannot_be_submitted_again(self):
        self.upload_edited_rmap()
        first = self.submit_mappings()
        official = first.parameters["new_file_map"][EDITED]
        with self.assertRaisesMessage(SubmissionError, f"'{EDITED}' is identical to existing files: {official}"):
            self.submit_mappings()
