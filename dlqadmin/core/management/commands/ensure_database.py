import psycopg
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from psycopg import sql


class Command(BaseCommand):
    help = "Create the database named in DATABASE_URL if it does not exist yet."
    # System checks need the database this command is about to create.
    requires_system_checks = []

    def handle(self, **options):
        db = settings.DATABASES["default"]
        params = {k: v for k, v in {
            "host": db.get("HOST") or None, "port": db.get("PORT") or None,
            "user": db.get("USER") or None, "password": db.get("PASSWORD") or None,
        }.items() if v}
        try:
            with psycopg.connect(dbname=db["NAME"], **params):
                return
        except psycopg.OperationalError as exc:
            if "does not exist" not in str(exc):
                raise CommandError(f"Cannot reach Postgres: {exc}") from None
        try:
            with psycopg.connect(dbname="postgres", autocommit=True, **params) as conn:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db["NAME"])))
        except psycopg.Error as exc:
            raise CommandError(f"Could not create database {db['NAME']!r}: {exc}") from None
        self.stdout.write(f"Created database {db['NAME']!r}.")
