from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "dlqadmin.access"
    label = "access"
    verbose_name = "Access control"
