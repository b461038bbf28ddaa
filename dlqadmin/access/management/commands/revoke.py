from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from dlqadmin.access.roles import ROLES
from dlqadmin.access.services import AccessError, revoke


class Command(BaseCommand):
    help = "Take a role from USERNAME: on the --queue NAMEs given, or everywhere when none is given."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("role", choices=list(ROLES))
        parser.add_argument("--queue", action="extend", nargs="+", default=[], dest="queues", metavar="NAME")

    def handle(self, username, role, queues, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        try:
            revoke(user, role, queues=queues)
        except AccessError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Revoked {role} from {username} ({', '.join(queues) if queues else 'everywhere'}).")
