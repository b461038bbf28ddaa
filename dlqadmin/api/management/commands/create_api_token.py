import getpass

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from dlqadmin.api import tokens
from dlqadmin.api.models import DEFAULT_LIFETIME, SCOPES


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
        parser.add_argument("--scope", default="read", choices=SCOPES,
                            help="read: GET only (default); operate: also actions; admin: also admin actions "
                                 "(queue deletion). Never more than the user's roles allow.")
        parser.add_argument("--expires-in", default=f"{DEFAULT_LIFETIME.days}d",
                            help="Lifetime: days (90d, the default; at most 365d) or hours (12h).")

    def handle(self, username, name, scope, expires_in, **options):
        User = get_user_model()
        try:
            user = User.objects.get(username=username)
        except User.DoesNotExist:
            raise CommandError(f"No user named {username!r}.") from None
        try:
            lifetime = tokens.parse_lifetime(expires_in)
            token, raw = tokens.issue(user, scope=scope, lifetime=lifetime, name=name,
                                      via="manage.py create_api_token", os_user=_os_user())
        except tokens.TokenRefused as exc:
            raise CommandError(f"No token made: {exc}.") from None
        self.stdout.write(f"Created {scope} API token {token.hint}… for {username}, valid until "
                          f"{token.expires_at:%Y-%m-%d %H:%M} UTC. Store it now; it is not shown again.")
        self.stdout.write(raw)
