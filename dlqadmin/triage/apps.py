from django.apps import AppConfig


class TriageConfig(AppConfig):
    name = "dlqadmin.triage"
    label = "triage"
    verbose_name = "Queues and dead-letter triage"
