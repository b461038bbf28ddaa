from django.apps import AppConfig


class OperationsConfig(AppConfig):
    name = "dlqadmin.operations"
    verbose_name = "Triage operations"
    default_auto_field = "django.db.models.BigAutoField"
