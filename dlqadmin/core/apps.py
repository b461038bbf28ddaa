from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "dlqadmin.core"
    label = "core"
    verbose_name = "dlqadmin core"
