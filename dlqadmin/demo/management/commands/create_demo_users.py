import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from dlqadmin.access.services import bootstrap_roles, grant
from dlqadmin.demo.users import DEMO_USERS



class Command(BaseCommand):
    help = ("Create one demo user per role (per-queue roles on all queues) with a random password, "
            "printed once. Users that exist already keep their password. For demos only.")

    def handle(self, **options):
        bootstrap_roles()
        User = get_user_model()
        for username, role, per_queue in DEMO_USERS:
            user = User.objects.filter(username=username).first()
            if user is None:
                password = secrets.token_urlsafe(12)
                user = User.objects.create_user(username=username, password=password)
                self.stdout.write(f"  {username:<15} {password}   ({role})")
            else:
                self.stdout.write(f"  {username:<15} (exists; password unchanged)   ({role})")
            grant(user, role, all_queues=per_queue)
