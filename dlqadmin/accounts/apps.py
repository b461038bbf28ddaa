from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "dlqadmin.accounts"
    label = "accounts"
    verbose_name = "Sign-in, sessions and second factor"

    def ready(self):
        from django.contrib import admin

        from dlqadmin.access.backends import SESSION_USER_ANNOTATIONS

        from . import signals  # noqa: F401
        from .forms import AdminPasswordLoginForm
        from .mfa import has_confirmed_device
        from .selectors import preference_columns

        # Read on every signed-in page: loaded with the session's user, in its query.
        SESSION_USER_ANNOTATIONS.update(preference_columns())
        SESSION_USER_ANNOTATIONS["dlq_has_device"] = has_confirmed_device

        # DLQADMIN_PASSWORD_LOGIN applies to the admin's own sign-in form too.
        admin.site.login_form = AdminPasswordLoginForm
