"""Submit mappings, with and without generated contexts (server-behaviour.md §5.6, §5.7, §3.4, §15)."""

from __future__ import annotations

import shutil
from pathlib import Path

import crds
from crds.core import rmap
from crds.refactoring import refactor
from crds_server.testing import error_message, test_data
from django.contrib.auth.models import User
from jpoll.models import Message

from interactive import confirm, contexts, storage, submission_kinds
from interactive.models import UPLOADED, Counter, FileRecord, StoredResult
from interactive.submission import BatchRequest, SubmissionError
from interactive.tests import test_submission_views as page_tests
from interactive.tests.test_submission import SubmissionTestCase, sha1

OLD_BIAS_RMAP = "hst_acs_biasfile_0345.rmap"  # the ACS biasfile rmap of hst_0729.pmap
DELETED = "2581508tj_bia.fits"                 # one of its references
EDITED = "acs_bias_edit.rmap"                  # upload: OLD_BIAS_RMAP without DELETED


class MappingTestsMixin:
    def upload_edited_rmap(self, name: str = EDITED) -> None:
        """An rmap derived from OLD_BIAS_RMAP with one reference removed, as an instrument team would edit it."""
        target = self.ingest / name
        refactor.rmap_delete_references(str(storage.cache_path(OLD_BIAS_RMAP)), str(target), [DELETED])
        refactor.update_derivation(str(target), OLD_BIAS_RMAP)

    def upload_test_mapping(self, name: str) -> None:
        shutil.copy(test_data() / "hst" / name, self.ingest / name)

    def submit_mappings(self, generate_contexts=False, **fields) -> StoredResult:
        request = BatchRequest(user=self.user, description=fields.pop("description", "New bias rules"), **fields)
        return submission_kinds.submit_mappings(request, generate_contexts=generate_contexts)


class SubmitMappingTests(MappingTestsMixin, SubmissionTestCase):
    def test_rmap_with_generated_contexts_confirms_into_a_new_pmap(self):
        self.upload_edited_rmap()
        result = self.submit_mappings(generate_contexts=True, channel=(channel := self.open_channel()))
        params = result.parameters
        self.assertEqual(params["disposition"], "")
        official = params["new_file_map"][EDITED]
        self.assertRegex(official, r"^hst_acs_biasfile_\d{4}\.rmap$")
        self.assertEqual(params["context_rmaps"], [official])
        self.assertEqual(params["submission_kind"], "submit file")
        record = self.record(official)
        self.assertEqual((record.state, record.derived_from, record.uploaded_as, record.type),
                         (UPLOADED, OLD_BIAS_RMAP, EDITED, "mapping"))
        path = storage.cache_path(official)
        self.assertEqual(path.stat().st_mode & 0o777, 0o444)
        new = crds.get_cached_mapping(official)
        self.assertEqual((new.header["name"], new.header["derived_from"]), (official, OLD_BIAS_RMAP))
        self.assertNotIn(DELETED, new.reference_names())
        self.assertTrue(any(DELETED in line for line in params["diff_results"][0]["logical"]))
        self.assertTrue((self.ingest / EDITED).exists())  # kept until confirm
        self.assertEqual(self.subjects(), ["CRDS HST DJANGO STARTED Submit Mapping by Alice Ames",
                                           "CRDS HST DJANGO READY Submit Mapping by Alice Ames"])
        self.assertTrue(Message.objects.filter(channel__key=channel, data__icontains="Certifying").exists())

        decision = confirm.decide(result.name, "confirm", self.user)
        outcome = decision.confirmation.parameters
        self.assertEqual(outcome["pmap"], "hst_0730.pmap")
        self.assertEqual(contexts.get_pointer("edit"), "hst_0730.pmap")
        pmap = crds.get_cached_mapping("hst_0730.pmap")
        self.assertEqual(pmap.get_imap("acs").get_rmap("biasfile").basename, official)
        self.assertNotIn(DELETED, pmap.reference_names())
        self.assertEqual(self.record(official).state, "delivered")
        self.assertFalse((self.ingest / EDITED).exists())
        self.assertEqual(self.subjects()[-1], "CRDS HST DJANGO CONFIRMED Submit File by Alice Ames")

    def open_channel(self) -> str:
        from jpoll import service as jpoll

        return jpoll.open_channel(self.user)

    def test_without_generated_contexts_confirm_changes_no_context(self):
        self.upload_edited_rmap()
        result = self.submit_mappings()
        self.assertEqual(result.parameters["context_rmaps"], [])
        outcome = confirm.decide(result.name, "confirm", self.user).confirmation.parameters
        self.assertEqual(outcome["generated"], [])
        self.assertEqual(contexts.get_pointer("edit"), self.OPERATIONAL)

    def test_cancel_removes_the_submitted_mapping(self):
        self.upload_edited_rmap()
        result = self.submit_mappings()
        official = result.parameters["new_file_map"][EDITED]
        confirm.decide(result.name, "cancel", self.user)
        self.assertFalse(FileRecord.objects.filter(name=official).exists())
        self.assertFalse(storage.cache_path(official).exists())
        self.assertTrue((self.ingest / EDITED).exists())

    def test_invalid_rmap_is_bad_files_and_adds_nothing(self):
        self.upload_test_mapping("hst_acs_darkfile_invalid1.rmap")
        result = self.submit_mappings()
        self.assertEqual(result.parameters["disposition"], "bad files")
        self.assertEqual(result.parameters["certify_results"][0]["status"], "Failed")
        self.assert_nothing_added()
        self.assertEqual(self.subjects()[-1], "CRDS HST DJANGO BAD FILES Submit Mapping by Alice Ames")
        with self.assertRaisesMessage(confirm.ConfirmError, "failed certification"):
            confirm.decide(result.name, "confirm", self.user)

    def test_refusals_change_nothing_and_keep_the_uploads(self):
        self.upload_edited_rmap()
        cases = [
            ({"generate_contexts": True, "name": "hst_acs_0421.imap"},
             "Contexts can be generated only when every submitted file is an .rmap."),
            ({"auto_rename": False}, f"'{EDITED}' must be a valid new-style mapping name"),
        ]
        for options, message in cases:
            name = options.pop("name", None)
            if name:
                shutil.copy(storage.cache_path(name), self.ingest / name)
            with self.subTest(message), self.assertRaisesMessage(SubmissionError, message):
                self.submit_mappings(**options)
            if name:
                (self.ingest / name).unlink()
        shutil.copy(test_data() / "hst" / "hst_acs_biasfile_0001.fits", self.ingest)
        with self.assertRaisesMessage(SubmissionError, "Only mappings (.rmap, .imap, .pmap) can be submitted here"):
            self.submit_mappings()
        self.assert_nothing_added()
        self.assertTrue((self.ingest / EDITED).exists())
        self.assertTrue(self.subjects()[-1].startswith("CRDS HST DJANGO FAILED Submit MAPPINGs"))

    def test_unknown_reference_and_phony_derivation_are_refused(self):
        from crds.refactoring import checksum

        target = self.ingest / "acs_bias_unknown.rmap"
        refactor.rmap_delete_references(str(storage.cache_path(OLD_BIAS_RMAP)), str(target), [DELETED])
        target.write_text(target.read_text().replace("2581457mj_bia.fits", "zzzzzzzzz_bia.fits"))
        checksum.update_checksum(str(target))
        refactor.update_derivation(str(target), OLD_BIAS_RMAP)
        with self.assertRaisesMessage(SubmissionError, "In 'acs_bias_unknown.rmap': file 'zzzzzzzzz_bia.fits' "
                                                       "is not known to CRDS."):
            self.submit_mappings()
        target.unlink()
        self.upload_test_mapping("hst_acs_darkfile_phony_derive.rmap")
        with self.assertRaisesMessage(SubmissionError, "'hst_acs_darkfile_phony_derive.rmap' is derived from "
                                                       "'phony.rmap', which is not known to CRDS."):
            self.submit_mappings()
        self.assert_nothing_added()

    def test_mapping_naming_a_blacklisted_child_is_refused(self):
        FileRecord.objects.filter(name="2581457mj_bia.fits").update(blacklisted=True)
        self.upload_edited_rmap()
        with self.assertRaisesMessage(SubmissionError, "'2581457mj_bia.fits' is blacklisted"):
            self.submit_mappings()
        self.assert_nothing_added()

    def test_instrument_lock_must_match(self):
        from locking import service as locks

        lock = locks.acquire_instrument(self.user, "cos")
        self.upload_edited_rmap()
        with self.assertRaisesMessage(SubmissionError, "Instrument Mismatch"):
            self.submit_mappings(lock_id=lock.lock_id, locked_instrument="cos")
        self.assert_nothing_added()


OLD_ACS_IMAP = "hst_acs_0421.imap"  # the ACS imap of hst_0729.pmap
EDITED_IMAP = "acs_edit.imap"        # upload: OLD_ACS_IMAP naming EDITED for biasfile
EDITED_PMAP = "hst_edit.pmap"        # upload: hst_0729.pmap naming EDITED_IMAP for ACS


class InterdependentMappingTests(MappingTestsMixin, SubmissionTestCase):
    """One submission of an rmap with the imap and pmap that name it by its upload name."""

    def upload_context(self, old: str, name: str, key: str, child: str) -> Path:
        """A copy of cataloged context `old`, derived from it, naming the upload `child` for `key`."""
        mapping = rmap.load_mapping(str(storage.cache_path(old)))
        mapping.set_item(key, child)
        mapping.write(str(self.ingest / name))
        refactor.update_derivation(str(self.ingest / name), old)
        return self.ingest / name

    def test_dependent_mappings_name_the_official_names_and_are_certified(self):
        self.upload_edited_rmap()
        self.upload_context(OLD_ACS_IMAP, EDITED_IMAP, "biasfile", EDITED)
        self.upload_context(self.OPERATIONAL, EDITED_PMAP, "ACS", EDITED_IMAP)
        result = self.submit_mappings()
        params = result.parameters
        self.assertEqual(params["disposition"], "", params["certify_results"])
        new_rmap, new_imap, new_pmap = (params["new_file_map"][n] for n in (EDITED, EDITED_IMAP, EDITED_PMAP))
        self.assertRegex(new_rmap, r"^hst_acs_biasfile_\d{4}\.rmap$")
        self.assertRegex(new_imap, r"^hst_acs_\d{4}\.imap$")
        self.assertRegex(new_pmap, r"^hst_\d{4}\.pmap$")
        for name, derived_from in ((new_imap, OLD_ACS_IMAP), (new_pmap, self.OPERATIONAL)):
            mapping = rmap.load_mapping(str(storage.cache_path(name)))  # checksum verified
            self.assertEqual((mapping.header["name"], mapping.header["derived_from"]), (name, derived_from))
            self.assertEqual(self.record(name).sha1sum, sha1(storage.cache_path(name)))
        self.assertNotIn(EDITED, storage.cache_path(new_imap).read_text())
        self.assertNotIn(EDITED_IMAP, storage.cache_path(new_pmap).read_text())
        certified = {r["name"]: r for r in params["certify_results"]}
        self.assertEqual(sorted(certified), sorted([EDITED, EDITED_IMAP, EDITED_PMAP]))
        self.assertNotIn("Failed", {r["status"] for r in certified.values()})
        self.assertTrue(any(f"Certified as '{new_imap}'" in line for line in certified[EDITED_IMAP]["lines"]))
        self.assertTrue(any(f"Certifying '{new_pmap}'" in line for line in certified[EDITED_PMAP]["lines"]))

        outcome = confirm.decide(result.name, "confirm", self.user).confirmation.parameters
        self.assertEqual(outcome["pmap"], new_pmap)
        self.assertEqual(contexts.get_pointer("edit"), new_pmap)
        pmap = crds.get_cached_mapping(new_pmap)
        self.assertEqual(pmap.get_imap("acs").basename, new_imap)
        self.assertEqual(pmap.get_imap("acs").get_rmap("biasfile").basename, new_rmap)
        self.assertNotIn(DELETED, pmap.reference_names())
        self.assertEqual({self.record(n).state for n in (new_rmap, new_imap, new_pmap)}, {"delivered"})

    def test_child_named_for_another_type_is_refused_and_nothing_is_kept(self):
        self.upload_edited_rmap()
        self.upload_context(OLD_ACS_IMAP, EDITED_IMAP, "darkfile", EDITED)
        with self.assertRaisesMessage(SubmissionError, f"In '{EDITED_IMAP}': '{EDITED}' is named for 'darkfile', "
                                                       "which is not its type."):
            self.submit_mappings()
        self.assert_nothing_added()
        self.assertEqual(submission_kinds.certify.ingested_files(self.user), sorted([EDITED, EDITED_IMAP]))

    def test_duplicate_entry_in_a_dependent_upload_is_bad_files_before_any_name_is_spent(self):
        self.upload_edited_rmap()
        imap = self.upload_context(OLD_ACS_IMAP, EDITED_IMAP, "biasfile", EDITED)
        duplicate = "selector = {\n    'biasfile' : 'hst_acs_biasfile_0345.rmap',"
        imap.write_text(imap.read_text().replace("selector = {", duplicate))
        counters = list(Counter.objects.values_list("name", "counter"))
        result = self.submit_mappings()
        self.assertEqual(result.parameters["disposition"], "bad files")
        certified = {r["name"]: r for r in result.parameters["certify_results"]}
        self.assertEqual(certified[EDITED_IMAP]["status"], "Failed")
        self.assertTrue(any("Duplicate entry" in line for line in certified[EDITED_IMAP]["lines"]))
        self.assertEqual(list(Counter.objects.values_list("name", "counter")), counters)
        self.assert_nothing_added()


class SubmitMappingPageTests(MappingTestsMixin, SubmissionTestCase):
    form = page_tests.SubmissionPageTests.form

    def test_access_rules(self):
        self.assertIn("/login/", self.client.get("/submit/mapping/")["Location"])
        User.objects.create_user("mallory", password="pw")
        refused = self.login("mallory", "cos").get("/submit/mapping/")
        self.assertEqual((refused.status_code, error_message(refused)),
                         (200, "You must be a member of group 'file_submission' to use this page."))
        unlocked = self.login("alice", "none")
        self.assertIn("instrument lock", error_message(unlocked.get("/submit/mapping/")))

    def test_form_to_ready_page_and_errors_in_the_error_div(self):
        client = self.login(enforce_csrf_checks=True)
        page = client.get("/submit/mapping/")
        self.assertEqual(page.status_code, 200)
        token = page.cookies["csrftoken"].value
        self.assertEqual(client.post("/submit/mapping/", self.form()).status_code, 403)  # CSRF
        response = client.post("/submit/mapping/", {**self.form(), "csrfmiddlewaretoken": token})
        self.assertEqual(error_message(response), "No input files were specified.")
        channel = client.get("/jpoll/open_channel/").json()
        self.upload_edited_rmap()
        response = client.post("/submit/mapping/", {**self.form(generate_contexts="True"),
                                                    "csrfmiddlewaretoken": token})
        self.assertEqual(response.status_code, 302, error_message(response))
        self.assertRegex(response["Location"], r"^/display_result/[0-9a-f-]{36}$")
        done = Message.objects.filter(channel__key=channel, type="done").get()
        self.assertTrue(done.data["result"].endswith(response["Location"]))
        ready = client.get(response["Location"])
        self.assertContains(ready, "READY: submit file")
        result_id = response["Location"].rsplit("/", 1)[1]
        confirmed = client.post("/submit_confirm/", {"results_id": result_id, "button": "confirm",
                                                     "csrfmiddlewaretoken": token})
        self.assertEqual(error_message(confirmed), "")
        self.assertEqual(contexts.get_pointer("edit"), "hst_0730.pmap")
