from django.urls import path

from . import views

app_name = "alerts"

urlpatterns = [
    path("", views.current, name="current"),
    path("history/", views.history, name="history"),
    path("queues/<queue:queue>/chart/", views.queue_chart, name="chart"),
]
