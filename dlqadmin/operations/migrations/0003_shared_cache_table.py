"""The table of the shared Django cache (settings.CACHES, a DatabaseCache): made here so
that `migrate` is all a deployment runs. createcachetable skips a table that exists."""

from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps, schema_editor):
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("operations", "0002_operation_chunks")]

    operations = [migrations.RunPython(create_cache_table, migrations.RunPython.noop)]
