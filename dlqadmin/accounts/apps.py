from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "dlqadmin.accounts"
    label = "accounts"
    verbose_name = "Sign-in, sessions and second factor"

    def ready(self):
        from . import signals  # noqa: F401
