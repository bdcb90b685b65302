"""A scheduled job failing under Celery beat is mailed to the operators: once, a daily reminder, its recovery."""

from __future__ import annotations

import os
from unittest import mock

from celery.signals import task_failure
from django.core import mail
from django.core.cache import cache
from django.test import SimpleTestCase, override_settings

from operations import alerts, tasks

OPERATORS = ["ops@example.org"]


@override_settings(CRDS_ADMIN_EMAILS=OPERATORS)
class JobAlertTests(SimpleTestCase):
    """sync_group_cache fails on an ops server without CRDS_GROUP_CACHE and does nothing elsewhere."""

    def setUp(self):
        cache.clear()
        self.addCleanup(cache.clear)
        environ = mock.patch.dict(os.environ)
        environ.start()
        self.addCleanup(environ.stop)
        os.environ.pop("CRDS_GROUP_CACHE", None)

    def run_job(self, usecase: str) -> str:
        with override_settings(CRDS_USECASE=usecase):
            result = tasks.sync_group_cache.apply(throw=False)
        return result.status

    def subjects(self) -> list[str]:
        return [message.subject for message in mail.outbox]

    def test_failure_is_mailed_once_then_reminded_daily_then_its_recovery(self):
        self.assertEqual(self.run_job("ops"), "FAILURE")
        failed = ("CRDS HST OPS scheduled job operations.sync_group_cache FAILED: RuntimeError: "
                  "CRDS_GROUP_CACHE (the shared cache directory) is not set for the worker")
        self.assertEqual(self.subjects(), [failed])
        self.assertEqual(mail.outbox[0].to, OPERATORS)
        self.assertIn("1 failed runs", mail.outbox[0].body)

        self.assertEqual(self.run_job("ops"), "FAILURE")
        self.assertEqual(self.run_job("ops"), "FAILURE")
        self.assertEqual(len(mail.outbox), 1, "a continuing failure is not mailed at every run")

        key = alerts._key("operations.sync_group_cache")
        state = cache.get(key)
        cache.set(key, {**state, "mailed": state["mailed"] - alerts.REMIND_AFTER}, alerts.STATE_SECONDS)
        self.assertEqual(self.run_job("ops"), "FAILURE")
        self.assertEqual(self.subjects(), [failed, failed])
        self.assertIn("4 failed runs", mail.outbox[1].body)

        self.assertEqual(self.run_job("test"), "SUCCESS")
        self.assertEqual(len(mail.outbox), 3)
        self.assertRegex(mail.outbox[2].subject, r"^CRDS HST TEST scheduled job operations.sync_group_cache "
                                                 r"recovered: it succeeded at [-0-9: ]+ after 4 failed runs$")
        self.assertIn("CRDS_GROUP_CACHE (the shared cache directory) is not set", mail.outbox[2].body)
        self.assertIsNone(cache.get(key))

        self.assertEqual(self.run_job("test"), "SUCCESS")
        self.assertEqual(len(mail.outbox), 3, "a job that keeps succeeding is not mailed")

    def test_a_failure_the_job_mailed_itself_or_of_an_unscheduled_task_is_not_mailed(self):
        with mock.patch.object(tasks.publish, "sync_group_cache", side_effect=alerts.JobFailed("reported")), \
                mock.patch.dict(os.environ, CRDS_GROUP_CACHE="/nonexistent"):
            self.assertEqual(self.run_job("ops"), "FAILURE")
        self.assertEqual(mail.outbox, [])
        self.assertIsNone(cache.get(alerts._key("operations.sync_group_cache")))

        from interactive.tasks import certify_ingest

        self.assertNotIn(certify_ingest.name, alerts.scheduled_tasks())
        task_failure.send(sender=certify_ingest, exception=RuntimeError("not a scheduled job"))
        self.assertEqual(mail.outbox, [])

    def test_long_and_multi_line_reasons_become_one_short_line(self):
        self.assertEqual(alerts.reason(ValueError("first line\nsecond line")), "ValueError: first line")
        self.assertEqual(alerts.reason(KeyError()), "KeyError")
        long = alerts.reason(OSError("x" * 1000))
        self.assertEqual(len(long), alerts.REASON_CHARS)
        self.assertTrue(long.endswith("..."))

    @override_settings(EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend", EMAIL_HOST="127.0.0.1",
                       EMAIL_PORT=9, EMAIL_TIMEOUT=5)
    def test_a_mail_that_cannot_be_sent_is_logged_and_the_failure_still_recorded(self):
        with self.assertLogs("operations.alerts", "ERROR") as logged:
            self.assertEqual(self.run_job("ops"), "FAILURE")
        self.assertIn("Could not mail 'scheduled job operations.sync_group_cache FAILED", logged.output[0])
        self.assertEqual(cache.get(alerts._key("operations.sync_group_cache"))["failures"], 1)

    def test_a_cache_that_cannot_keep_the_state_mails_every_failure_rather_than_none(self):
        """memcached down (the production backend ignores its errors): add fails and get finds nothing."""
        with mock.patch.object(cache, "add", return_value=False), mock.patch.object(cache, "get", return_value=None):
            self.assertEqual(self.run_job("ops"), "FAILURE")
            self.assertEqual(self.run_job("ops"), "FAILURE")
        self.assertEqual(len(mail.outbox), 2)

    @override_settings(CRDS_ADMIN_EMAILS=[], CRDS_STATUS_TO_ADDRESSES=[])
    def test_nobody_to_tell_sends_nothing(self):
        self.assertEqual(self.run_job("ops"), "FAILURE")
        self.assertEqual(mail.outbox, [])
