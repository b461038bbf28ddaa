import os

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from dlqadmin.access.roles import QUEUE_ROLES, ROLES
from dlqadmin.access.services import AccessError, bootstrap_roles, grant


class Command(BaseCommand):
    help = ("Give USERNAME a role: per-queue roles need --queue NAME (repeatable) or --all-queues. "
            "With --create the user is created, its password taken from env DLQADMIN_PASSWORD.")

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("role", choices=list(ROLES))
        parser.add_argument("--queue", action="extend", nargs="+", default=[], dest="queues", metavar="NAME")
        parser.add_argument("--all-queues", action="store_true")
        parser.add_argument("--create", action="store_true", help="create the user if it does not exist")

    def handle(self, username, role, queues, all_queues, create, **options):
        if queues and all_queues:
            raise CommandError("Give either --queue or --all-queues, not both.")
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        if user is None:
            if not create:
                raise CommandError(f"No user named {username!r} (add --create to create it).")
            password = os.environ.get("DLQADMIN_PASSWORD")
            if not password:
                raise CommandError("--create needs the new user's password in env DLQADMIN_PASSWORD.")
            user = User.objects.create_user(username=username, password=password)
            self.stdout.write(f"Created user {username}.")
        bootstrap_roles()
        try:
            grant(user, role, queues=queues, all_queues=all_queues)
        except AccessError as exc:
            raise CommandError(str(exc)) from None
        where = "all queues" if all_queues else ", ".join(queues) if queues else "global"
        if role not in QUEUE_ROLES:
            where = "global"
        self.stdout.write(f"Granted {role} to {username} ({where}).")
