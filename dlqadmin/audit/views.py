"""Audit review: the page, its streamed exports, and GET /api/v1/audit. Auditors and
admins only (global permission view_audit). Exports are themselves audited."""

from urllib.parse import urlencode

from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import render

from dlqadmin.core import clock
from dlqadmin.access.checks import global_view
from dlqadmin.access.roles import VIEW_AUDIT
from dlqadmin.api.auth import api_view, error, json_forbidden

from . import actions, export, selectors
from .models import OUTCOMES
from .selectors import BadFilter
from .services import record


def _request_args(request, *, limit_default=selectors.PAGE_SIZE):
    data = request.GET
    if data.get("before") and data.get("after"):
        raise BadFilter("Give either before or after, not both.")
    return (selectors.parse_filters(data), selectors.parse_cursor(data, "before"),
            selectors.parse_cursor(data, "after"), selectors.parse_limit(data, default=limit_default))


@global_view(VIEW_AUDIT)
def review(request):
    error_text = None
    try:
        filters, before, after, _ = _request_args(request)
        result = selectors.page(filters, before=before, after=after)
    except BadFilter as exc:
        error_text = str(exc)
        filters, result = selectors.Filters(), selectors.Page([], None, None)
    context = {
        "page": result,
        "filters": filters,
        "form": {key: request.GET.get(key, "") for key in selectors.FILTER_KEYS},
        "filter_query": urlencode(filters.params),
        "outcomes": OUTCOMES,
        "entries": selectors.entries(result.events),
        "known_actions": sorted(set(actions.KNOWN) | set(selectors.action_names())),
        "error": error_text,
    }
    template = "audit/review.html"
    if request.htmx and not request.htmx.boosted:
        template += "#results"
    # htmx swaps only 2xx answers (see base.html), so a fragment shows its error with 200.
    status = 400 if error_text and template == "audit/review.html" else 200
    return render(request, template, context, status=status)


def _export(request, fmt):
    try:
        filters = selectors.parse_filters(request.GET)
    except BadFilter as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain; charset=utf-8")
    # Recorded before the first byte leaves (fail closed); the export covers the log up
    # to and including this very event.
    event = record(actions.EXPORT, request=request, detail={"format": fmt, "filters": filters.params})
    if fmt == "csv":
        response = StreamingHttpResponse(export.csv_stream(filters, event.seq), content_type="text/csv; charset=utf-8")
    else:
        response = StreamingHttpResponse(export.json_stream(filters, event.seq),
                                         content_type="application/json; charset=utf-8")
    stamp = clock.now().strftime("%Y%m%dT%H%M%SZ")
    response["Content-Disposition"] = f'attachment; filename="audit-{stamp}-upto-{event.seq}.{fmt}"'
    response["Cache-Control"] = "no-store"
    return response


@global_view(VIEW_AUDIT)
def export_csv(request):
    return _export(request, "csv")


@global_view(VIEW_AUDIT)
def export_json(request):
    return _export(request, "json")


@api_view()
@json_forbidden("Reading the audit log needs the auditor or admin role.")
@global_view(VIEW_AUDIT)
def api_events(request):
    try:
        filters, before, after, limit = _request_args(request)
    except BadFilter as exc:
        return error(400, "bad_parameter", str(exc))
    result = selectors.page(filters, before=before, after=after, limit=limit)

    def link(**cursor):
        query = urlencode({**filters.params, **cursor, "limit": limit})
        return request.build_absolute_uri(f"{request.path}?{query}")

    return JsonResponse({
        "events": [export.event_dict(e) for e in result.events],
        "next": link(before=result.older) if result.older else None,
        "newer": link(after=result.newer) if result.newer else None,
    })
