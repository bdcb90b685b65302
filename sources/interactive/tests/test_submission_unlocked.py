"""The UNLOCKED submission variants: superusers may submit and decide without an instrument lock.

server-behaviour.md §8.3, §15: every submission page and confirm/cancel/force work for a superuser
logged in with instrument "none"; anyone else without a lock gets a clear refusal and nothing
changes.  A result made unlocked still belongs to the instrument of its files: another submitter
needs the lock on that instrument to cancel or force it.
"""

from __future__ import annotations

from crds_server.testing import error_message
from django.contrib.auth.models import Group, User

from interactive import contexts, storage, submission
from interactive.models import UPLOADED, FileRecord, RedcatSubmission, StoredResult
from interactive.tests import test_submission_views as page_tests
from interactive.tests.test_delete_add_references import ADDED, DELETED
from interactive.tests.test_redcat import answers
from interactive.tests.test_submission import BIAS, SubmissionTestCase
from interactive.tests.test_submit_mapping import EDITED, MappingTestsMixin

NO_LOCK = "You must log in with an instrument lock to use this page; your lock is missing or has expired."
SUBMISSION_PAGES = ("/batch_submit_references/", "/submission_form/redcat_submit/", "/submit/reference/",
                    "/submit/mapping/", "/delete/reference/", "/add_existing/reference/")


class UnlockedSubmissionTests(MappingTestsMixin, SubmissionTestCase):
    user = "root"  # SubmissionTestCase's submitter, made a superuser below
    form = page_tests.SubmissionPageTests.form

    def setUp(self):
        super().setUp()
        User.objects.filter(username=self.user).update(is_superuser=True)
        self.bob = User.objects.create_user("bob", password="pw", email="bob@example.org")
        self.bob.groups.add(Group.objects.get(name="file_submission"))

    def submitted(self, response) -> StoredResult:
        """The READY result a submission page redirected to."""
        self.assertEqual(response.status_code, 302, error_message(response))
        result = StoredResult.objects.get(name=response["Location"].rsplit("/", 1)[1])
        params = result.parameters
        self.assertEqual((params["disposition"], params["should_still_be_locked"], params["requires_locking"],
                          params["locked_instrument"]), ("", "", False, ""))
        return result

    def decide(self, result: StoredResult, button: str, username: str = "root", instrument: str = "none"):
        return self.login(username, instrument).post("/submit_confirm/", {"results_id": result.name,
                                                                           "button": button})

    def disposition(self, result: StoredResult) -> str:
        result.refresh_from_db()
        return result.parameters["disposition"]

    def test_superuser_batch_submits_and_confirms_unlocked(self):
        client = self.login("root", "none")
        self.assertEqual(client.get("/batch_submit_references/").status_code, 200)
        self.upload(BIAS)
        result = self.submitted(client.post("/batch_submit_references/", self.form()))
        self.assertEqual(result.parameters["instrument"], "acs")
        self.assertContains(client.get(f"/display_result/{result.name}"), 'id="confirm"')
        official = result.parameters["new_file_map"][BIAS]

        confirmed = client.post("/submit_confirm/", {"results_id": result.name, "button": "confirm"})
        self.assertEqual((confirmed.status_code, error_message(confirmed)), (200, ""))
        self.assertEqual(self.disposition(result), "confirmed")
        self.assertEqual(contexts.get_pointer("edit"), "hst_0730.pmap")
        self.assertEqual(self.record(official).state, "delivered")
        self.assertFalse((self.ingest / BIAS).exists())

    def test_superuser_redcat_submits_unlocked_and_the_form_instrument_must_match(self):
        client = self.login("root", "none")
        self.assertEqual(client.get("/submission_form/redcat_submit/").status_code, 200)
        self.upload(BIAS)
        refused = client.post("/submission_form/redcat_submit/", answers(instrument="cos"))
        self.assertEqual(error_message(refused), "Instrument Mismatch: the form names instrument 'cos'. "
                                             "Submitted files for 'acs'.")
        self.assertFalse(RedcatSubmission.objects.exists() or StoredResult.objects.exists())
        self.assert_nothing_added()
        self.assertTrue((self.ingest / BIAS).exists())

        result = self.submitted(client.post("/submission_form/redcat_submit/", answers()))
        self.assertEqual(RedcatSubmission.objects.get().result_name, result.name)
        forced = client.post("/submit_confirm/", {"results_id": result.name, "button": "force"})
        self.assertEqual((forced.status_code, error_message(forced)), (200, ""))
        self.assertEqual(self.disposition(result), "forced")

    def test_other_kinds_unlocked_and_who_may_cancel_them(self):
        client = self.login("root", "none")
        self.assertEqual(client.get("/create_contexts/").status_code, 200)
        self.upload(BIAS)
        references = self.submitted(client.post("/submit/reference/", self.form()))
        self.assertEqual(references.parameters["instrument"], "acs")
        official = references.parameters["new_file_map"][BIAS]
        # Another submitter needs the lock on the files' instrument; without any lock the page refuses.
        bob = self.login("bob", "cos")
        refused = bob.post("/submit_confirm/", {"results_id": references.name, "button": "cancel"})
        self.assertEqual(error_message(refused),
                         "You must hold the lock on instrument 'acs' to cancel this submission.")
        bob.get("/logout/")  # releases the cos lock, which a login for "none" would keep
        refused = self.decide(references, "force", "bob", "none")
        self.assertEqual((refused.status_code, error_message(refused)), (200, NO_LOCK))
        self.assertEqual((self.disposition(references), self.record(official).state), ("", UPLOADED))
        canceled = self.decide(references, "cancel", "bob", "acs")
        self.assertEqual(error_message(canceled), "")
        self.assertEqual(self.disposition(references), "canceled")
        self.assert_nothing_added()

        (self.ingest / BIAS).unlink()
        self.upload_edited_rmap()
        client = self.login("root", "none")
        mappings = self.submitted(client.post("/submit/mapping/", self.form(generate_contexts="True")))
        self.assertEqual((mappings.parameters["instrument"], mappings.parameters["context_rmaps"]),
                         ("acs", [mappings.parameters["new_file_map"][EDITED]]))
        self.assertEqual(error_message(self.decide(mappings, "cancel")), "")
        (self.ingest / EDITED).unlink()

        client = self.login("root", "none")
        deleted = self.submitted(client.post("/delete/reference/", self.form(deleted_files=DELETED)))
        self.assertEqual(deleted.parameters["deleted_files"], [DELETED])
        self.assertEqual(error_message(self.decide(deleted, "cancel")), "")
        client = self.login("root", "none")
        added = self.submitted(client.post("/add_existing/reference/", self.form(added_files=ADDED)))
        self.assertEqual(added.parameters["added_files"], [ADDED])
        self.assertEqual(error_message(self.decide(added, "cancel")), "")
        self.assertEqual([self.disposition(r) for r in (mappings, deleted, added)], ["canceled"] * 3)
        self.assert_nothing_added()
        self.assertEqual(contexts.get_pointer("edit"), "hst_0729.pmap")

    def test_others_without_a_lock_are_refused_and_nothing_changes(self):
        self.upload(BIAS)
        pending = submission.batch_submit(submission.BatchRequest(user="root", description="Pending bias"))
        pending_files = sorted(pending.parameters["new_file_map"].values())
        bob_ingest = storage.ingest_dir("bob")
        bob_ingest.mkdir(parents=True)
        (bob_ingest / BIAS).write_bytes((self.ingest / BIAS).read_bytes())
        mails, results = len(self.sent()), StoredResult.objects.count()

        client = self.login("bob", "none")
        posts = {"/submission_form/redcat_submit/": answers(), "/delete/reference/": self.form(deleted_files=DELETED),
                 "/add_existing/reference/": self.form(added_files=ADDED)}
        for url in SUBMISSION_PAGES:
            for response in (client.get(url), client.post(url, posts.get(url, self.form()))):
                self.assertEqual((response.status_code, error_message(response)), (200, NO_LOCK), url)
        for url in ("/submit_confirm/", "/submit_confirm_pipeline/"):
            for button in ("confirm", "cancel", "force"):
                response = client.post(url, {"results_id": pending.name, "button": button})
                self.assertEqual((response.status_code, error_message(response)), (200, NO_LOCK), url)
        response = self.login("bob", "acs").get("/create_contexts/")
        self.assertEqual((response.status_code, error_message(response)), (200, "Only superusers can use this page."))

        self.assertEqual(self.disposition(pending), "")
        self.assertEqual(sorted(FileRecord.objects.filter(state=UPLOADED).values_list("name", flat=True)),
                         pending_files)
        self.assertEqual((StoredResult.objects.count(), RedcatSubmission.objects.count()), (results, 0))
        self.assertEqual(len(self.sent(wait=0)), mails)
        self.assertEqual(sorted(p.name for p in bob_ingest.iterdir()), [BIAS])
        self.assertEqual(contexts.get_pointer("edit"), "hst_0729.pmap")
