from django.urls import path

from . import views

app_name = "audit"

urlpatterns = [
    path("", views.review, name="review"),
    path("export.csv", views.export_csv, name="export_csv"),
    path("export.json", views.export_json, name="export_json"),
]
