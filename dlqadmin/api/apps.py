from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "dlqadmin.api"
    label = "api"
    verbose_name = "JSON API"
