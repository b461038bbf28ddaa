from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from dlqadmin.api.management.commands.create_api_token import _os_user
from dlqadmin.api.models import ApiToken, hash_token
from dlqadmin.audit import actions as audit_actions
from dlqadmin.audit import record


class Command(BaseCommand):
    help = "Revoke an API token, given the token itself or its hint (the first 12 characters)."

    def add_arguments(self, parser):
        parser.add_argument("token_or_hint")

    def handle(self, token_or_hint, **options):
        tokens = ApiToken.objects.filter(key_hash=hash_token(token_or_hint)) | ApiToken.objects.filter(
            hint=token_or_hint[:12], revoked_at__isnull=True)
        tokens = list(tokens.distinct())
        if not tokens:
            raise CommandError("No such active token.")
        if len(tokens) > 1:
            raise CommandError("That hint matches several tokens; pass the whole token.")
        token = tokens[0]
        with transaction.atomic():
            token.revoke()
            record(audit_actions.TOKEN_REVOKE, target=f"token:{token.hint}",
                   detail={"hint": token.hint, "user": token.user.get_username(), "user_id": token.user_id,
                           "via": "manage.py revoke_api_token", "os_user": _os_user()})
        self.stdout.write(f"Revoked token {tokens[0].hint}… of {tokens[0].user}.")
