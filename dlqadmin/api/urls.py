from django.urls import path

from dlqadmin.audit import views as audit_views

from . import views

app_name = "api"

# Sub-paths carry no trailing slash; queue and task URLs end in '/' so that clients
# resolve sub-resources relative to them.
urlpatterns = [
    path("queues", views.queues, name="queues"),
    path("queues/<name:queue>/", views.queue, name="queue"),
    path("queues/<name:queue>/tasks", views.tasks, name="tasks"),
    path("queues/<name:queue>/tasks/<name:task_id>/", views.task, name="task"),
    path("queues/<name:queue>/tasks/<name:task_id>/reveal", views.reveal, name="reveal"),
    path("audit", audit_views.api_events, name="audit"),
    path("openapi.json", views.openapi, name="openapi"),
]
