from django.urls import path

from . import views

app_name = "vault"

Q = "queues/<queue:queue>/vault/"

urlpatterns = [
    path("vault/orphans/", views.orphans_page, name="orphans"),
    path("vault/orphans/act", views.orphans_action, name="orphans_action"),
    path(Q, views.vault, name="queue"),
    path(Q + "failures", views.failures, name="failures"),
    path(Q + "redrive", views.redrive, name="redrive"),
    path(Q + "purge", views.purge, name="purge"),
    path(Q + "bulk", views.bulk, name="bulk"),
    path(Q + "export.jsonl", views.export_masked, name="export"),
    path(Q + "export-raw.jsonl", views.export_raw, name="export_raw"),
    path(Q + "<int:pk>/", views.entry, name="entry"),
    path(Q + "<int:pk>/reveal", views.reveal, name="reveal"),
    path(Q + "<int:pk>/fields/<str:field>", views.entry_field, name="entry_field"),
]
