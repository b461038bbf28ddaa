"""Reveal grants look tasks up by the sha256 of the exact queue / task id bytes."""

from django.db import migrations, models

# Stored values are valid text (Postgres held them): their UTF-8 bytes are asynq's bytes.
_FILL = ("UPDATE triage_revealgrant SET queue_key = encode(sha256(convert_to(queue, 'UTF8')), 'hex'),"
         " task_key = encode(sha256(convert_to(task_id, 'UTF8')), 'hex')")


class Migration(migrations.Migration):

    dependencies = [
        ("triage", "0001_initial"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="revealgrant", name="triage_reve_user_id_5bcfbe_idx"),
        migrations.AddField(model_name="revealgrant", name="queue_key",
                            field=models.CharField(default="", max_length=64)),
        migrations.AddField(model_name="revealgrant", name="task_key",
                            field=models.CharField(default="", max_length=64)),
        migrations.RunSQL(_FILL, migrations.RunSQL.noop),
        migrations.AddIndex(model_name="revealgrant", index=models.Index(
            fields=["user", "queue_key", "task_key", "expires_at"], name="reveal_lookup")),
    ]
