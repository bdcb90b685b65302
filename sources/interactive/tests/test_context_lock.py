"""The global context lock `context$all` (server-behaviour.md §8.2, §5.5, defect §16.9).

It belongs to one acquisition, not to a user: the same user's second
confirm waits for it, a logout does not drop it, and a confirm holds it,
for up to 4 h, from context generation until the edit pointer has moved.
"""

from __future__ import annotations

import datetime
from unittest import mock

from locking import service as locks
from locking.models import Lock

from interactive import confirm, contexts, delivery
from interactive.tests.test_submission import BIAS, SubmissionTestCase


class ContextLockTests(SubmissionTestCase):
    def acquire(self, user: str = "alice", timeout: float = 0.0) -> Lock:
        return locks.acquire(*confirm.CONTEXT_LOCK, user=user, max_age=confirm.CONTEXT_LOCK_MAX_AGE,
                             timeout=timeout)

    def test_the_holder_cannot_take_it_a_second_time(self):
        first = self.acquire()
        with self.assertRaisesMessage(locks.ResourceLockedError, "User 'alice' has already locked context 'all'."):
            self.acquire(timeout=1.0)
        self.assertTrue(locks.release_lock(first))
        second = self.acquire()
        self.assertNotEqual(second.pk, first.pk)

    def test_releasing_a_taken_over_acquisition_leaves_the_new_holder_alone(self):
        stale = self.acquire()
        Lock.objects.filter(pk=stale.pk).update(expires_on=datetime.datetime.now() - datetime.timedelta(seconds=1))
        current = self.acquire()
        self.assertFalse(locks.release_lock(stale))
        self.assertTrue(Lock.objects.filter(pk=current.pk).exists())

    def test_logout_keeps_a_running_confirms_context_lock(self):
        client = self.login()
        held = self.acquire()
        client.get("/logout/")
        self.assertIsNone(locks.instrument_lock(self.user))
        self.assertTrue(Lock.objects.filter(pk=held.pk).exists())
        self.assertEqual(locks.release_all(self.user), 0)
        self.assertTrue(Lock.objects.filter(pk=held.pk).exists())

    def test_instrument_locks_are_still_shared_by_the_users_logins(self):
        first = locks.acquire_instrument(self.user, "acs")
        self.assertEqual(locks.acquire_instrument(self.user, "acs").lock_id, first.lock_id)

    def test_a_confirm_holds_it_for_four_hours_through_delivery_and_then_releases_it(self):
        self.upload(BIAS)
        result = self.submit()
        held = []

        def link_and_look(made):
            held.append(Lock.objects.get(locked_object="context$all"))
            return real_link(made)

        real_link = delivery.link_delivery
        with mock.patch.object(delivery, "link_delivery", side_effect=link_and_look):
            decision = confirm.decide(result.name, "confirm", self.user)
        self.assertEqual(decision.disposition, "confirmed")
        self.assertEqual([(lock.user, lock.max_age) for lock in held], [(self.user, 4 * 3600)])
        self.assertEqual(held[0].expires_on - held[0].created_on, datetime.timedelta(hours=4))
        self.assertFalse(Lock.objects.filter(locked_object="context$all").exists())
        self.assertEqual(contexts.get_pointer("edit"), decision.confirmation.parameters["pmap"])
