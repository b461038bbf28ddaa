from django.core.management.base import BaseCommand

from dlqadmin.access.roles import DESCRIPTIONS, ROLES
from dlqadmin.access.services import bootstrap_roles


class Command(BaseCommand):
    help = "Create (or repair) the role groups: " + ", ".join(ROLES) + ". Safe to run again."

    def handle(self, **options):
        created = bootstrap_roles()
        for role in ROLES:
            mark = "created" if role in created else "ok"
            self.stdout.write(f"{role:<15} {mark:<8} {DESCRIPTIONS[role]}")
