from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("interactive", "0004_spec_audit_actions"),
    ]

    operations = [
        migrations.AddField(
            model_name="filerecord",
            name="uploaded_sha1sum",
            field=models.CharField(blank=True, default="", max_length=40),
        ),
        migrations.AddIndex(
            model_name="filerecord",
            index=models.Index(fields=["uploaded_sha1sum"], name="interactive_uploade_23a1c3_idx"),
        ),
    ]
