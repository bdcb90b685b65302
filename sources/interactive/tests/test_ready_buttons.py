"""The READY page offers confirm, cancel and force only to a viewer who may use them (server-behaviour.md §5.4).

Buttons that depend on the viewer's instrument lock are marked so the page
hides them when the header's lock poll reports that lock dropped.
"""

from __future__ import annotations

import re

from django.contrib.auth.models import Group, User
from django.test import Client
from locking import service as locks

from interactive.models import StoredResult
from interactive.tests.test_submission import BIAS, SubmissionTestCase

NEEDS_LOCK = "You do not hold the instrument lock this submission needs: log in again with the lock on acs"


def buttons(client: Client, result: StoredResult) -> dict[str, bool]:
    """{button: marked as needing the lock} of the buttons the READY page shows."""
    body = client.get(f"/display_result/{result.name}").content.decode()
    return {m.group(1): bool(m.group(2)) for m in re.finditer(r'<button [^>]*id="(\w+)"( data-needs-lock)?', body)}


def lock_message_shown(client: Client, result: StoredResult) -> bool:
    body = client.get(f"/display_result/{result.name}").content.decode()
    return re.search(r'<p id="lock-needed" class="alert alert-warning">' + NEEDS_LOCK, body) is not None


class ReadyButtonsTests(SubmissionTestCase):
    def ready(self, client_user: str = "alice") -> StoredResult:
        """A real READY result of alice's, made under the lock she now holds."""
        lock = locks.instrument_lock(client_user)
        self.upload(BIAS)
        result = self.submit(lock_id=lock.lock_id, locked_instrument=lock.name, instrument=lock.name)
        self.assertEqual(result.parameters["disposition"], "")
        return result

    def test_submitter_holding_the_lock_gets_all_buttons_bound_to_that_lock(self):
        client = self.login()
        result = self.ready()
        self.assertEqual(buttons(client, result), {"confirm": True, "cancel": True, "force": True})
        body = client.get(f"/display_result/{result.name}").content.decode()
        status = locks.status("alice")
        self.assertIn(f'data-lock-name="acs" data-lock-created="{status["created_on"]}"', body)
        self.assertIn('addEventListener("crds:lock-status"', body)
        self.assertFalse(lock_message_shown(client, result))

        locks.release_all("alice")  # the lock drops; the session stays
        self.assertEqual(buttons(client, result), {})
        self.assertTrue(lock_message_shown(client, result))

        relogged = self.login()  # a new lock: confirm needs the one the submission was made under
        self.assertEqual(buttons(relogged, result), {"cancel": True, "force": True})

    def test_other_submitters_need_the_lock_on_the_instrument(self):
        self.login()
        result = self.ready()
        locks.release_all("alice")
        bob = User.objects.create_user("bob", password="pw")
        bob.groups.add(Group.objects.get(name="file_submission"))
        self.assertEqual(buttons(self.login("bob", "acs"), result), {"cancel": True, "force": True})
        locks.release_all("bob")
        elsewhere = self.login("bob", "wfc3")
        self.assertEqual(buttons(elsewhere, result), {})
        self.assertTrue(lock_message_shown(elsewhere, result))
        User.objects.create_user("carol", password="pw")  # not in file_submission
        self.assertEqual(buttons(self.login("carol", "cos"), result), {})

    def test_unlocked_superuser_buttons_do_not_depend_on_a_lock(self):
        User.objects.filter(username="alice").update(is_superuser=True)
        client = self.login("alice", "none")
        self.upload(BIAS)
        result = self.submit()
        self.assertEqual(buttons(client, result), {"confirm": False, "cancel": False, "force": False})
        body = client.get(f"/display_result/{result.name}").content.decode()
        self.assertNotIn("crds:lock-status", body[body.index('id="confirm-form"'):])
        self.assertFalse(lock_message_shown(client, result))

    def test_decided_submission_shows_no_buttons_and_no_lock_message(self):
        client = self.login()
        result = self.ready()
        client.post("/submit_confirm/", {"results_id": result.name, "button": "cancel"})  # also logs out
        result.refresh_from_db()
        self.assertEqual(result.parameters["disposition"], "canceled")
        viewer = self.login()
        self.assertEqual(buttons(viewer, result), {})
        self.assertNotContains(viewer.get(f"/display_result/{result.name}"), 'id="lock-needed"')
