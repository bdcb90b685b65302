"""Create contexts (superuser): imaps and a pmap generated at once from chosen rmaps (server-behaviour.md §5.6)."""

from __future__ import annotations

import crds
from crds_server.testing import error_message
from django.contrib.auth.models import User
from django.test import Client

from interactive import badfiles, contexts, submission_kinds
from interactive.models import UPLOADED, FileRecord
from interactive.submission import SubmissionError
from interactive.tests.test_submission import SubmissionTestCase

OLDER_BIAS_RMAP = "hst_acs_biasfile_0344.rmap"  # cataloged, replaced by 0345 in hst_0729.pmap
REJECTED_DARK = "hst_wfc3_darkfile_0389.rmap"  # in hst_0728.pmap (via hst_wfc3_0430.imap), not in hst_0729.pmap


class CreateContextsTests(SubmissionTestCase):
    def test_generates_delivers_and_moves_the_edit_pointer_at_once(self):
        result = submission_kinds.create_contexts(self.user, "hst_0729.pmap", [OLDER_BIAS_RMAP], "Back to 0344")
        params = result.parameters
        self.assertEqual(params["pmap"], "hst_0730.pmap")
        self.assertEqual(params["generated"][0], "hst_0730.pmap")
        self.assertRegex(params["generated"][1], r"^hst_acs_\d{4}\.imap$")
        self.assertEqual(contexts.get_pointer("edit"), "hst_0730.pmap")
        pmap = crds.get_cached_mapping("hst_0730.pmap")
        self.assertEqual(pmap.get_imap("acs").get_rmap("biasfile").basename, OLDER_BIAS_RMAP)
        self.assertEqual(pmap.header["derived_from"], "hst_0729.pmap")
        for name in params["generated"]:
            self.assertEqual(self.record(name).state, "delivered")
        self.assertTrue(params["catalog"])

    def test_contexts_containing_a_rejected_mapping_are_blacklisted_when_cataloged(self):
        badfiles.mark([REJECTED_DARK], "bad", "Wrong darks", self.user)
        self.assertTrue(self.record("hst_0728.pmap").blacklisted)
        params = submission_kinds.create_contexts(self.user, "hst_0728.pmap", [OLDER_BIAS_RMAP],
                                                  "From the blacklisted context").parameters
        new_pmap, new_imap = params["generated"]
        self.assertEqual(crds.get_cached_mapping(new_pmap).get_imap("wfc3").basename, "hst_wfc3_0430.imap")
        self.assertTrue(self.record(new_pmap).blacklisted)
        self.assertFalse(self.record(new_imap).blacklisted)  # the new acs imap contains nothing rejected
        self.assertEqual(badfiles.blacklisted_by(new_pmap), [REJECTED_DARK])

    def test_contexts_of_clean_mappings_are_not_blacklisted(self):
        params = submission_kinds.create_contexts(self.user, "hst_0729.pmap", [OLDER_BIAS_RMAP], "Clean").parameters
        self.assertEqual([self.record(n).blacklisted for n in params["generated"]], [False, False])

    def test_failure_after_delivery_undoes_links_audit_lock_and_contexts(self):
        from unittest import mock

        from locking.models import Lock

        from interactive.models import AuditAction

        with mock.patch.object(contexts, "set_pointer", side_effect=RuntimeError("database went away")):
            with self.assertRaises(RuntimeError):
                submission_kinds.create_contexts(self.user, "hst_0729.pmap", [OLDER_BIAS_RMAP], "Back to 0344")
        self.assertEqual(list((self.files_root / "deliveries").iterdir()), [])
        self.assertFalse(AuditAction.objects.filter(action="new context").exists())
        self.assertFalse(FileRecord.objects.filter(name="hst_0730.pmap").exists())
        self.assertFalse(Lock.objects.filter(locked_object="context$all").exists())
        self.assertEqual(contexts.get_pointer("edit"), self.OPERATIONAL)
        self.assert_nothing_added()

    def test_bad_requests_change_nothing(self):
        cases = [
            ("hst_0729.pmap", [], "No rmaps were specified."),
            ("../hst_0729.pmap", [OLDER_BIAS_RMAP], "Invalid file name '../hst_0729.pmap'."),
            ("hst_0729.pmap", ["a/b.rmap"], "Invalid file name 'a/b.rmap'."),
            ("hst_9998.pmap", [OLDER_BIAS_RMAP], "Context 'hst_9998.pmap' is not a pipeline context known to CRDS."),
            ("hst_0729.pmap", ["hst_acs_biasfile_9997.rmap"], "is not an rmap known to CRDS"),
            ("hst_0729.pmap", ["hst_acs_darkfile_invalid1.rmap"], "hst_acs_darkfile_invalid1.rmap"),
        ]
        for pmap, rmaps, message in cases:
            with self.subTest(message), self.assertRaisesMessage(SubmissionError, message):
                submission_kinds.create_contexts(self.user, pmap, rmaps, "Some rules")
        FileRecord.objects.filter(name=OLDER_BIAS_RMAP).update(blacklisted=True)
        with self.assertRaisesMessage(SubmissionError, "is marked bad"):
            submission_kinds.create_contexts(self.user, "hst_0729.pmap", [OLDER_BIAS_RMAP], "Some rules")
        self.assertEqual(contexts.get_pointer("edit"), self.OPERATIONAL)
        self.assertFalse(FileRecord.objects.filter(state=UPLOADED).exists())
        self.assert_nothing_added()


class NotApplicableTests(SubmissionTestCase):
    """`<instrument>_<type>_n/a` entries set a type to N/A in the generated imap."""

    def test_types_set_to_na_alongside_an_rmap_then_refused_when_already_na(self):
        result = submission_kinds.create_contexts(
            self.user, self.OPERATIONAL, [OLDER_BIAS_RMAP, "ACS_DARKFILE_N/A", "acs_satufile_n/a"], "No ACS darks")
        params = result.parameters
        new_pmap = params["pmap"]
        self.assertEqual(params["installed"], [OLDER_BIAS_RMAP, "acs_darkfile_n/a", "acs_satufile_n/a"])
        imap = crds.get_cached_mapping(new_pmap).get_imap("acs")
        self.assertEqual((imap.selector["darkfile"], imap.selector["satufile"]), ("N/A", "N/A"))  # satufile: new key
        self.assertEqual(imap.get_rmap("biasfile").basename, OLDER_BIAS_RMAP)
        old = crds.get_cached_mapping("hst_acs_0421.imap")
        self.assertEqual({k: v for k, v in imap.selector.items() if k not in ("darkfile", "satufile", "biasfile")},
                         {k: v for k, v in old.selector.items() if k not in ("darkfile", "biasfile")})
        self.assertEqual(contexts.get_pointer("edit"), new_pmap)
        self.assertEqual({self.record(n).state for n in params["generated"]}, {"delivered"})
        already = f"Type 'darkfile' of 'acs' is already N/A in '{imap.basename}'."
        with self.assertRaisesMessage(SubmissionError, already):
            submission_kinds.create_contexts(self.user, new_pmap, ["acs_darkfile_n/a"], "Again")
        self.assertEqual(contexts.get_pointer("edit"), new_pmap)

    def test_bad_entries_change_nothing(self):
        cases = [
            (["xyz_biasfile_n/a"], "Unknown instrument 'xyz' in 'xyz_biasfile_n/a': use one of acs, cos, nicmos,"),
            (["acs_nosuchtype_n/a"], "Unknown type 'nosuchtype' for instrument 'acs' in 'acs_nosuchtype_n/a': "
                                     "use one of atodtab, biasfile,"),
            (["acs_bias_file_n/a"], "Invalid entry 'acs_bias_file_n/a': use <instrument>_<type>_n/a"),
            (["acs/../biasfile_n/a"], "Invalid entry 'acs/../biasfile_n/a'"),
            (["acs_biasfile_n/a", OLDER_BIAS_RMAP], f"'{OLDER_BIAS_RMAP}' and 'acs_biasfile_n/a' are both for acs "
                                                    "biasfile: choose one."),
            (["cos_deadtab_n/a", "COS_DEADTAB_N/A"], "'COS_DEADTAB_N/A' and 'cos_deadtab_n/a' are both for cos"),
        ]
        for rmaps, message in cases:
            with self.subTest(message), self.assertRaisesMessage(SubmissionError, message):
                submission_kinds.create_contexts(self.user, self.OPERATIONAL, rmaps, "Some rules")
        self.assertEqual(contexts.get_pointer("edit"), self.OPERATIONAL)
        self.assert_nothing_added()


class CreateContextsPageTests(SubmissionTestCase):
    def test_superuser_only(self):
        self.assertIn("/login/", Client().get("/create_contexts/")["Location"])
        response = self.login().get("/create_contexts/")  # file_submission and a lock are not enough
        self.assertEqual((response.status_code, error_message(response)), (200, "Only superusers can use this page."))

    def test_form_creates_contexts_and_shows_errors(self):
        User.objects.create_superuser("root", password="pw", email="root@example.org")
        client = self.login("root", "none", enforce_csrf_checks=True)
        page = client.get("/create_contexts/")
        self.assertEqual(page.status_code, 200)
        token = page.cookies["csrftoken"].value
        form = {"pmap": "hst_0729.pmap", "rmaps": OLDER_BIAS_RMAP, "description": "Back to 0344"}
        self.assertEqual(client.post("/create_contexts/", form).status_code, 403)  # CSRF
        response = client.post("/create_contexts/", {**form, "rmaps": "x/y.rmap", "csrfmiddlewaretoken": token})
        self.assertEqual(error_message(response), "Invalid file name 'x/y.rmap'.")
        self.assertEqual(contexts.get_pointer("edit"), self.OPERATIONAL)
        response = client.post("/create_contexts/", {**form, "rmaps": "xyz_darkfile_n/a", "csrfmiddlewaretoken": token})
        self.assertIn("Unknown instrument 'xyz' in 'xyz_darkfile_n/a'", error_message(response))
        response = client.post("/create_contexts/", {**form, "rmaps": f"{OLDER_BIAS_RMAP}, ACS_DARKFILE_N/A",
                                                     "csrfmiddlewaretoken": token})
        self.assertEqual(response.status_code, 302, error_message(response))
        self.assertEqual(contexts.get_pointer("edit"), "hst_0730.pmap")
        page = client.get(response["Location"])
        self.assertContains(page, "hst_0730.pmap")
        self.assertContains(page, f"Installed in the new context: {OLDER_BIAS_RMAP}, acs_darkfile_n/a")
