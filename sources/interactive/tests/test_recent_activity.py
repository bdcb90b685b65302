"""Recent Activity: filters, delivery and mass-import rows skipped, who acted hidden anonymously."""

from __future__ import annotations

import datetime

from crds_server.testing import error_message
from django.contrib.auth.models import User

from interactive.models import AuditAction
from interactive.tests.page_support import PageTestCase


def row(action, filename, user="alice", when=datetime.datetime(2019, 6, 1, 12), **extra):
    return AuditAction.objects.create(action=action, filename=filename, user=user, date=when,
                                      observatory="hst", **extra)


class RecentActivityPageTests(PageTestCase):
    def setUp(self):
        super().setUp()
        row("submit file", "hst_acs_biasfile_0345.rmap", instrument="acs", filekind="biasfile", why="new biases")
        row("submit file", "opus_1234_r.cat", why="delivery catalog")
        row("set default context", "hst_0729.pmap", user="bob", when=datetime.datetime(2019, 7, 1))
        row("mass import", "hst_0001.pmap", why="bulk")

    def test_input_form(self):
        response = self.client.get("/recent_activity_input/")
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, 'id="activity-form"')
        self.assertNotContains(response, 'name="user"')

    def test_anonymous_sees_no_user_column_and_no_cat_or_mass_import_rows(self):
        response = self.client.get("/recent_activity_query/")
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "new biases")
        self.assertContains(response, "hst_0729.pmap")
        self.assertNotContains(response, "opus_1234_r.cat")
        self.assertNotContains(response, "bulk")
        self.assertNotContains(response, "<th>User</th>")
        self.assertNotContains(response, "alice")
        self.assertNotContains(response, "bob")

    def test_logged_in_users_see_who_acted_and_may_filter_by_user(self):
        self.client.force_login(User.objects.create_user("carol", password="x"))
        response = self.client.get("/recent_activity_query/", {"user": "bob"})
        self.assertContains(response, "<th>User</th>")
        self.assertContains(response, "<td>bob</td>")
        self.assertNotContains(response, "new biases")

    def test_anonymous_user_filter_is_ignored(self):
        response = self.client.get("/recent_activity_query/", {"user": "bob"})
        self.assertContains(response, "new biases")

    def test_filters(self):
        response = self.client.get("/recent_activity_query/", {"instrument": "acs", "filename": "hst_acs_*.rmap"})
        self.assertContains(response, "new biases")
        self.assertNotContains(response, "set default context</td>")
        response = self.client.get("/recent_activity_query/", {"date_from": "2019-06-15", "date_to": "2019-07-01"})
        self.assertContains(response, "set default context")
        self.assertNotContains(response, "new biases")
        response = self.client.get("/recent_activity_query/", {"mass_import": "on"})
        self.assertContains(response, "bulk")
        response = self.client.get("/recent_activity_query/", {"action": "mass import"})
        self.assertContains(response, "bulk")
        self.assertNotContains(response, "new biases")

    def test_bad_inputs(self):
        for params in ({"date_from": "2019-13-01"}, {"action": "drop tables"}, {"filename": "/etc/passwd"},
                       {"date_from": "2019-07-02", "date_to": "2019-07-01"}):
            with self.subTest(params=params):
                response = self.client.get("/recent_activity_query/", params)
                self.assertEqual(response.status_code, 400)
                self.assertIn("correct the fields", error_message(response))
