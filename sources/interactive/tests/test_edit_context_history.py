"""Rewriting a context-history description (server-behaviour.md §4.2, §15: group edit_context_history)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from crds_server.testing import error_message
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.test import Client, override_settings

from interactive.models import ContextHistory
from interactive.tests.page_support import PageTestCase, server_failure


def server_info_history(client: Client) -> list:
    """server info's context_history, which is cached per catalog generation."""
    body = {"jsonrpc": "1.0", "method": "get_server_info", "params": [], "id": 1}
    response = client.post("/json/get_server_info", json.dumps(body), content_type="application/json")
    return response.json()["result"]["context_history"]


class EditContextHistoryTests(PageTestCase):
    def setUp(self):
        super().setUp()
        self.row = ContextHistory.objects.filter(state="latest").order_by("-start_date", "-id").first()
        self.original = self.row.description
        self.url = f"/edit_context_history/{self.row.id}/{self.row.context}/"
        self.editor = User.objects.create_user("historian", password="x")
        self.editor.groups.add(Group.objects.get_or_create(name="edit_context_history")[0])
        self.client.force_login(self.editor)

    def assertUnchanged(self):
        self.row.refresh_from_db()
        self.assertEqual(self.row.description, self.original)

    def test_get_shows_the_row_and_changes_nothing(self):
        response = self.client.get(self.url)
        self.assertEqual(response.status_code, 200)
        self.assertIn("no-cache", response["Cache-Control"])
        self.assertContains(response, f'<a href="/browse/{self.row.context}">{self.row.context}</a>')
        self.assertContains(response, f'action="{self.url}"')
        self.assertContains(response, 'name="csrfmiddlewaretoken"')
        self.assertUnchanged()

    def test_post_rewrites_the_description_everywhere_it_is_shown(self):
        self.assertEqual(server_info_history(self.client)[0][2], self.original)  # server info's history now cached
        response = self.client.post(self.url, {"description": "Corrected text for the 729 delivery"})
        self.assertRedirects(response, "/display_context_history/", fetch_redirect_response=False)
        self.row.refresh_from_db()
        self.assertEqual(self.row.description, "Corrected text for the 729 delivery")
        self.assertEqual(server_info_history(self.client)[0][2], "Corrected text for the 729 delivery")
        self.assertContains(self.client.get("/display_context_history/"), "Corrected text for the 729 delivery")
        home = self.client.get("/").content.decode()
        self.assertIn("Corrected text for the 729 delivery", home[home.index('id="context-history"'):])
        log = (settings.CRDS_ROOT / "server_logs" / "meta_events.log").read_text()
        self.assertIn(f"context history row {self.row.id} (latest {self.row.context}) description changed by "
                      "historian", log.splitlines()[-1])

    def test_bad_descriptions_are_refused_and_change_nothing(self):
        cases = {"": "A description is required.", "   ": "A description is required.",
                 "x" * 2001: "up to 2000 letters", "drop <script>": "up to 2000 letters"}
        for description, expected in cases.items():
            with self.subTest(description=description[:10]):
                response = self.client.post(self.url, {"description": description})
                self.assertEqual(response.status_code, 400)
                self.assertIn(expected, error_message(response))
                self.assertFalse(server_failure(response))
                self.assertUnchanged()

    def test_unknown_row_or_mismatched_context_is_refused(self):
        other = ContextHistory.objects.exclude(context=self.row.context).first()
        urls = {f"/edit_context_history/999999/{self.row.context}/": "There is no context history row 999999.",
                f"/edit_context_history/x1/{self.row.context}/": "Invalid context history id 'x1'",
                f"/edit_context_history/{self.row.id}/{other.context}/":
                    f"is for '{self.row.context}', not '{other.context}'"}
        for url, expected in urls.items():
            for method in (self.client.get, self.client.post):
                with self.subTest(url=url, method=method.__name__):
                    response = method(url, {"description": "A new text"})
                    self.assertEqual(response.status_code, 404)
                    self.assertIn(expected, error_message(response))
                    self.assertFalse(server_failure(response))
        self.assertUnchanged()

    def test_only_the_group_may_edit(self):
        self.client.force_login(User.objects.create_user("plain", password="x"))
        for method in (self.client.get, self.client.post):
            response = method(self.url, {"description": "Not mine to change"})
            self.assertEqual(response.status_code, 200)
            self.assertIn("member of group 'edit_context_history'", error_message(response))
        self.client.logout()
        response = self.client.post(self.url, {"description": "Not mine to change"})
        self.assertEqual(response.status_code, 302)
        self.assertIn("/login/", response["Location"])
        self.assertUnchanged()

    def test_post_without_csrf_token_is_refused(self):
        client = Client(enforce_csrf_checks=True)
        client.force_login(self.editor)
        response = client.post(self.url, {"description": "Forged change"})
        self.assertEqual(response.status_code, 403)
        self.assertUnchanged()

    def test_unwritable_event_log_changes_nothing(self):
        with tempfile.TemporaryDirectory() as root:
            (Path(root) / "server_logs").write_text("a file where the log folder should be")
            with override_settings(CRDS_ROOT=Path(root)):
                response = self.client.post(self.url, {"description": "Cannot be recorded"})
        self.assertEqual(response.status_code, 400)
        self.assertIn("nothing was changed", error_message(response))
        self.assertFalse(server_failure(response))
        self.assertUnchanged()

    def test_history_page_links_the_edit_form_for_the_group_only(self):
        self.assertContains(self.client.get("/display_context_history/"), f'href="{self.url}"')
        self.client.force_login(User.objects.create_user("plain", password="x"))
        response = self.client.get("/display_context_history/")
        self.assertNotContains(response, "/edit_context_history/")
        self.assertNotContains(response, "<th>Edit</th>")
