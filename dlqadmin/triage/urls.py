from django.urls import path

from . import search_views, views

app_name = "triage"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("queues/<queue:queue>/", views.queue_detail, name="queue"),
    path("queues/<queue:queue>/tasks/<name:task_id>/", views.task_detail, name="task"),
    path("queues/<queue:queue>/tasks/<name:task_id>/reveal", views.reveal, name="reveal"),
    path("queues/<queue:queue>/tasks/<name:task_id>/fields/<str:field>", views.task_field, name="task_field"),
    path("queues/<queue:queue>/search", search_views.search, name="search"),
    path("queues/<queue:queue>/failures", search_views.failures, name="failures"),
    path("servers/", views.servers, name="servers"),
    path("scheduler/", views.scheduler, name="scheduler"),
    path("scheduler/<name:entry_id>/", views.scheduler_entry, name="scheduler_entry"),
]
