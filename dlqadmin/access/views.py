"""The admin page: who has which role on which queue, and changing it."""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from . import selectors
from .checks import global_view
from .forms import CreateUserForm, GrantForm, GroupRuleForm
from .roles import MANAGE_ACCESS, QUEUE_ROLES, ROLES
from .services import (AccessError, add_group_rule, create_user, end_sessions, grant, remove_group_rule, revoke,
                       set_active)


@global_view(MANAGE_ACCESS)
def users(request):
    # ?user= preselects the user just created.
    form = GrantForm(request.POST or None, queues=selectors.queues(), initial={"user": request.GET.get("user", "")})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            grant(data["user"], data["role"], queues=data["queues"], all_queues=data["all_queues"],
                  actor=request.user, request=request)
        except AccessError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Granted {data['role']} to {data['user'].username}.")
            return redirect("access:users")
    return _users_page(request, form=form)


def _users_page(request, *, form=None, rule_form=None, new_form=None):
    queues = selectors.queues()
    form = form or GrantForm(queues=queues)
    rule_form = rule_form or GroupRuleForm(queues=queues)
    new_form = new_form or CreateUserForm()
    return render(request, "access/users.html", {
        "rows": selectors.users_with_roles(), "form": form, "roles": ROLES, "new_form": new_form,
        "rule_form": rule_form, "rules": selectors.group_rules(), "queue_roles": list(QUEUE_ROLES),
    }, status=400 if form.errors or rule_form.errors or new_form.errors else 200)


@require_POST
@global_view(MANAGE_ACCESS)
def new_user(request):
    form = CreateUserForm(request.POST)
    if not form.is_valid():
        return _users_page(request, new_form=form)
    user = create_user(form.cleaned_data["username"], form.cleaned_data["password"],
                       email=form.cleaned_data["email"], actor=request.user, request=request)
    messages.success(request, f"Created {user.username}. Grant a role below: until then they can see nothing.")
    return redirect(f"{reverse('access:users')}?{urlencode({'user': user.username})}#grant")


@require_POST
@global_view(MANAGE_ACCESS)
def add_rule(request):
    form = GroupRuleForm(request.POST, queues=selectors.queues())
    if form.is_valid():
        data = form.cleaned_data
        try:
            add_group_rule(data["group"], data["role"], queues=data["queues"], all_queues=data["all_queues"],
                           actor=request.user, request=request)
        except AccessError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Members of {data['group']} get {data['role']} from their next sign-in.")
            return redirect("access:users")
    return _users_page(request, rule_form=form)


@require_POST
@global_view(MANAGE_ACCESS)
def remove_rule(request, pk):
    try:
        remove_group_rule(pk, actor=request.user, request=request)
    except AccessError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Mapping rule removed; it applies from each member's next sign-in.")
    return redirect("access:users")


def _target(username):
    return get_object_or_404(get_user_model(), username=username)


@require_POST
@global_view(MANAGE_ACCESS)
def revoke_role(request, username):
    user = _target(username)
    role = request.POST.get("role", "")
    queue = request.POST.get("queue") or None
    try:
        revoke(user, role, queues=[queue] if queue else [], actor=request.user, request=request)
    except AccessError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Revoked {role} from {username}{' on ' + queue if queue else ''}.")
    return redirect("access:users")


@require_POST
@global_view(MANAGE_ACCESS)
def end_user_sessions(request, username):
    user = _target(username)
    end_sessions(user, actor=request.user, request=request)
    messages.success(request, f"Ended every session of {username}.")
    return redirect("access:users")


@require_POST
@global_view(MANAGE_ACCESS)
def toggle_active(request, username):
    user = _target(username)
    if user == request.user:
        messages.error(request, "You cannot deactivate your own account.")
    else:
        set_active(user, not user.is_active, actor=request.user, request=request)
        messages.success(request, f"{username} is now {'active' if user.is_active else 'deactivated'}.")
    return redirect("access:users")
