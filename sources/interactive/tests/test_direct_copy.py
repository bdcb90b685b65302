"""A submitter's direct copy in the ingest area is copied into the cache, not linked (§5.2, §5.3.6)."""

from __future__ import annotations

import os
import shutil

from crds_server.testing import test_data

from interactive import storage
from interactive.tests.test_submission import BIAS, SubmissionTestCase, sha1

SUBMITTER_UID = 65534  # "nobody": an account other than the server's
UPLOAD = "zztest001_bia.fits"  # a valid CDBS-style name, so it is submitted without renaming


class DirectCopyTests(SubmissionTestCase):
    def test_a_reference_the_server_does_not_own_is_copied_into_the_cache(self):
        upload = self.ingest / UPLOAD
        shutil.copy(test_data() / "hst" / BIAS, upload)
        upload.chmod(0o664)
        os.chown(upload, SUBMITTER_UID, SUBMITTER_UID)
        result = self.submit(auto_rename=False)
        self.assertEqual(result.parameters["new_file_map"][UPLOAD], UPLOAD)
        cached = storage.cache_path(UPLOAD)
        self.assertFalse(cached.samefile(upload))
        self.assertEqual((cached.stat().st_uid, cached.stat().st_mode & 0o777), (os.getuid(), 0o444))
        self.assertEqual((upload.stat().st_uid, upload.stat().st_mode & 0o777), (SUBMITTER_UID, 0o664))
        self.assertEqual(sha1(cached), sha1(upload))
        self.assertEqual(self.record(UPLOAD).sha1sum, sha1(cached))

    def test_a_link_swapped_in_after_listing_is_refused(self):
        from interactive import submission

        elsewhere = self.files_root / "not-in-ingest.fits"
        shutil.copy(test_data() / "hst" / BIAS, elsewhere)
        link = self.ingest / UPLOAD
        link.symlink_to(elsewhere)
        with self.assertRaisesMessage(submission.SubmissionError,
                                      f"'{UPLOAD}' is not a regular file in your ingest area."):
            submission.place_reference(link, UPLOAD, renamed_hst=False)
        self.assertFalse(os.path.lexists(storage.cache_path(UPLOAD)))
