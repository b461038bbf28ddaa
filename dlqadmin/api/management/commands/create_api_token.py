import getpass

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from dlqadmin.api.models import ApiToken
from dlqadmin.audit import actions as audit_actions
from dlqadmin.audit import record


def _os_user():
    try:
        return getpass.getuser()
    except Exception:  # no login name in this environment (e.g. a bare container)
        return ""


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
        with transaction.atomic():  # no token without its audit record
            token, raw = ApiToken.issue(user, name=name)
            # The hint only: the token itself is never written anywhere.
            record(audit_actions.TOKEN_CREATE, target=f"token:{token.hint}",
                   detail={"hint": token.hint, "label": name, "user": username, "user_id": user.pk,
                           "via": "manage.py create_api_token", "os_user": _os_user()})
        self.stdout.write(f"Created API token {token.hint}… for {username}. Store it now; it is not shown again.")
        self.stdout.write(raw)
