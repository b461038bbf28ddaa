"""The admin page: who has which role on which queue, and changing it."""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from . import selectors
from .checks import global_view
from .forms import GrantForm
from .roles import MANAGE_ACCESS, ROLES
from .services import AccessError, end_sessions, grant, revoke, set_active


@global_view(MANAGE_ACCESS)
def users(request):
    form = GrantForm(request.POST or None, queues=selectors.queues())
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
    rows = selectors.users_with_roles()
    return render(request, "access/users.html", {"rows": rows, "form": form, "roles": ROLES},
                  status=400 if form.errors else 200)


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
