"""Queue names of any length and bytes: text display form + sha256 key for identity."""

from django.db import migrations, models

# The stored names are valid text (Postgres held them): their UTF-8 bytes are asynq's
# bytes, so the key is computed in SQL, in one pass per table, however many samples.
_FILL = "UPDATE {table} SET queue_key = encode(sha256(convert_to(queue, 'UTF8')), 'hex') WHERE queue_key IS NULL"
TABLES = ("alerts_queuesample", "alerts_alertstate", "alerts_alertevent")


class Migration(migrations.Migration):

    dependencies = [
        ("alerts", "0001_initial"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="alertstate", name="alert_state_unique"),
        migrations.RemoveIndex(model_name="alertevent", name="alerts_aler_queue_b542f7_idx"),
        migrations.RemoveIndex(model_name="queuesample", name="alerts_queu_queue_b52155_idx"),
        *[migrations.AddField(model_name=m, name="queue_key", field=models.CharField(max_length=64, null=True))
          for m in ("alertevent", "alertstate", "queuesample")],
        migrations.RunSQL([_FILL.format(table=t) for t in TABLES], migrations.RunSQL.noop),
        *[migrations.AlterField(model_name=m, name="queue_key", field=models.CharField(max_length=64))
          for m in ("alertevent", "alertstate", "queuesample")],
        *[migrations.AlterField(model_name=m, name="queue", field=models.TextField())
          for m in ("alertevent", "alertstate", "queuesample")],
        migrations.AddIndex(model_name="alertevent",
                            index=models.Index(fields=["queue_key", "at"], name="alerts_aler_queue_k_f8e928_idx")),
        migrations.AddIndex(model_name="queuesample",
                            index=models.Index(fields=["queue_key", "at"], name="alerts_queu_queue_k_c92ad0_idx")),
        migrations.AddConstraint(model_name="alertstate", constraint=models.UniqueConstraint(
            fields=("policy_name", "queue_key", "rule"), name="alert_state_unique")),
    ]
