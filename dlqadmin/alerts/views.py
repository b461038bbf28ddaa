"""Current alerts, alert history, and the DLQ-size chart (visible queues only)."""

from django.shortcuts import render

from dlqadmin.access.checks import queue_view, signed_in_view, visible_queue_names

from . import selectors


@signed_in_view
def current(request):
    names = visible_queue_names(request.user)
    return render(request, "alerts/current.html", {"alerts": selectors.current_alerts(names)})


@signed_in_view
def history(request):
    names = visible_queue_names(request.user)
    return render(request, "alerts/history.html", {"events": selectors.alert_history(names)})


@queue_view()
def queue_chart(request, queue):
    # htmx (the queue page's chart section) gets only the chart.
    if request.htmx:
        return render(request, "alerts/chart.html#dlq_chart",
                      {"queue": queue.name, "chart": selectors.chart(queue.name)})
    return render(request, "alerts/chart.html", {
        "queue": queue.name,
        "chart": selectors.chart(queue.name),
        "events": selectors.alert_history([queue.name], queue=queue.name)[:20],
    })
