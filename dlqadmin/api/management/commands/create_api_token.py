from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from dlqadmin.api.models import ApiToken


class Command(BaseCommand):
    help = "Create an API token for USERNAME. The token is printed once, as the last line."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="A label to tell tokens apart.")

    def handle(self, username, name, **options):
        User = get_user_model()
        try:
            user = User.objects.get(username=username)
        except User.DoesNotExist:
            raise CommandError(f"No user named {username!r}.") from None
        if not user.is_active:
            raise CommandError(f"User {username!r} is deactivated.")
        token, raw = ApiToken.issue(user, name=name)
        self.stdout.write(f"Created API token {token.hint}… for {username}. Store it now; it is not shown again.")
        self.stdout.write(raw)
