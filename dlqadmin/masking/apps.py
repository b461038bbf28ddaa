from django.apps import AppConfig


class MaskingConfig(AppConfig):
    name = "dlqadmin.masking"
    label = "masking"
    verbose_name = "Masking"
    default_auto_field = "django.db.models.BigAutoField"
