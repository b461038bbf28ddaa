from django.urls import path

from . import views

app_name = "access"

urlpatterns = [
    path("", views.users, name="users"),
    path("new/", views.new_user, name="new_user"),
    path("sso-rules/", views.add_rule, name="add_rule"),
    path("sso-rules/<int:pk>/remove/", views.remove_rule, name="remove_rule"),
    path("<str:username>/revoke/", views.revoke_role, name="revoke"),
    path("<str:username>/end-sessions/", views.end_user_sessions, name="end_sessions"),
    path("<str:username>/toggle-active/", views.toggle_active, name="toggle_active"),
]
