"""Scopes, expiry, last-used address and the per-token rate-limit counter.

Tokens made before scopes existed keep working, with the scope `operate` and 90 days
to live from this migration:

- `operate`, not `read`: such tokens were made to run the API's actions (retry,
  discard, cancel...) in scripts; `read` would break them. Not `admin`: nothing
  that needs the admin scope (deleting a queue) should keep working through a token
  nobody chose that scope for; an admin re-issues one deliberately. A token still
  never exceeds its user's roles, so for a viewer's token `operate` changes nothing.
- 90 days (the default lifetime of a new token) rather than never: an old token
  becomes an expiring one without breaking anything today.
"""

from datetime import timedelta

import django.db.models.deletion
from django.db import migrations, models

import dlqadmin.core.clock


def existing_tokens(apps, schema_editor):
    ApiToken = apps.get_model("api", "ApiToken")
    ApiToken.objects.filter(expires_at__isnull=True).update(
        expires_at=dlqadmin.core.clock.now() + timedelta(days=90), scope="operate")


class Migration(migrations.Migration):

    dependencies = [
        ('api', '0002_defaults_from_app_clock'),
    ]

    operations = [
        migrations.AddField(
            model_name='apitoken',
            name='scope',
            field=models.CharField(choices=[('read', 'read: GET only'), ('operate', 'operate: actions on queues and tasks'), ('admin', 'admin: everything the user may do, queue deletion included')], default='read', max_length=8),
        ),
        migrations.AddField(
            model_name='apitoken',
            name='expires_at',
            field=models.DateTimeField(null=True),
        ),
        migrations.AddField(
            model_name='apitoken',
            name='last_used_ip',
            field=models.CharField(blank=True, default='', max_length=64),
        ),
        migrations.RunPython(existing_tokens, migrations.RunPython.noop),
        migrations.AlterField(
            model_name='apitoken',
            name='expires_at',
            field=models.DateTimeField(),
        ),
        migrations.CreateModel(
            name='ApiTokenUse',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('window_start', models.BigIntegerField()),
                ('count', models.IntegerField(default=0)),
                ('token', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='uses', to='api.apitoken')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('token', 'window_start'), name='api_token_use_window')],
            },
        ),
    ]
