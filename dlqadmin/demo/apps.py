from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "dlqadmin.demo"
    label = "demo"
    verbose_name = "Demo data"
