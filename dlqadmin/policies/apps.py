from django.apps import AppConfig


class PoliciesConfig(AppConfig):
    name = "dlqadmin.policies"
    label = "policies"
    verbose_name = "Alert policies"
