from django.urls import path

from dlqadmin.audit import views as audit_views

from dlqadmin.operations import api_views as ops
from dlqadmin.vault import api_views as vault

from . import views

app_name = "api"

# Sub-paths carry no trailing slash; queue and task URLs end in '/' so that clients
# resolve sub-resources relative to them.
urlpatterns = [
    path("queues", views.queues, name="queues"),
    path("queues/<name:queue>/", views.queue, name="queue"),
    path("queues/<name:queue>/tasks", views.tasks, name="tasks"),
    path("queues/<name:queue>/failures", views.failures, name="failures"),
    path("queues/<name:queue>/tasks/<name:task_id>/", views.task, name="task"),
    path("queues/<name:queue>/tasks/<name:task_id>/reveal", views.reveal, name="reveal"),
    path("queues/<name:queue>/tasks/<name:task_id>/run", ops.run, name="task_run"),
    path("queues/<name:queue>/tasks/<name:task_id>/delete", ops.delete, name="task_delete"),
    path("queues/<name:queue>/tasks/<name:task_id>/archive", ops.archive, name="task_archive"),
    path("queues/<name:queue>/tasks/<name:task_id>/retry-fresh", ops.retry_fresh, name="task_retry_fresh"),
    path("queues/<name:queue>/tasks/<name:task_id>/edit", ops.edit, name="task_edit"),
    path("queues/<name:queue>/tasks/<name:task_id>/cancel", ops.cancel, name="task_cancel"),
    path("queues/<name:queue>/batch", ops.batch, name="batch"),
    path("queues/<name:queue>/bulk", ops.bulk, name="bulk"),
    path("queues/<name:queue>/pause", ops.pause, name="pause"),
    path("queues/<name:queue>/resume", ops.resume, name="resume"),
    path("queues/<name:queue>/vault", vault.vault, name="vault"),
    path("queues/<name:queue>/vault/bulk", vault.bulk, name="vault_bulk"),
    path("queues/<name:queue>/vault/<int:pk>/", vault.entry, name="vault_entry"),
    path("queues/<name:queue>/vault/<int:pk>/run", vault.run, name="vault_run"),
    path("operations/<int:op_id>/", ops.operation, name="operation"),
    path("operations/<int:op_id>/cancel", ops.operation_cancel, name="operation_cancel"),
    path("audit", audit_views.api_events, name="audit"),
    path("openapi.json", views.openapi, name="openapi"),
]
