from django.db import migrations, models


def mark_batches(apps, schema_editor):
    """Rows of selected-task batches (the only ones without an audit intent on the row)
    become kind "batch"; one left running by a failed request is ended as failed, so no
    worker ever takes it for a bulk operation."""
    Operation = apps.get_model("operations", "Operation")
    Operation.objects.filter(intent_seq__isnull=True).update(kind="batch")
    Operation.objects.filter(kind="batch", status__in=["queued", "running", "paused"]).update(
        status="failed", last_error="The request carrying out this batch ended before it finished.")


class Migration(migrations.Migration):

    dependencies = [
        ("operations", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="operation",
            name="kind",
            field=models.CharField(choices=[("bulk", "bulk"), ("batch", "batch")], default="bulk", max_length=8),
        ),
        migrations.RunPython(mark_batches, migrations.RunPython.noop),
    ]
