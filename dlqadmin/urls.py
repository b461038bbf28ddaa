from django.contrib import admin
from django.urls import include, path, register_converter

from dlqadmin.accounts import views as accounts_views
from dlqadmin.core import health, metrics
from dlqadmin.core.converters import NameConverter, QueueConverter

register_converter(NameConverter, "name")
register_converter(QueueConverter, "queue")

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics, name="metrics"),
    path("login/", accounts_views.login, name="login"),
    path("login/oidc/", accounts_views.oidc_start, name="oidc_start"),
    path("login/oidc/callback/", accounts_views.oidc_callback, name="oidc_callback"),
    path("logout/", accounts_views.logout, name="logout"),
    path("account/", include("dlqadmin.accounts.urls")),
    path("access/", include("dlqadmin.access.urls")),
    path("audit/", include("dlqadmin.audit.urls")),
    path("policies/", include("dlqadmin.policies.urls")),
    path("alerts/", include("dlqadmin.alerts.urls")),
    path("api/v1/", include("dlqadmin.api.urls")),
    path("admin/", admin.site.urls),
    path("", include("dlqadmin.vault.urls")),
    path("", include("dlqadmin.operations.urls")),
    path("", include("dlqadmin.triage.urls")),
]

# JSON errors under /api/; 503 when Postgres is unreachable (dlqadmin/core/errors.py).
handler400 = "dlqadmin.core.errors.bad_request"
handler403 = "dlqadmin.core.errors.permission_denied"
handler404 = "dlqadmin.core.errors.page_not_found"
handler500 = "dlqadmin.core.errors.server_error"
