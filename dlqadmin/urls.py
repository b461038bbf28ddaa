from django.contrib import admin
from django.urls import include, path, register_converter

from dlqadmin.accounts import views as accounts_views
from dlqadmin.core.converters import NameConverter

register_converter(NameConverter, "name")

urlpatterns = [
    path("login/", accounts_views.login, name="login"),
    path("logout/", accounts_views.logout, name="logout"),
    path("account/", include("dlqadmin.accounts.urls")),
    path("access/", include("dlqadmin.access.urls")),
    path("audit/", include("dlqadmin.audit.urls")),
    path("policies/", include("dlqadmin.policies.urls")),
    path("alerts/", include("dlqadmin.alerts.urls")),
    path("api/v1/", include("dlqadmin.api.urls")),
    path("admin/", admin.site.urls),
    path("", include("dlqadmin.operations.urls")),
    path("", include("dlqadmin.triage.urls")),
]
