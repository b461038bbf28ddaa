"""Policy editor, history, preview and channels (policy_admin / admin only)."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from dlqadmin.access.checks import global_view
from dlqadmin.access.roles import MANAGE_POLICIES
from dlqadmin.alerts import selectors as alert_selectors
from dlqadmin.masking import selectors as masking_selectors
from dlqadmin.masking import services as masking_services
from dlqadmin.masking.engine import Masker, RuleError
from dlqadmin.masking.models import MaskingRule

from . import selectors, services
from .forms import ChannelForm, MaskingRuleForm, PolicyForm
from .models import Channel


def _apply_errors(form, exc):
    for field, msgs in getattr(exc, "message_dict", {"__all__": exc.messages}).items():
        form.add_error(None if field not in form.fields else field, msgs)


@global_view(MANAGE_POLICIES)
def policy_list(request):
    rows = alert_selectors.policy_rows()
    return render(request, "policies/list.html", {"rows": rows})


def _edit(request, policy):
    creating = policy is None
    if request.method == "POST":
        form = PolicyForm(request.POST)
        if form.is_valid():
            try:
                saved, changed = services.save_policy(form.policy_data(), request=request, policy=policy,
                                                      comment=form.cleaned_data["comment"])
            except ValidationError as exc:
                _apply_errors(form, exc)
            else:
                messages.success(request, f"Saved policy {saved.name}." if changed else "No changes.")
                return redirect("policies:edit", name=saved.name)
    else:
        initial = services.policy_to_dict(policy or selectors.builtin_default())
        if creating:
            initial.update(name="", pattern="")
        form = PolicyForm(initial=initial)
    return render(request, "policies/edit.html", {"form": form, "sections": form.sections(), "policy": policy,
                                                  "creating": creating},
                  status=400 if form.errors else 200)


@global_view(MANAGE_POLICIES)
def policy_new(request):
    return _edit(request, None)


@global_view(MANAGE_POLICIES)
def policy_edit(request, name):
    policy = selectors.get_policy(name)
    if policy is None:
        raise Http404("No such policy.")
    return _edit(request, policy)


@global_view(MANAGE_POLICIES)
def policy_preview(request):
    """Read-only: which queues the pattern in the form matches now, and what would fire."""
    preview = alert_selectors.preview(request.GET)
    return render(request, "policies/_preview.html", {"preview": preview})


@global_view(MANAGE_POLICIES)
def policy_history(request, name):
    policy = selectors.get_policy(name)
    if policy is None:
        raise Http404("No such policy.")
    return render(request, "policies/history.html", {"policy": policy, "versions": selectors.versions(policy)})


@global_view(MANAGE_POLICIES)
def policy_version(request, name, number):
    version, previous = selectors.version_with_previous(name, number)
    changes = services.diff(previous.data if previous else None, version.data)
    return render(request, "policies/version.html", {"version": version, "previous": previous, "changes": changes})


@require_POST
@global_view(MANAGE_POLICIES)
def policy_restore(request, name, number):
    version, _ = selectors.version_with_previous(name, number)
    try:
        _, changed = services.restore_version(version.policy, number, request=request)
    except ValidationError as exc:
        messages.error(request, "Cannot restore: " + " ".join(exc.messages))
    else:
        messages.success(request, f"Restored version {number}." if changed else "That version is the current one.")
    return redirect("policies:history", name=name)


@require_POST
@global_view(MANAGE_POLICIES)
def policy_delete(request, name):
    policy = selectors.get_policy(name)
    if policy is None or policy.pk is None:
        raise Http404("No such policy.")
    try:
        services.delete_policy(policy, request=request)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("policies:edit", name=name)
    messages.success(request, f"Deleted policy {name}.")
    return redirect("policies:list")


# --- Channels -----------------------------------------------------------------------

@global_view(MANAGE_POLICIES)
def channel_list(request):
    form = ChannelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.save_channel(request=request, **form.cleaned_data)
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, f"Added channel {form.cleaned_data['name']}.")
            return redirect("policies:channels")
    rows = [(c, services.channel_display(c)) for c in selectors.channel_list()]
    return render(request, "policies/channels.html", {"rows": rows, "form": form},
                  status=400 if form.errors else 200)


@global_view(MANAGE_POLICIES)
def channel_edit(request, pk):
    channel = get_object_or_404(Channel, pk=pk)
    if channel.system:
        raise Http404("Environment channels are not edited here.")
    form = ChannelForm(request.POST or None, initial={"name": channel.name, "kind": channel.kind})
    if request.method == "POST" and form.is_valid():
        try:
            services.save_channel(channel=channel, request=request, **form.cleaned_data)
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, f"Saved channel {channel.name}.")
            return redirect("policies:channels")
    return render(request, "policies/channel_edit.html",
                  {"form": form, "channel": channel, "display": services.channel_display(channel)},
                  status=400 if form.errors else 200)


@require_POST
@global_view(MANAGE_POLICIES)
def channel_test(request, pk):
    from dlqadmin.alerts.services import send_test_notification

    channel = get_object_or_404(Channel, pk=pk)
    state, error = send_test_notification(channel, request=request)
    if state == "sent":
        messages.success(request, f"Test notification sent to {channel.name}.")
    else:
        messages.error(request, f"Test notification to {channel.name}: {state} ({error}).")
    return redirect("policies:channels")


@require_POST
@global_view(MANAGE_POLICIES)
def channel_toggle(request, pk):
    channel = get_object_or_404(Channel, pk=pk)
    services.set_channel_enabled(channel, not channel.enabled, request=request)
    messages.success(request, f"Channel {channel.name} is now {'enabled' if channel.enabled else 'disabled'}.")
    return redirect("policies:channels")


@require_POST
@global_view(MANAGE_POLICIES)
def channel_delete(request, pk):
    channel = get_object_or_404(Channel, pk=pk)
    try:
        services.delete_channel(channel, request=request)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Deleted channel {channel.name}.")
    return redirect("policies:channels")


# --- Masking rules (the masking part of a policy) ----------------------------------

def _sample_preview(form):
    """The sample payload masked with the built-in rules plus the rule being edited."""
    sample = form.cleaned_data.get("sample") if form.is_bound and hasattr(form, "cleaned_data") else ""
    if not sample:
        return None
    try:
        extra = (form.instance.to_rule(),)
    except RuleError:
        extra = ()
    value = Masker.for_rules(extra).mask_payload(sample.encode("utf-8"), limit=16 * 1024)
    return value.text if value else None


def _masking_rule_page(request, rule=None):
    form = MaskingRuleForm(request.POST or None, instance=rule)
    preview = None
    if request.method == "POST" and form.is_valid():
        if request.POST.get("action") == "preview":
            preview = _sample_preview(form)
        else:
            try:
                saved = masking_services.save_rule(form.cleaned_data, rule=rule, request=request)
            except ValidationError as exc:
                _apply_errors(form, exc)
            else:
                messages.success(request, f"Saved masking rule {saved}.")
                return redirect("policies:masking")
    return render(request, "policies/masking.html", {"form": form, "rule": rule, "rules": masking_selectors.all_rules(),
                                                     "preview": preview},
                  status=400 if form.errors else 200)


@global_view(MANAGE_POLICIES)
def masking_rules(request):
    return _masking_rule_page(request)


@global_view(MANAGE_POLICIES)
def masking_rule_edit(request, pk):
    return _masking_rule_page(request, get_object_or_404(MaskingRule, pk=pk))


@require_POST
@global_view(MANAGE_POLICIES)
def masking_rule_delete(request, pk):
    rule = get_object_or_404(MaskingRule, pk=pk)
    masking_services.delete_rule(rule, request=request)
    messages.success(request, "Deleted the masking rule.")
    return redirect("policies:masking")
