"""Queue names become raw bytes + sha256 key + display label (any bytes asynq holds)."""

import hashlib

from django.db import migrations, models


def fill(apps, schema_editor):
    Queue = apps.get_model("access", "Queue")
    rows = list(Queue.objects.only("pk", "name"))
    for q in rows:
        # Every stored name is valid text without NUL (Postgres held it): its UTF-8 bytes
        # are the bytes asynq holds.
        q.raw = q.name.encode("utf-8")
        q.key = hashlib.sha256(q.raw).hexdigest()
    Queue.objects.bulk_update(rows, ["raw", "key"], batch_size=500)


class Migration(migrations.Migration):

    dependencies = [
        ("access", "0002_defaults_from_app_clock"),
    ]

    operations = [
        migrations.AddField(model_name="queue", name="raw", field=models.BinaryField(null=True)),
        migrations.AddField(model_name="queue", name="key", field=models.CharField(max_length=64, null=True)),
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.AlterField(model_name="queue", name="raw", field=models.BinaryField()),
        migrations.AlterField(model_name="queue", name="key", field=models.CharField(max_length=64, unique=True)),
        migrations.AlterField(model_name="queue", name="name", field=models.TextField()),
        migrations.RenameField(model_name="queue", old_name="name", new_name="label"),
        migrations.AlterModelOptions(
            name="queue",
            options={"default_permissions": ("view",), "ordering": ["label", "key"],
                     "permissions": [("operate_queue", "Retry, discard, archive, pause/resume and cancel tasks"),
                                     ("reveal_queue", "Reveal raw payloads and error messages")]},
        ),
        migrations.AlterModelOptions(
            name="queuegrant",
            options={"default_permissions": (), "ordering": ["user__username", "queue__label", "role"],
                     "permissions": [("manage_policies", "Edit policies, masking rules and notification channels"),
                                     ("view_audit", "Read and export the audit log"),
                                     ("manage_access", "Manage users, roles and grants")]},
        ),
    ]
