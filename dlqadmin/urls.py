from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, register_converter

from dlqadmin.core.converters import NameConverter

register_converter(NameConverter, "name")

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(template_name="accounts/login.html",
                                                redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/v1/", include("dlqadmin.api.urls")),
    path("admin/", admin.site.urls),
    path("", include("dlqadmin.triage.urls")),
]
