"""Set Context (server-behaviour.md §4.3): rules, history, dates, states, replaced_by, audit, mail, page."""

from __future__ import annotations

import datetime
import json
from unittest import mock

import crds
from crds_server.testing import CatalogTestCase
from django.contrib.auth.models import Group, User
from django.test import Client

from interactive import contexts, set_context
from interactive.models import (
    ACTIVATION_PLACEHOLDER,
    ARCHIVED,
    LATEST,
    UPLOADED,
    AuditAction,
    BuildContext,
    ContextHistory,
    FileRecord,
)
from interactive.tests.smtp_sink import STATUS, SmtpSinkMixin

OLD, NEW = "hst_0728.pmap", "hst_0729.pmap"


def imap_changes(old: str, new: str) -> dict[str, str]:
    """{old imap: new imap} read from the two loaded pmaps' selections (independent of crds.diff)."""
    a, b = crds.get_cached_mapping(old), crds.get_cached_mapping(new)
    return {a.selections[i].basename: b.selections[i].basename for i in a.selections
            if i in b.selections and a.selections[i].basename != b.selections[i].basename}


def rpc(client: Client, method: str, *params):
    response = client.post(f"/json/{method}", json.dumps({"jsonrpc": "1.0", "method": method, "params": list(params),
                                                          "id": 1}), content_type="application/json")
    return response.json()


class SetContextServiceTests(SmtpSinkMixin, CatalogTestCase):
    def setUp(self):
        super().setUp()
        self.assertEqual(contexts.get_pointer("latest"), NEW)

    def state_snapshot(self):
        return sorted(FileRecord.objects.values_list("name", "state", "activation_date", "replaced_by_filename"))

    def test_regress_then_advance_latest_moves_states_dates_and_replaced_by(self):
        only_new = sorted(set(crds.get_cached_mapping(NEW).mapping_names())
                           - set(crds.get_cached_mapping(OLD).mapping_names()))
        self.assertTrue(only_new)
        FileRecord.objects.filter(name=OLD).update(activation_date=ACTIVATION_PLACEHOLDER)

        result = set_context.set_context("latest", OLD, "Back to 728 for testing", "operator")
        self.assertEqual((result.old_context, result.new_context), (NEW, OLD))
        self.assertEqual(contexts.get_pointer("latest"), OLD)
        self.assertEqual(contexts.public_history()[0].context, OLD)
        self.assertEqual(contexts.public_history()[0].description, "Back to 728 for testing")
        self.assertNotEqual(self.record(OLD).activation_date, ACTIVATION_PLACEHOLDER)
        self.assertEqual(self.record(OLD).state, LATEST)
        for name in only_new:  # left the latest context: back to archived
            self.assertEqual(self.record(name).state, ARCHIVED, name)
        for name in crds.get_cached_mapping(OLD).mapping_names()[:50]:
            self.assertEqual(self.record(name).state, LATEST, name)

        set_context.set_context("latest", NEW, "Forward again", "operator")
        changes = imap_changes(OLD, NEW)
        self.assertTrue(changes)
        for old_imap, new_imap in changes.items():
            self.assertEqual(self.record(old_imap).replaced_by_filename, new_imap)
            self.assertFalse(self.record(old_imap).rejected)  # replaced, not rejected (§16.24)
        self.assertEqual(self.record(NEW).state, LATEST)
        row = AuditAction.objects.filter(action="set default context").first()
        self.assertEqual(row.details, f"latest context changed from '{OLD}' to '{NEW}'")
        self.assertEqual(row.user, "operator")

    def test_set_context_sends_mail_to_status_list(self):
        User.objects.create_user("operator", email="op@example.org", first_name="Olga", last_name="Perez")
        set_context.set_context("latest", OLD, "Mail test", "operator")
        (recipients, message), = self.sent()
        self.assertEqual(sorted(recipients), sorted(STATUS + ["op@example.org"]))
        self.assertEqual(message["Subject"], f"CRDS HST DJANGO Update latest context from '{NEW}' to '{OLD}'.")
        self.assertIn("Mail test", message.get_content())

    def test_edit_and_versions_move_only_their_pointer(self):
        before = self.state_snapshot()
        set_context.set_context("edit", OLD, "edit back", "operator")
        set_context.set_context("versions", OLD, "versions back", "operator")
        self.assertEqual(contexts.get_pointer("edit"), OLD)
        self.assertEqual(contexts.get_pointer("versions"), OLD)
        self.assertEqual(contexts.get_pointer("latest"), NEW)
        self.assertEqual(self.state_snapshot(), before)
        self.assertEqual(ContextHistory.objects.filter(state="edit").first().context, OLD)

    def test_build_context_records_calibration_version(self):
        with self.assertRaisesMessage(set_context.SetContextError, "CAL_VER"):
            set_context.set_context("build", OLD, "no version", "operator")
        set_context.set_context("build", OLD, "release", "operator", cal_ver="3.1.4")
        self.assertEqual(BuildContext.objects.get(cal_ver="3.1.4").context, OLD)
        self.assertEqual(contexts.get_pointer("build"), OLD)

    def assert_refused(self, message: str, *args, **kwargs):
        before = (self.state_snapshot(), contexts.pointers(), ContextHistory.objects.count(),
                  AuditAction.objects.count())
        with self.assertRaisesMessage(set_context.SetContextError, message):
            set_context.set_context(*args, **kwargs)
        after = (self.state_snapshot(), contexts.pointers(), ContextHistory.objects.count(),
                 AuditAction.objects.count())
        self.assertEqual(before, after)
        self.assertEqual(self.sent(wait=0), [])

    def test_refusals_change_nothing(self):
        self.assert_refused("is already in use for the latest context", "latest", NEW, "same", "op")
        self.assert_refused("is already in use for the latest context", "operational", NEW, "same", "op")
        self.assert_refused("not known to CRDS", "latest", "hst_9998.pmap", "unknown", "op")
        self.assert_refused("Invalid file name", "latest", "../etc/passwd", "path", "op")
        self.assert_refused("not a pipeline context", "latest", "hst_acs_0250.imap", "imap", "op")
        self.assert_refused("Unknown context kind", "bogus", OLD, "kind", "op")
        self.assert_refused("description is required", "latest", OLD, "", "op")
        self.assert_refused("description is required", "latest", OLD, "<script>", "op")
        FileRecord.objects.filter(name=OLD).update(state=UPLOADED)
        self.assert_refused("is not yet available. Files must be successfully delivered to the archive",
                            "latest", OLD, "pending", "op")

    def test_latest_with_rejected_files_is_refused_listing_four(self):
        refs = sorted(crds.get_cached_mapping(OLD).reference_names())
        rmaps = sorted(set(crds.get_cached_mapping(OLD).mapping_names())
                       - set(crds.get_cached_mapping(NEW).mapping_names()))
        bad = sorted([r for r in refs if FileRecord.objects.filter(name=r).exists()][:3] + rmaps[:2])
        self.assertEqual(len(bad), 5)
        FileRecord.objects.filter(name__in=bad).update(rejected=True)
        with self.assertRaises(set_context.SetContextError) as caught:
            set_context.set_context("latest", OLD, "has bad files", "op")
        message = str(caught.exception)
        self.assertIn("contains known bad files and cannot be made the default", message)
        self.assertEqual(sum(name in message for name in bad), 4)
        self.assertEqual(contexts.get_pointer("latest"), NEW)
        # Other kinds may name such a context.
        set_context.set_context("edit", OLD, "edit may", "op")

    def test_failure_midway_rolls_everything_back(self):
        before = (self.state_snapshot(), contexts.pointers(), ContextHistory.objects.count(),
                  AuditAction.objects.count())
        with mock.patch.object(set_context, "replacements", side_effect=OSError("disk full")):
            with self.assertRaises(OSError):
                set_context.set_context("latest", OLD, "will fail", "op")
        after = (self.state_snapshot(), contexts.pointers(), ContextHistory.objects.count(),
                 AuditAction.objects.count())
        self.assertEqual(before, after)

    def test_server_info_sees_the_change_at_once(self):
        client = Client()
        self.assertEqual(rpc(client, "get_server_info")["result"]["operational_context"], NEW)
        set_context.set_context("latest", OLD, "cache test", "op")
        info = rpc(client, "get_server_info")["result"]
        self.assertEqual(info["operational_context"], OLD)
        self.assertEqual(info["context_history"][0][1], OLD)


class SetContextPageTests(SmtpSinkMixin, CatalogTestCase):
    def setUp(self):
        super().setUp()
        self.operator = User.objects.create_user("olga", password="pw", email="olga@example.org")
        self.operator.groups.add(Group.objects.get_or_create(name="file_submission")[0])
        User.objects.create_user("mallory", password="pw")

    def test_anonymous_and_outsiders_are_refused(self):
        response = Client().get("/set_default_context/")
        self.assertEqual(response.status_code, 302)
        self.assertIn("/login/", response["Location"])
        client = Client()
        client.force_login(User.objects.get(username="mallory"))
        response = client.post("/set_default_context/", {"context_type": "latest", "pmap_mode": "pmap_text",
                                                         "pmap_text": OLD, "description": "x"})
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "You must be a member of group &#x27;file_submission&#x27; to use this page.")
        self.assertEqual(contexts.get_pointer("latest"), NEW)

    def test_get_shows_form_and_post_needs_csrf(self):
        client = Client(enforce_csrf_checks=True)
        client.force_login(self.operator)
        response = client.get("/set_default_context/")
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, f'<td id="pointer-latest">{NEW}</td>', html=True)
        self.assertContains(response, f'<option value="{OLD}"')
        token = response.cookies["csrftoken"].value
        form = {"context_type": "latest", "pmap_mode": "pmap_menu", "pmap_menu": OLD, "description": "page"}
        self.assertEqual(client.post("/set_default_context/", form).status_code, 403)
        self.assertEqual(contexts.get_pointer("latest"), NEW)
        response = client.post("/set_default_context/", {**form, "csrfmiddlewaretoken": token})
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, f'<span id="new-context">{OLD}</span>', html=True)
        self.assertEqual(contexts.get_pointer("latest"), OLD)
        self.assertEqual(AuditAction.objects.filter(action="set default context").first().user, "olga")

    def test_refusal_is_shown_in_error_div(self):
        client = Client()
        client.force_login(self.operator)
        response = client.post("/set_default_context/", {"context_type": "latest", "pmap_mode": "pmap_text",
                                                         "pmap_text": NEW, "description": "again"})
        self.assertEqual(response.status_code, 400)
        self.assertContains(response, "is already in use for the latest context", status_code=400)
        self.assertContains(response, 'id="error_message"', status_code=400)

    def test_description_prefilled_for_the_next_pmap(self):
        FileRecord.objects.filter(name="hst_0730.pmap").delete()
        FileRecord.objects.create(name="hst_0730.pmap", type="mapping", observatory="hst", state=ARCHIVED,
                                  description="Next delivery words", delivery_date=datetime.datetime.now())
        contexts.set_pointer("edit", "hst_0730.pmap")
        client = Client()
        client.force_login(self.operator)
        self.assertContains(client.get("/set_default_context/"), "Next delivery words")
