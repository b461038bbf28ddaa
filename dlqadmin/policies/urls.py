from django.urls import path

from . import views

app_name = "policies"

urlpatterns = [
    path("", views.policy_list, name="list"),
    path("new/", views.policy_new, name="new"),
    path("preview/", views.policy_preview, name="preview"),
    path("masking/", views.masking_rules, name="masking"),
    path("masking/<int:pk>/", views.masking_rule_edit, name="masking_edit"),
    path("masking/<int:pk>/delete/", views.masking_rule_delete, name="masking_delete"),
    path("channels/", views.channel_list, name="channels"),
    path("channels/<int:pk>/", views.channel_edit, name="channel_edit"),
    path("channels/<int:pk>/test/", views.channel_test, name="channel_test"),
    path("channels/<int:pk>/toggle/", views.channel_toggle, name="channel_toggle"),
    path("channels/<int:pk>/delete/", views.channel_delete, name="channel_delete"),
    path("<slug:name>/", views.policy_edit, name="edit"),
    path("<slug:name>/delete/", views.policy_delete, name="delete"),
    path("<slug:name>/history/", views.policy_history, name="history"),
    path("<slug:name>/history/<int:number>/", views.policy_version, name="version"),
    path("<slug:name>/history/<int:number>/restore/", views.policy_restore, name="restore"),
]
