"""manage.py release_submission: a READY result left "finalizing" by a confirm that died (defect §16.6)."""

from __future__ import annotations

import io

from django.core.management import CommandError, call_command
from locking import service as locks

from interactive import confirm
from interactive.models import FileRecord
from interactive.tests.test_submission import BIAS, SubmissionTestCase


class ReleaseSubmissionTests(SubmissionTestCase):
    def stuck(self):
        """A READY result whose confirm claimed it and then died with its process."""
        self.upload(BIAS)
        result = self.submit()
        self.assertTrue(confirm.claim(result))
        return result

    def release(self, *args: str) -> str:
        out = io.StringIO()
        call_command("release_submission", *args, stdout=out)
        return out.getvalue()

    def disposition(self, result) -> str:
        result.refresh_from_db()
        return result.parameters["disposition"]

    def test_a_stuck_result_can_be_decided_again(self):
        result = self.stuck()
        with self.assertRaisesMessage(confirm.ConfirmError, "already confirmed or cancelled"):
            confirm.decide(result.name, "confirm", self.user)
        self.assertIn("awaits a decision again", self.release(result.name))
        self.assertEqual(self.disposition(result), "")
        self.assertEqual(confirm.decide(result.name, "confirm", self.user).disposition, "confirmed")

    def test_refused_while_the_context_lock_is_held_unless_told(self):
        result = self.stuck()
        lock = locks.acquire(*confirm.CONTEXT_LOCK, user="bob", max_age=confirm.CONTEXT_LOCK_MAX_AGE)
        with self.assertRaisesMessage(CommandError, "The context lock is held by 'bob'"):
            self.release(result.name)
        self.assertEqual(self.disposition(result), "finalizing")
        self.release(result.name, "--ignore-context-lock")
        self.assertEqual(self.disposition(result), "")
        locks.release_lock(lock)

    def test_refused_once_its_files_were_delivered(self):
        result = self.stuck()
        official = list(result.parameters["new_file_map"].values())
        FileRecord.objects.filter(name__in=official).update(state="delivered")
        with self.assertRaisesMessage(CommandError, "its confirm got past delivery"):
            self.release(result.name)
        self.assertEqual(self.disposition(result), "finalizing")

    def test_refused_when_its_files_are_linked_for_delivery(self):
        """The confirm died after linking its delivery but before recording it."""
        import os

        from interactive import delivery, storage

        result = self.stuck()
        official = sorted(result.parameters["new_file_map"].values())[0]
        folder = delivery.delivery_dirs()[0]
        folder.mkdir(parents=True, exist_ok=True)
        os.link(storage.cache_path(official), folder / official)
        self.addCleanup((folder / official).unlink)
        with self.assertRaisesMessage(CommandError, f"linked for delivery ({official})"):
            self.release(result.name)
        self.assertEqual(self.disposition(result), "finalizing")

    def test_only_finalizing_results_of_known_ids(self):
        self.upload(BIAS)
        result = self.submit()
        with self.assertRaisesMessage(CommandError, "is not being finalized (it awaits a decision)"):
            self.release(result.name)
        with self.assertRaisesMessage(CommandError, "Unknown submission result '../etc'"):
            self.release("../etc")
        self.assertEqual(self.disposition(result), "")
