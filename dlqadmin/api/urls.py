from django.urls import path

from dlqadmin.audit import views as audit_views

from dlqadmin.operations import api_views as ops
from dlqadmin.vault import api_views as vault

from . import infra_views, views

app_name = "api"

# Sub-paths carry no trailing slash; queue and task URLs end in '/' so that clients
# resolve sub-resources relative to them.
urlpatterns = [
    path("queues", views.queues, name="queues"),
    path("queues/<queue:queue>/", views.queue, name="queue"),
    path("queues/<queue:queue>/tasks", views.tasks, name="tasks"),
    path("queues/<queue:queue>/failures", views.failures, name="failures"),
    path("queues/<queue:queue>/tasks/<name:task_id>/", views.task, name="task"),
    path("queues/<queue:queue>/tasks/<name:task_id>/reveal", views.reveal, name="reveal"),
    path("queues/<queue:queue>/tasks/<name:task_id>/run", ops.run, name="task_run"),
    path("queues/<queue:queue>/tasks/<name:task_id>/delete", ops.delete, name="task_delete"),
    path("queues/<queue:queue>/tasks/<name:task_id>/archive", ops.archive, name="task_archive"),
    path("queues/<queue:queue>/tasks/<name:task_id>/retry-fresh", ops.retry_fresh, name="task_retry_fresh"),
    path("queues/<queue:queue>/tasks/<name:task_id>/edit", ops.edit, name="task_edit"),
    path("queues/<queue:queue>/tasks/<name:task_id>/cancel", ops.cancel, name="task_cancel"),
    path("queues/<queue:queue>/batch", ops.batch, name="batch"),
    path("queues/<queue:queue>/bulk", ops.bulk, name="bulk"),
    path("queues/<queue:queue>/pause", ops.pause, name="pause"),
    path("queues/<queue:queue>/resume", ops.resume, name="resume"),
    path("operations", ops.operations, name="operations"),
    path("queues/<queue:queue>/vault", vault.vault, name="vault"),
    path("queues/<queue:queue>/vault/bulk", vault.bulk, name="vault_bulk"),
    path("queues/<queue:queue>/vault/<int:pk>/", vault.entry, name="vault_entry"),
    path("queues/<queue:queue>/vault/<int:pk>/run", vault.run, name="vault_run"),
    path("operations/<int:op_id>/", ops.operation, name="operation"),
    path("operations/<int:op_id>/cancel", ops.operation_cancel, name="operation_cancel"),
    path("queues/<queue:queue>/groups", infra_views.groups, name="groups"),
    path("queues/<queue:queue>/history", infra_views.history, name="history"),
    path("servers", infra_views.servers, name="servers"),
    path("scheduler", infra_views.scheduler, name="scheduler"),
    path("scheduler/<name:entry_id>/", infra_views.scheduler_entry, name="scheduler_entry"),
    path("scheduler/<name:entry_id>/events", infra_views.scheduler_events, name="scheduler_events"),
    path("redis", infra_views.redis, name="redis"),
    path("audit", audit_views.api_events, name="audit"),
    path("openapi.json", views.openapi, name="openapi"),
]
