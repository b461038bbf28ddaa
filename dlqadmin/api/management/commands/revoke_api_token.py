from django.core.management.base import BaseCommand, CommandError

from dlqadmin.api import tokens
from dlqadmin.api.management.commands.create_api_token import _os_user
from dlqadmin.api.models import ApiToken, hash_token


class Command(BaseCommand):
    help = "Revoke an API token, given the token itself or its hint (the first 12 characters)."

    def add_arguments(self, parser):
        parser.add_argument("token_or_hint")

    def handle(self, token_or_hint, **options):
        found = ApiToken.objects.filter(key_hash=hash_token(token_or_hint)) | ApiToken.objects.filter(
            hint=token_or_hint[:12], revoked_at__isnull=True)
        found = list(found.select_related("user").distinct())
        if not found:
            raise CommandError("No such active token.")
        if len(found) > 1:
            raise CommandError("That hint matches several tokens; pass the whole token.")
        token = found[0]
        tokens.revoke(token, via="manage.py revoke_api_token", os_user=_os_user())
        self.stdout.write(f"Revoked token {token.hint}… of {token.user}.")
