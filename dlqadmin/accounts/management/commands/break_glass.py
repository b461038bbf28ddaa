from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from dlqadmin.accounts.services import set_break_glass


class Command(BaseCommand):
    help = ("Mark USERNAME as a break-glass account: it may sign in with its password even when "
            "DLQADMIN_PASSWORD_LOGIN is off (audited at each use). --off removes the mark.")

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--reason", default="", help="why this account may bypass single sign-on (required)")
        parser.add_argument("--off", action="store_true", help="remove the break-glass mark")

    def handle(self, username, reason, off, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        try:
            set_break_glass(user, not off, reason=reason)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"{username} is {'no longer' if off else 'now'} a break-glass account.")
