"""The latest context stays free of known-bad files when Mark Bad and Set Context race (server-behaviour.md §7).

Each operation checks once before its transaction and again inside it, under
the latest pointer's lock.  The tests make the other operator's request commit
exactly between the two, where the first check can no longer see it.
"""

from __future__ import annotations

from unittest import mock

from crds_server.testing import CatalogTestCase
from django.db import transaction

from interactive import badfiles, contexts, set_context
from interactive.models import FileRecord
from interactive.tests.smtp_sink import SmtpSinkMixin

OLD, NEW = "hst_0728.pmap", "hst_0729.pmap"
DARK = "hst_wfc3_darkfile_0389.rmap"  # in hst_0728.pmap, no longer in hst_0729.pmap


class OtherOperatorFirst:
    """A module's `transaction` whose first atomic block begins after `competitor` has committed."""

    def __init__(self, competitor):
        self.competitor = competitor

    def atomic(self, *args, **kwargs):
        competitor, self.competitor = self.competitor, None
        if competitor:
            competitor()
        return transaction.atomic(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(transaction, name)


def rejected(name: str) -> bool:
    return FileRecord.objects.get(name=name).rejected


class LatestStaysCleanTests(SmtpSinkMixin, CatalogTestCase):
    def setUp(self):
        super().setUp()
        self.assertEqual(contexts.get_pointer("latest"), NEW)
        self.assertIn(DARK, set_context.closure(OLD))
        self.assertNotIn(DARK, set_context.closure(NEW))

    def test_mark_bad_refuses_a_file_that_just_became_latest(self):
        def make_old_latest():
            set_context.set_context("latest", OLD, "Regress to the previous context", "other")

        with mock.patch.object(badfiles, "transaction", OtherOperatorFirst(make_old_latest)):
            with self.assertRaisesMessage(badfiles.MarkBadError, f"is in the latest context '{OLD}'"):
                badfiles.mark([DARK], "bad", "Wrong darks", "operator")
        self.assertEqual(contexts.get_pointer("latest"), OLD)
        self.assertFalse(rejected(DARK))
        self.assertFalse(FileRecord.objects.filter(blacklisted=True, name__in=set_context.closure(OLD)).exists())

    def test_set_context_refuses_a_context_whose_file_was_just_marked_bad(self):
        def mark_dark_bad():
            badfiles.mark([DARK], "bad", "Wrong darks", "other")

        with mock.patch.object(set_context, "transaction", OtherOperatorFirst(mark_dark_bad)):
            with self.assertRaisesMessage(set_context.SetContextError,
                                          f"Context '{OLD}' contains known bad files and cannot be made the default: "
                                          f"{DARK}"):
                set_context.set_context("latest", OLD, "Regress to the previous context", "operator")
        self.assertEqual(contexts.get_pointer("latest"), NEW)
        self.assertTrue(rejected(DARK))
        self.assertEqual(set_context.rejected_in(set_context.closure(NEW)), [])
