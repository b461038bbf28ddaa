"""An operation's queue is any bytes: raw bytes + sha256 key + display label."""

import hashlib

from django.db import migrations, models


def fill(apps, schema_editor):
    Operation = apps.get_model("operations", "Operation")
    rows = list(Operation.objects.only("pk", "queue_label"))
    for op in rows:
        # Stored names are valid text without NUL (varchar held them): UTF-8 is asynq's bytes.
        op.queue_raw = op.queue_label.encode("utf-8")
        op.queue_key = hashlib.sha256(op.queue_raw).hexdigest()
    Operation.objects.bulk_update(rows, ["queue_raw", "queue_key"], batch_size=500)


class Migration(migrations.Migration):

    dependencies = [
        ("operations", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(model_name="operation", name="queue", field=models.TextField(default="")),
        migrations.RenameField(model_name="operation", old_name="queue", new_name="queue_label"),
        migrations.AddField(model_name="operation", name="queue_raw", field=models.BinaryField(default=b"")),
        migrations.AddField(model_name="operation", name="queue_key",
                            field=models.CharField(db_index=True, default="", max_length=64)),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
