"""Vault pages: URL -> access rule -> selector / service -> template. No logic here."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from dlqadmin.access.checks import global_view, has_global, may, queue_view
from dlqadmin.access.roles import MANAGE_ACCESS, OPERATE_QUEUE, REVEAL_QUEUE
from dlqadmin.asynq import RedisUnavailable
from dlqadmin.triage.presenters import field_page
from dlqadmin.triage.services import RevealRefused

from . import export, selectors, services


def _filter(request):
    return selectors.VaultFilter.from_query(request.GET)


def _before(request):
    raw = request.GET.get("before", "")
    if not raw:
        return None
    score, _, pk = raw.partition(":")
    try:
        return float(score), int(pk)
    except ValueError:
        raise selectors.BadFilter("before must look like <score>:<id>") from None


def _entry_or_404(queue, pk):
    e = selectors.entry(queue.name, pk)
    if e is None:
        raise Http404("No such vault entry.")
    return e


@queue_view()
def vault(request, queue):
    error = None
    try:
        f, before = _filter(request), _before(request)
    except selectors.BadFilter as exc:
        error, f, before = str(exc), selectors.VaultFilter.from_query({}), None
    rows, nxt = selectors.page(queue.name, f, before=before)
    total, capped = selectors.count(queue.name, f)
    query = f.to_query()
    context = {
        "queue_name": queue.name, "rows": rows, "next": nxt, "total": total, "capped": capped,
        "filter": f, "query": query, "statuses": selectors.status_counts(queue.name),
        "summary": selectors.summary(queue.name), "error": error,
        "may_operate": may(request.user, OPERATE_QUEUE, queue),
        "may_purge": has_global(request.user, MANAGE_ACCESS),
        "may_reveal": may(request.user, REVEAL_QUEUE, queue),
        "min_reason": settings.DLQADMIN_REVEAL_MIN_REASON,
    }
    return render(request, "vault/queue_vault.html", context, status=400 if error else 200)


@queue_view()
def failures(request, queue):
    return render(request, "vault/_failures.html",
                  {"queue_name": queue.name, "reasons": selectors.top_reasons(queue.name)})


def _entry_context(request, queue, e, *, reveal_error=None):
    reveal = services.active_reveal(request.user, queue, e)
    deaths, timeline = selectors.history(e)
    return {
        "queue_name": queue.name, "entry": e, "task": selectors.present(e, reveal=reveal is not None),
        "reveal": reveal, "reveal_error": reveal_error, "deaths": deaths, "timeline": timeline,
        "may_reveal": may(request.user, REVEAL_QUEUE, queue),
        "may_operate": may(request.user, OPERATE_QUEUE, queue),
        "may_purge": has_global(request.user, MANAGE_ACCESS),
        "reveal_minutes": max(1, settings.DLQADMIN_REVEAL_SECONDS // 60),
        "min_reason": settings.DLQADMIN_REVEAL_MIN_REASON,
        "field_base": reverse("vault:entry", args=[queue.name, e.pk]) + "fields/",
    }


@queue_view()
def entry(request, queue, pk):
    e = _entry_or_404(queue, pk)
    return render(request, "vault/entry.html", _entry_context(request, queue, e))


@require_POST
@queue_view()
def reveal(request, queue, pk):
    e = _entry_or_404(queue, pk)
    try:
        services.reveal(request, queue, e, request.POST.get("reason"), request.POST.get("ticket"))
    except RevealRefused as exc:
        return render(request, "vault/entry.html", _entry_context(request, queue, e, reveal_error=str(exc)),
                      status=exc.status)
    return redirect("vault:entry", queue.name, e.pk)


@queue_view()
def entry_field(request, queue, pk, field):
    """The next chunk of a long value ("Load more"), masked unless revealed."""
    if field not in ("payload", "last_err", "headers", "result"):
        raise Http404()
    e = _entry_or_404(queue, pk)
    try:
        offset = max(0, int(request.GET.get("offset", 0)))
    except ValueError:
        offset = 0
    revealed = services.active_reveal(request.user, queue, e) is not None
    info = selectors.raw_task(e)
    if not hasattr(info, "payload"):
        raise Http404("The vaulted message is unreadable.")
    from dlqadmin.masking.selectors import masker_for

    masker = None if revealed else masker_for(queue.name, info.type)
    value = field_page(info, field, masker, reveal=revealed, offset=offset)
    return render(request, "triage/_sensitive_chunk.html", {
        "value": value, "task": {"queue": queue.name, "id": e.task_id}, "field": field,
        "field_base": reverse("vault:entry", args=[queue.name, e.pk]) + "fields/"})


def _selected(request):
    return [i for i in request.POST.getlist("ids") if i]


@require_POST
@queue_view()
def redrive(request, queue):
    ids = _selected(request)
    back = request.POST.get("back") or reverse("vault:queue", args=[queue.name])
    if not back.startswith("/"):
        back = reverse("vault:queue", args=[queue.name])
    try:
        results = services.redrive(request, queue, ids)
    except services.Denied as exc:
        raise PermissionDenied(str(exc)) from None
    except services.Refused as exc:
        messages.warning(request, str(exc))
        return redirect(back)
    except RedisUnavailable:
        messages.error(request, "Redis is unreachable: nothing was changed. Try again in a moment.")
        return redirect(back)
    done = sum(1 for r in results.values() if r.ok)
    if done:
        messages.success(request, f"{done} redriven into asynq's pending list.")
    for pk, r in results.items():
        if not r.ok:
            messages.warning(request, f"Entry {pk}: {r.message}")
    return redirect(back)


@require_POST
@queue_view()
def purge(request, queue):
    back = reverse("vault:queue", args=[queue.name])
    try:
        n = services.purge(request, queue, _selected(request))
    except services.Denied as exc:
        raise PermissionDenied(str(exc)) from None
    except services.Refused as exc:
        messages.warning(request, str(exc))
        return redirect(back)
    messages.success(request, f"{n} purged from the vault.")
    return redirect(back)


@require_POST
@queue_view()
def bulk(request, queue):
    """Redrive or purge every entry matching the search, as a tracked operation."""
    back = reverse("vault:queue", args=[queue.name])
    try:
        f = selectors.VaultFilter.from_query(request.POST)
        op = services.start_bulk(request, queue, request.POST.get("action", ""), f,
                                 confirm=request.POST.get("confirmed") == "1")
    except selectors.BadFilter as exc:
        messages.warning(request, str(exc))
        return redirect(back)
    except services.Denied as exc:
        raise PermissionDenied(str(exc)) from None
    except services.Refused as exc:
        messages.warning(request, str(exc))
        return redirect(back)
    if op is None:  # not confirmed: show the exact count first
        total, _ = selectors.count(queue.name, f, cap=services.MAX_BULK)
        return render(request, "vault/bulk_confirm.html", {
            "queue_name": queue.name, "action": request.POST.get("action"), "query": f.to_query(),
            "total": total})
    return redirect("operations:detail", op.pk)


def _export(request, queue, *, raw):
    try:
        # A raw export's form carries the export's own reason: only search fields make the filter.
        source = request.GET if not raw else {k: request.POST.get(k) for k in selectors.FILTER_PARAMS}
        f = selectors.VaultFilter.from_query(source)
        lines = export.start(request, queue, f, raw=raw, reason=request.POST.get("reason", "") if raw else "")
    except selectors.BadFilter as exc:
        messages.warning(request, str(exc))
        return redirect("vault:queue", queue.name)
    except services.Denied as exc:
        raise PermissionDenied(str(exc)) from None
    except services.Refused as exc:
        messages.warning(request, str(exc))
        return redirect("vault:queue", queue.name)
    response = StreamingHttpResponse(lines, content_type="application/x-ndjson; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="vault-export.jsonl"'
    return response


@queue_view()
def export_masked(request, queue):
    return _export(request, queue, raw=False)


@require_POST
@queue_view()
def export_raw(request, queue):
    return _export(request, queue, raw=True)


# --- orphaned task hashes (admin) --------------------------------------------------------

@global_view(MANAGE_ACCESS)
def orphans_page(request):
    from dlqadmin.access.checks import visible_queue_names

    from . import orphans

    scans = {s.queue: s for s in orphans.report()}
    rows = [(name, scans.get(name)) for name in visible_queue_names(request.user)]
    return render(request, "vault/orphans.html", {"rows": rows})


@require_POST
@global_view(MANAGE_ACCESS)
def orphans_action(request):
    from dlqadmin.access.checks import get_queue_or_404

    from . import orphans

    queue = get_queue_or_404(request.user, request.POST.get("queue", ""), request=request)
    try:
        op = orphans.start(request, queue, request.POST.get("what", ""))
    except services.Denied as exc:
        raise PermissionDenied(str(exc)) from None
    except services.Refused as exc:
        messages.warning(request, str(exc))
        return redirect("vault:orphans")
    return redirect("operations:detail", op.pk)
