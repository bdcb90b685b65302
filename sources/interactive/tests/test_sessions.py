"""Session lifetime (server-behaviour.md §8.3): 18 h from login, not extended by activity, kept across restarts."""

from __future__ import annotations

import datetime
from unittest import mock

from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.test import TestCase, override_settings
from django.utils import timezone

EIGHTEEN_HOURS = 18 * 3600


def login(client, username="alice", password="pw"):
    return client.post("/login/", {"username": username, "password": password, "instrument": "none", "next": "/"})


def at(moment: datetime.datetime):
    """Run requests as if the clock showed `moment` (sessions read it through django.utils.timezone)."""
    return mock.patch("django.utils.timezone.now", return_value=moment)


@override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])
class SessionLifetimeTests(TestCase):
    def setUp(self):
        User.objects.create_user("alice", password="pw")

    def session_row(self) -> Session:
        return Session.objects.get(session_key=self.client.cookies[settings.SESSION_COOKIE_NAME].value)

    def test_settings_follow_the_documented_policy(self):
        self.assertEqual(settings.SESSION_COOKIE_AGE, EIGHTEEN_HOURS)
        self.assertFalse(settings.SESSION_EXPIRE_AT_BROWSER_CLOSE)
        self.assertFalse(settings.SESSION_SAVE_EVERY_REQUEST)

    def test_login_sets_a_persistent_cookie_for_18_hours(self):
        start = timezone.now()
        response = login(self.client)
        self.assertEqual(response.status_code, 302)
        cookie = response.cookies[settings.SESSION_COOKIE_NAME]
        # A max-age (not a browser-session cookie) survives a browser restart.
        self.assertGreater(int(cookie["max-age"]), EIGHTEEN_HOURS - 60)
        self.assertLessEqual(int(cookie["max-age"]), EIGHTEEN_HOURS)
        self.assertTrue(cookie["expires"])
        expiry = self.session_row().expire_date
        self.assertLessEqual(abs((expiry - start).total_seconds() - EIGHTEEN_HOURS), 60)

    def test_activity_does_not_extend_the_session(self):
        start = timezone.now()
        with at(start):
            login(self.client)
        expiry = self.session_row().expire_date
        with at(start + datetime.timedelta(hours=17)):
            # Opening a jpoll channel writes the session, which must not move its expiry.
            response = self.client.get("/jpoll/open_channel/")
            self.assertEqual(response.status_code, 200)
            self.assertIn(settings.SESSION_COOKIE_NAME, response.cookies)
            self.assertLessEqual(int(response.cookies[settings.SESSION_COOKIE_NAME]["max-age"]), 3600)
            self.assertEqual(self.session_row().expire_date, expiry)
            self.assertEqual(self.client.get("/upload/list/").status_code, 200)
        with at(start + datetime.timedelta(hours=18, minutes=1)):
            response = self.client.get("/upload/list/")
            self.assertEqual(response.status_code, 302)
            self.assertIn("/login/", response["Location"])

    def test_failed_login_makes_no_session(self):
        response = login(self.client, password="wrong")
        self.assertEqual(response.status_code, 200)
        self.assertFalse(Session.objects.exists())
