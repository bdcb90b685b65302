"""The global context lock `context$all` (server-behaviour.md §8.2, §5.5, defect §16.9).

It belongs to one acquisition, not to a user: the same user's second
confirm waits for it and a logout does not drop it.
"""

from __future__ import annotations

import datetime

from locking import service as locks
from locking.models import Lock

from interactive import confirm
from interactive.tests.test_submission import SubmissionTestCase


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
