"""python manage.py rotate_vault_keys: re-encrypt every vaulted message under the first
key of DLQADMIN_VAULT_KEYS, in chunks (resumable: run it again after an interruption)."""

from django.core.management.base import BaseCommand, CommandError

from dlqadmin.vault import crypto, services


class Command(BaseCommand):
    help = "Re-encrypt vaulted messages under the first DLQADMIN_VAULT_KEYS key."

    def add_arguments(self, parser):
        parser.add_argument("--chunk", type=int, default=500)

    def handle(self, *args, chunk, **options):
        try:
            done, unreadable = services.rotate_keys(chunk=chunk)
        except crypto.Unreadable as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"re-encrypted {done} vaulted messages"
                          + (f"; {unreadable} could not be decrypted with any key (left as they are)"
                             if unreadable else ""))
        if unreadable:
            raise CommandError(f"{unreadable} vaulted messages are unreadable with DLQADMIN_VAULT_KEYS")
