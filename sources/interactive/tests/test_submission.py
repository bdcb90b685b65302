"""Batch Submit References with confirm, cancel and force (server-behaviour.md §5.3–5.5, §6, §16).

Each test works in a private server-files root (ingest, catalogs, deliveries)
and removes the files it adds to the server file cache.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path
from unittest import mock

import crds
from crds.core import utils as crds_utils
from crds_server.testing import CatalogTestCase, test_data
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.test import Client, override_settings
from jpoll import service as jpoll
from jpoll.models import Message

from interactive import confirm, contexts, delivery, storage, submission
from interactive.models import UPLOADED, AuditAction, Counter, FileRecord, StoredResult
from interactive.tests.smtp_sink import CONFIRM, STATUS, SmtpSinkMixin

BIAS = "hst_acs_biasfile_0001.fits"      # ACS bias: replaces a match case of hst_acs_biasfile_0345.rmap
BIAS_TWIN = "hst_acs_biasfile_0002.fits"  # matches exactly the same case as BIAS
DEADTAB = "s7g1700gl_dead_good_xsum.fits"  # COS deadtab (new bytes)
MISSING_KEY = "missing_keyword.fits"       # COS deadtab that fails certify
TRUNCATED = "truncated.fits"              # COS deadtab cut short: certify warns, the renaming rewrite fails


def sha1(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


class SubmissionTestCase(SmtpSinkMixin, CatalogTestCase):
    user = "alice"

    def setUp(self):
        super().setUp()
        crds_utils.clear_function_caches()  # names are reused between tests: drop crds' loaded copies
        self.files_root = Path(tempfile.mkdtemp(prefix="server-files-", dir=settings.CRDS_FILE_CACHE.parent))
        self.addCleanup(shutil.rmtree, self.files_root, True)
        (self.files_root / "deliveries").mkdir()
        override = override_settings(CRDS_SERVER_FILES=self.files_root,
                                     CRDS_DELIVERY_DIRS=[self.files_root / "deliveries"], CRDS_SUBMIT_DONE_DELAY=0)
        override.enable()
        self.addCleanup(override.disable)
        self.alice = User.objects.create_user(self.user, password="pw", email="alice@example.org",
                                              first_name="Alice", last_name="Ames")
        self.alice.groups.add(Group.objects.get_or_create(name="file_submission")[0])
        self.ingest = storage.ingest_dir(self.user)
        self.ingest.mkdir(parents=True)
        self.cache_before = self.cache_listing()
        self.addCleanup(self.remove_new_cache_files)

    def login(self, username: str = "alice", instrument: str = "acs", **client_options) -> Client:
        """A client logged in through the login page, holding `instrument`'s lock ("none": no lock)."""
        client = Client(**client_options)
        token = client.get("/login/").cookies["csrftoken"].value
        response = client.post("/login/", {"username": username, "password": "pw", "instrument": instrument,
                                           "next": "/", "csrfmiddlewaretoken": token})
        self.assertEqual(response.status_code, 302, response.content.decode(errors="replace")[:500])
        return client

    def cache_listing(self) -> set[str]:
        return {p.name for d in (storage.mappings_dir(), storage.references_dir()) for p in d.iterdir() if p.is_file()}

    def remove_new_cache_files(self):
        for name in self.cache_listing() - self.cache_before:
            storage.cache_path(name).unlink(missing_ok=True)

    def upload(self, *names: str) -> None:
        for name in names:
            shutil.copy(test_data() / "hst" / name, self.ingest / name)

    def submit(self, **fields) -> StoredResult:
        request = submission.BatchRequest(user=self.user, description=fields.pop("description", "New biases"),
                                          **fields)
        return submission.batch_submit(request)

    def assert_nothing_added(self):
        self.assertEqual(self.cache_listing() - self.cache_before, set())
        self.assertFalse(FileRecord.objects.filter(state=UPLOADED).exists())

    def subjects(self) -> list[str]:
        return [message["Subject"] for _, message in self.sent()]


class BatchSubmitTests(SubmissionTestCase):
    def test_submit_ready_then_confirm_delivers_and_generates_contexts(self):
        self.upload(BIAS)
        channel = jpoll.open_channel(self.user)
        result = self.submit(channel=channel, creator="A. Ames", change_level="MODERATE")
        params = result.parameters
        self.assertEqual(params["disposition"], "")
        official = params["new_file_map"][BIAS]
        self.assertRegex(official, r"^[0-9a-z]{8}j_bia\.fits$")
        self.assertEqual(params["new_file_map"]["hst_acs_biasfile_0345.rmap"], "hst_acs_biasfile_0346.rmap")
        self.assertEqual(params["context_rmaps"], ["hst_acs_biasfile_0346.rmap"])
        self.assertEqual(params["pmap"], "hst_0729.pmap")
        # The reference: renamed by crds uniqname (FILENAME keyword), read-only, cataloged as uploaded.
        ref = self.record(official)
        path = storage.cache_path(official)
        self.assertEqual((ref.state, ref.uploaded_as, ref.creator_name, ref.change_level, ref.deliverer_user),
                         (UPLOADED, BIAS, "A. Ames", "MODERATE", self.user))
        self.assertEqual(ref.sha1sum, sha1(path))
        self.assertEqual(path.stat().st_mode & 0o777, 0o444)
        from astropy.io import fits
        self.assertEqual(fits.getheader(path)["FILENAME"], official)
        # The new rmap names the official reference and derives from the old rmap, with a valid checksum.
        new_rmap = crds.get_cached_mapping("hst_acs_biasfile_0346.rmap")
        self.assertIn(official, new_rmap.reference_names())
        self.assertEqual((new_rmap.header["derived_from"], new_rmap.header["name"]),
                         ("hst_acs_biasfile_0345.rmap", "hst_acs_biasfile_0346.rmap"))
        self.assertEqual(self.record("hst_acs_biasfile_0346.rmap").state, UPLOADED)
        self.assertTrue(any("replaced" in line and official in line for line in params["diff_results"][0]["logical"]))
        self.assertIn(official, params["diff_results"][0]["text"])
        self.assertTrue((self.ingest / BIAS).exists())  # uploads stay until confirm
        self.assertEqual(self.subjects(), ["CRDS HST DJANGO STARTED Batch Submit by Alice Ames",
                                           "CRDS HST DJANGO READY Batch Submit by Alice Ames"])
        self.assertEqual(sorted(self.sent()[1][0]), sorted(STATUS + ["alice@example.org"]))
        self.assertTrue(Message.objects.filter(channel__key=channel, data__icontains="Certifying").exists())

        decision = confirm.decide(result.name, "confirm", self.user)
        outcome = decision.confirmation.parameters
        self.assertEqual(decision.disposition, "confirmed")
        self.assertEqual(outcome["generated"], ["hst_0730.pmap", "hst_acs_0422.imap"])
        self.assertEqual(outcome["pmap"], "hst_0730.pmap")
        self.assertEqual(contexts.get_pointer("edit"), "hst_0730.pmap")
        self.assertEqual(contexts.get_pointer("latest"), "hst_0729.pmap")
        pmap = crds.get_cached_mapping("hst_0730.pmap")
        self.assertEqual(pmap.get_imap("acs").get_rmap("biasfile").basename, "hst_acs_biasfile_0346.rmap")
        self.assertEqual((pmap.header["derived_from"], pmap.header["name"]), ("hst_0729.pmap", "hst_0730.pmap"))
        self.assertEqual(self.record("hst_acs_0422.imap").derived_from, "hst_acs_0421.imap")
        self.assertFalse(Path("hst_0730.pmap").exists())  # nothing written into the working directory
        for name in outcome["delivered"]:
            record = self.record(name)
            self.assertEqual(record.state, "delivered", name)
            self.assertEqual(Path(record.catalog_link).name, outcome["catalog"])
            self.assertTrue((self.files_root / "deliveries" / name).samefile(storage.cache_path(name)))
        catalog = (storage.catalogs_dir() / outcome["catalog"]).read_text().split()
        self.assertEqual(catalog, sorted([official, "hst_acs_biasfile_0346.rmap", "hst_acs_0422.imap",
                                          "hst_0730.pmap"]))
        self.assertFalse((self.ingest / BIAS).exists())
        self.assertEqual(StoredResult.objects.get(name=result.name).parameters["disposition"], "confirmed")
        (recipients, message) = self.sent()[-1]
        self.assertEqual(message["Subject"], "CRDS HST DJANGO CONFIRMED Batch Submit by Alice Ames")
        self.assertEqual(sorted(recipients), sorted(CONFIRM + ["alice@example.org"]))
        with self.assertRaisesMessage(confirm.ConfirmError, "already confirmed or cancelled"):
            confirm.decide(result.name, "confirm", self.user)

    def test_cancel_removes_everything_the_submission_added(self):
        self.upload(BIAS)
        result = self.submit()
        added = list(result.parameters["new_file_map"].values())
        self.assertTrue(all(storage.cache_path(n).exists() for n in added))
        decision = confirm.decide(result.name, "cancel", self.user)
        self.assertEqual(decision.disposition, "canceled")
        self.assertEqual(sorted(decision.confirmation.parameters["removed"]), sorted(added))
        self.assert_nothing_added()
        self.assertTrue((self.ingest / BIAS).exists())
        self.assertEqual(contexts.get_pointer("edit"), "hst_0729.pmap")
        self.assertEqual(self.subjects()[-1], "CRDS HST DJANGO CANCELED Batch Submit by Alice Ames")
        with self.assertRaisesMessage(confirm.ConfirmError, "already confirmed or cancelled"):
            confirm.decide(result.name, "confirm", self.user)

    def test_certify_failure_gives_bad_files_and_adds_nothing(self):
        self.upload(MISSING_KEY)
        result = self.submit()
        self.assertEqual(result.parameters["disposition"], "bad files")
        self.assertEqual([r["status"] for r in result.parameters["certify_results"]], ["Failed"])
        self.assert_nothing_added()
        self.assertEqual(self.subjects()[-1], "CRDS HST DJANGO BAD FILES Batch Submit by Alice Ames")
        for button in ("confirm", "force"):
            with self.assertRaisesMessage(confirm.ConfirmError, "failed certification; it cannot be confirmed"):
                confirm.decide(result.name, button, self.user)
        with self.assertRaisesMessage(confirm.ConfirmError, "already confirmed or cancelled"):
            confirm.decide(result.name, "cancel", self.user)

    def test_truncated_file_is_reported_and_nothing_is_left(self):
        self.upload(TRUNCATED)
        with self.assertRaisesMessage(submission.SubmissionError, "'truncated.fits': file may be truncated."):
            self.submit()
        self.assert_nothing_added()
        self.assertTrue((self.ingest / TRUNCATED).exists())

    def test_rmap_insertion_error_stops_before_any_name_is_spent(self):
        self.upload(BIAS, BIAS_TWIN)
        counters = list(Counter.objects.values_list("name", "counter"))
        with self.assertRaisesMessage(submission.SubmissionError, "identically match"):
            self.submit()
        self.assertEqual(list(Counter.objects.values_list("name", "counter")), counters)
        self.assert_nothing_added()
        self.assertTrue((self.ingest / BIAS).exists() and (self.ingest / BIAS_TWIN).exists())
        self.assertEqual(self.subjects()[-1], "CRDS HST DJANGO FAILED Batch Submit by Alice Ames")

    def test_duplicate_of_a_pending_upload_is_refused(self):
        self.upload(BIAS)
        first = self.submit()
        official = first.parameters["new_file_map"][BIAS]
        # The same bytes as a cataloged (here: still pending) file: §16.16.
        FileRecord.objects.filter(name=official).update(sha1sum=sha1(self.ingest / BIAS),
                                                        size=(self.ingest / BIAS).stat().st_size)
        with self.assertRaisesMessage(submission.SubmissionError, f"is identical to existing files: {official}"):
            self.submit()
        self.assertEqual(FileRecord.objects.filter(state=UPLOADED).count(), 2)  # the first one's files only

    def hashed_during(self, work) -> list[str]:
        """Names of the files storage.sha1_file read while `work` ran."""
        read = []
        real = storage.sha1_file

        def spy(path):
            read.append(Path(path).name)
            return real(path)
        with mock.patch.object(storage, "sha1_file", spy):
            work()
        return read

    def test_a_renamed_upload_is_read_once_for_its_own_sum_which_its_record_keeps(self):
        self.upload(BIAS)
        results = []
        read = self.hashed_during(lambda: results.append(self.submit()))
        official = results[0].parameters["new_file_map"][BIAS]
        self.assertEqual(sorted(read), sorted([BIAS, official, "hst_acs_biasfile_0346.rmap"]))
        record = self.record(official)
        self.assertEqual((record.sha1sum, record.uploaded_sha1sum),
                         (sha1(storage.cache_path(official)), sha1(self.ingest / BIAS)))

    def test_a_large_renamed_reference_is_hashed_as_it_is_written(self):
        self.upload(BIAS)
        results = []
        with mock.patch.object(submission, "FOLLOW_WRITES_FROM", 0):  # the 52 KB test file counts as large
            read = self.hashed_during(lambda: results.append(self.submit()))
        official = results[0].parameters["new_file_map"][BIAS]
        self.assertNotIn(official, read)  # not read back after the rewrite
        self.assertEqual(self.record(official).sha1sum, sha1(storage.cache_path(official)))
        decision = confirm.decide(results[0].name, "confirm", self.user)
        self.assertEqual(decision.disposition, "confirmed")
        self.assertFalse((self.ingest / BIAS).exists())

    def test_an_upload_is_read_when_a_cataloged_file_may_have_its_size(self):
        self.upload(BIAS)
        twin = FileRecord.objects.filter(type="reference").exclude(name=BIAS).first()
        for size in ((self.ingest / BIAS).stat().st_size, -1):  # the same size, or a size not known
            FileRecord.objects.filter(name=twin.name).update(size=size, sha1sum=sha1(self.ingest / BIAS))
            with self.subTest(size=size):
                with self.assertRaisesMessage(submission.SubmissionError,
                                              f"is identical to existing files: {twin.name}"):
                    self.submit()
                self.assert_nothing_added()

    def test_bad_requests_change_nothing(self):
        with self.assertRaisesMessage(submission.SubmissionError, "No input files were specified."):
            self.submit()
        self.upload(BIAS)
        for fields, message in [({"description": ""}, "A description is required"),
                                ({"description": "<script>"}, "A description is required"),
                                ({"creator": "x" * 200}, "Invalid creator"),
                                ({"change_level": "HUGE"}, "Invalid change level"),
                                ({"pmap_mode": "pmap_text", "pmap_name": "hst_9998.pmap"}, "not known to CRDS"),
                                ({"pmap_mode": "pmap_nonsense"}, "Invalid pmap_mode")]:
            with self.assertRaisesMessage(submission.SubmissionError, message):
                self.submit(**fields)
        shutil.copy(storage.cache_path("hst_acs_biasfile_0345.rmap"), self.ingest / "hst_acs_biasfile_0345.rmap")
        with self.assertRaisesMessage(submission.SubmissionError, "Mappings cannot be batch submitted"):
            self.submit()
        self.assert_nothing_added()

    def test_failure_after_ingest_removes_records_and_files(self):
        self.upload(BIAS)
        channel = jpoll.open_channel(self.user)
        with mock.patch.object(submission, "_set_mapping_names", side_effect=OSError(28, "No space left on device")):
            with self.assertRaises(OSError):
                self.submit(channel=channel)
        self.assert_nothing_added()
        self.assertTrue((self.ingest / BIAS).exists())
        last = Message.objects.filter(channel__key=channel).order_by("-id").first()
        self.assertEqual((last.type, last.data["status"], last.data["result"]), ("done", 1, "internal server error"))
        self.assertEqual(self.subjects()[-1], "CRDS HST DJANGO FAILED Batch Submit by Alice Ames")

    def test_new_rmap_failing_certify_is_bad_files_and_cleaned(self):
        self.upload(BIAS)
        real = submission.certify.certify_file

        def failing_rmaps(path, name, *args, **kwargs):
            outcome = real(path, name, *args, **kwargs)
            if name.endswith(".rmap"):
                outcome.status = "Failed"
            return outcome

        with mock.patch.object(submission.certify, "certify_file", side_effect=failing_rmaps):
            result = self.submit()
        self.assertEqual(result.parameters["disposition"], "bad files")
        self.assert_nothing_added()

    def test_confirm_failure_rolls_back_to_awaiting_a_decision(self):
        self.upload(BIAS)
        result = self.submit()
        with mock.patch.object(delivery, "link_delivery", side_effect=delivery.DeliveryError("Delivery failed: x")):
            with self.assertRaisesMessage(delivery.DeliveryError, "Delivery failed"):
                confirm.decide(result.name, "confirm", self.user)
        result.refresh_from_db()
        self.assertEqual(result.parameters["disposition"], "")
        self.assertFalse(FileRecord.objects.filter(name__in=["hst_0730.pmap", "hst_acs_0422.imap"]).exists())
        self.assertFalse(storage.cache_path("hst_0730.pmap").exists())
        self.assertEqual(contexts.get_pointer("edit"), "hst_0729.pmap")
        self.assertTrue(all(self.record(n).state == UPLOADED for n in result.parameters["new_file_map"].values()))
        from locking.models import Lock
        self.assertFalse(Lock.objects.filter(locked_object="context$all").exists())
        decision = confirm.decide(result.name, "confirm", self.user)  # the retry works, with fresh names
        self.assertEqual(decision.disposition, "confirmed")
        self.assertEqual(contexts.get_pointer("edit"), decision.confirmation.parameters["pmap"])

    def test_failure_after_delivery_undoes_links_audit_and_generated_contexts(self):
        from interactive.models import AuditAction

        self.upload(BIAS)
        result = self.submit()
        with mock.patch.object(contexts, "set_pointer", side_effect=RuntimeError("database went away")):
            with self.assertRaises(RuntimeError):
                confirm.decide(result.name, "confirm", self.user)
        result.refresh_from_db()
        self.assertEqual(result.parameters["disposition"], "")
        self.assertEqual(list((self.files_root / "deliveries").iterdir()), [])
        self.assertFalse(AuditAction.objects.filter(action="batch submit").exists())
        self.assertFalse(FileRecord.objects.filter(name__in=["hst_0730.pmap", "hst_acs_0422.imap"]).exists())
        for name in result.parameters["new_file_map"].values():
            self.assertEqual((self.record(name).state, self.record(name).catalog_link), (UPLOADED, ""))
        self.assertEqual(contexts.get_pointer("edit"), "hst_0729.pmap")

    def test_lock_rules_for_confirm_cancel_and_force(self):
        from locking import service as locks

        lock = locks.acquire_instrument(self.user, "acs")
        self.upload(BIAS)
        result = self.submit(lock_id=lock.lock_id, locked_instrument="acs")
        bob = User.objects.create_user("bob", password="pw")
        bob_lock_cos = locks.acquire_instrument("bob", "cos")
        with self.assertRaisesMessage(confirm.ConfirmError, "Only the submitter 'alice' can confirm"):
            confirm.decide(result.name, "confirm", "bob", lock=bob_lock_cos)
        with self.assertRaisesMessage(confirm.ConfirmError, "must hold the lock on instrument 'acs' to cancel"):
            confirm.decide(result.name, "cancel", "bob", lock=bob_lock_cos)
        locks.release_all(self.user)  # alice's lock lapses
        with self.assertRaisesMessage(confirm.ConfirmError, "BROKEN LOCK"):
            confirm.decide(result.name, "confirm", self.user, lock=None)
        bob_lock = locks.acquire_instrument(bob.username, "acs")
        decision = confirm.decide(result.name, "force", "bob", lock=bob_lock)
        self.assertEqual(decision.disposition, "forced")
        self.assertEqual(self.subjects()[-1], "CRDS HST DJANGO FORCED Batch Submit by bob")
        delivered = decision.confirmation.parameters["delivered"]
        audited = AuditAction.objects.filter(filename__in=[*delivered, decision.confirmation.parameters["catalog"]])
        self.assertEqual(set(audited.values_list("user", flat=True)), {"bob"})  # who acted
        self.assertEqual(audited.count(), len(delivered) + 1)
        self.assertEqual({self.record(name).deliverer_user for name in delivered}, {"alice"})  # who submitted

    def test_without_rename_the_upload_is_linked_and_named_by_the_new_rmap(self):
        upload = self.ingest / "zztest001_bia.fits"  # a valid CDBS-style name
        shutil.copy(test_data() / "hst" / BIAS, upload)
        params = self.submit(auto_rename=False).parameters
        self.assertEqual(params["new_file_map"]["zztest001_bia.fits"], "zztest001_bia.fits")
        self.assertTrue(storage.cache_path("zztest001_bia.fits").samefile(upload))  # no second copy
        self.assertEqual(self.record("zztest001_bia.fits").sha1sum, sha1(upload))
        new_rmap = params["new_file_map"]["hst_acs_biasfile_0345.rmap"]
        loaded = crds.get_cached_mapping(new_rmap)
        self.assertIn("zztest001_bia.fits", loaded.reference_names())
        self.assertEqual((loaded.header["name"], loaded.header["derived_from"]),
                         (new_rmap, "hst_acs_biasfile_0345.rmap"))
        self.assertEqual(self.record(new_rmap).sha1sum, sha1(storage.cache_path(new_rmap)))

    def test_instrument_mismatch_is_refused(self):
        from locking import service as locks

        lock = locks.acquire_instrument(self.user, "cos")
        self.upload(BIAS)
        with self.assertRaisesMessage(submission.SubmissionError,
                                      "Instrument Mismatch: Logged in for 'cos'. Submitted files for 'acs'."):
            self.submit(lock_id=lock.lock_id, locked_instrument="cos")
        self.assert_nothing_added()

    def test_confirms_for_two_instruments_chain(self):
        self.upload(BIAS)
        first = self.submit()
        for name in list(self.ingest.iterdir()):
            name.rename(self.files_root / name.name)
        self.upload(DEADTAB)
        second = self.submit(description="New wavecal tables")
        self.assertEqual(second.parameters["pmap"], "hst_0729.pmap")
        one = confirm.decide(first.name, "confirm", self.user).confirmation.parameters
        two = confirm.decide(second.name, "confirm", self.user).confirmation.parameters
        # Derived at confirm time from the edit context the first confirm moved: the changes chain.
        self.assertEqual((one["pmap"], two["original_pmap"], two["final_pmap"], two["pmap"]),
                         ("hst_0730.pmap", "hst_0729.pmap", "hst_0730.pmap", "hst_0731.pmap"))
        pmap = crds.get_cached_mapping("hst_0731.pmap")
        self.assertEqual(pmap.get_imap("acs").get_rmap("biasfile").basename, "hst_acs_biasfile_0346.rmap")
        self.assertIn(second.parameters["new_file_map"][DEADTAB], pmap.reference_names())
        self.assertEqual(contexts.get_pointer("edit"), "hst_0731.pmap")
