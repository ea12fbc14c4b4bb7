"""The database cache's table (settings.CACHE_TABLE), always: the default cache when no Redis
is configured, where the throttle and failed-login counts of every process meet. Made by
Django's own ``createcachetable`` code, whatever CACHES says today, so switching CACHE_URL off
later finds the table there."""

from django.conf import settings
from django.core.management.commands.createcachetable import Command as CreateCacheTable
from django.db import migrations


def create_table(apps, schema_editor):
    command = CreateCacheTable()
    command.verbosity = 0
    command.create_table(schema_editor.connection.alias, settings.CACHE_TABLE, dry_run=False)


def drop_table(apps, schema_editor):
    schema_editor.execute(
        f"DROP TABLE IF EXISTS {schema_editor.quote_name(settings.CACHE_TABLE)}"
    )


class Migration(migrations.Migration):
    dependencies = []

    operations = [migrations.RunPython(create_table, drop_table, elidable=False)]
