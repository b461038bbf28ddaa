"""Task ids of operations are any bytes: the per-id rows hold bytea, the id list odd ids as base64."""

from django.db import migrations

import dlqadmin.core.fields


class Migration(migrations.Migration):

    dependencies = [
        ("operations", "0002_queue_raw"),
    ]

    operations = [
        migrations.AlterField(model_name="operation", name="ids",
                              field=dlqadmin.core.fields.NameListField(blank=True, null=True)),
        # text -> bytea by the UTF-8 bytes (a plain ::bytea cast would read backslashes as escapes).
        migrations.RunSQL(
            "ALTER TABLE operations_operationitem ALTER COLUMN task_id TYPE bytea USING convert_to(task_id, 'UTF8')",
            "ALTER TABLE operations_operationitem ALTER COLUMN task_id TYPE varchar(500)"
            " USING convert_from(task_id, 'UTF8')",
            state_operations=[migrations.AlterField(model_name="operationitem", name="task_id",
                                                    field=dlqadmin.core.fields.NameField())],
        ),
    ]
