from django.urls import path

from . import views

app_name = "operations"

T = "queues/<queue:queue>/tasks/<name:task_id>/"

urlpatterns = [
    path(T + "run", views.task_action, {"action": "run"}, name="run"),
    path(T + "delete", views.task_action, {"action": "delete"}, name="delete"),
    path(T + "archive", views.task_action, {"action": "archive"}, name="archive"),
    path(T + "retry-fresh", views.task_action, {"action": "retry-fresh"}, name="retry_fresh"),
    path(T + "cancel", views.cancel_task, name="cancel"),
    path(T + "edit", views.edit, name="edit"),
    path("queues/<queue:queue>/pause", views.queue_action, {"action": "pause"}, name="pause"),
    path("queues/<queue:queue>/resume", views.queue_action, {"action": "resume"}, name="resume"),
    path("queues/<queue:queue>/delete", views.delete_queue, name="delete_queue"),
    path("queues/<queue:queue>/batch", views.batch, name="batch"),
    path("queues/<queue:queue>/bulk", views.bulk, name="bulk"),
    path("operations/", views.operation_list, name="list"),
    path("operations/<int:op_id>/", views.operation, name="detail"),
    path("operations/<int:op_id>/cancel", views.operation_action, {"action": "cancel"}, name="op_cancel"),
    path("operations/<int:op_id>/pause", views.operation_action, {"action": "pause"}, name="op_pause"),
    path("operations/<int:op_id>/resume", views.operation_action, {"action": "resume"}, name="op_resume"),
]
