"""Audit rows and pending results written with kind names outside §2.2 get the spec's names.

Earlier versions recorded `submit mappings` and `submit references` (now `submit file`) and
`create contexts` (now `new context`), which Recent Activity could not filter on.
"""

from django.db import migrations

RENAMED = {"submit mappings": "submit file", "submit references": "submit file", "create contexts": "new context"}


def rename_kinds(apps, schema_editor):
    AuditAction = apps.get_model("interactive", "AuditAction")
    StoredResult = apps.get_model("interactive", "StoredResult")
    for old, new in RENAMED.items():
        AuditAction.objects.filter(action=old).update(action=new)
    for result in StoredResult.objects.filter(parameters__submission_kind__in=list(RENAMED)):
        result.parameters["submission_kind"] = RENAMED[result.parameters["submission_kind"]]
        result.save(update_fields=["parameters"])


class Migration(migrations.Migration):
    dependencies = [
        ("interactive", "0003_redcat_submission"),
    ]

    operations = [
        migrations.RunPython(rename_kinds, migrations.RunPython.noop),
    ]
