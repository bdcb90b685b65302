"""Deliveries are audited under the §2.2 action names, so Recent Activity can filter them."""

from __future__ import annotations

import importlib

from django.apps import apps

from interactive import confirm, submission_kinds
from interactive.models import AuditAction, StoredResult
from interactive.submission import BatchRequest
from interactive.tests.test_create_contexts import OLDER_BIAS_RMAP
from interactive.tests.test_submission import BIAS, SubmissionTestCase


class DeliveryActionTests(SubmissionTestCase):
    def activity(self, action: str):
        response = self.client.get("/recent_activity_query/", {"action": action})
        self.assertEqual(response.status_code, 200)
        return response

    def test_submit_reference_delivery_is_a_submit_file_action(self):
        self.upload(BIAS)
        result = submission_kinds.submit_references(BatchRequest(user=self.user, description="Orphan biases"))
        self.assertEqual(result.parameters["submission_kind"], "submit file")
        official = result.parameters["new_file_map"][BIAS]
        confirm.decide(result.name, "confirm", self.user)
        rows = AuditAction.objects.filter(user=self.user)
        self.assertEqual(set(rows.values_list("action", flat=True)), {"submit file"})
        self.assertIn(official, rows.values_list("filename", flat=True))
        self.assertContains(self.activity("submit file"), official)

    def test_create_contexts_delivery_is_a_new_context_action(self):
        result = submission_kinds.create_contexts(self.user, "hst_0729.pmap", [OLDER_BIAS_RMAP], "Back to 0344")
        rows = AuditAction.objects.filter(user=self.user)
        self.assertEqual(set(rows.values_list("action", flat=True)), {"new context"})
        self.assertContains(self.activity("new context"), result.parameters["pmap"])

    def test_migration_renames_the_old_kinds_of_audit_rows_and_pending_results(self):
        migration = importlib.import_module("interactive.migrations.0004_spec_audit_actions")
        for old in ("submit mappings", "submit references", "create contexts"):
            AuditAction.objects.create(action=old, filename=f"{old.replace(' ', '_')}.rmap", user=self.user,
                                       observatory="hst")
        pending = StoredResult.objects.create(name="pending", parameters={"submission_kind": "submit mappings"})
        migration.rename_kinds(apps, None)
        self.assertEqual(dict(AuditAction.objects.filter(user=self.user).values_list("filename", "action")),
                         {"submit_mappings.rmap": "submit file", "submit_references.rmap": "submit file",
                          "create_contexts.rmap": "new context"})
        pending.refresh_from_db()
        self.assertEqual(pending.parameters["submission_kind"], "submit file")
