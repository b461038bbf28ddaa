from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "dlqadmin.accounts"
    label = "accounts"
    verbose_name = "Sign-in, sessions and second factor"

    def ready(self):
        from django.contrib import admin

        from . import signals  # noqa: F401
        from .forms import AdminPasswordLoginForm

        # DLQADMIN_PASSWORD_LOGIN applies to the admin's own sign-in form too.
        admin.site.login_form = AdminPasswordLoginForm
