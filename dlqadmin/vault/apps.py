from django.apps import AppConfig


class VaultConfig(AppConfig):
    name = "dlqadmin.vault"
    label = "vault"
    verbose_name = "Dead-task vault"
    default_auto_field = "django.db.models.BigAutoField"
