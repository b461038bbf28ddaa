"""The ONE place views ask "may this user do X on queue Q?".

Every view declares its access rule with one of the decorators below; a test walks
every URL pattern and fails if a view has none. A queue the user may not see is
indistinguishable from one that does not exist (404, not 403), so queue names leak
to nobody. Permissions are read from the database on every request, so a grant,
revocation or deactivation takes effect on the user's next request.
"""

from dataclasses import dataclass
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404
from guardian.shortcuts import get_objects_for_user

from dlqadmin.core.asynq_client import inspector

from dlqadmin.core import names as qnames

from . import registry
from .backends import object_permissions
from .models import Queue
from .roles import GLOBAL_PERMISSION_CODENAMES, VIEW_QUEUE, perm_name


def _signed_in(user):
    return bool(user and user.is_authenticated and user.is_active)


def may(user, codename, queue):
    """True if `user` holds queue permission `codename` on `queue` (or on every queue)."""
    if not _signed_in(user):
        return False
    # Object permissions as django-guardian grants them, read in one query per request
    # and queue however many checks a page makes (backends.object_permissions).
    return user.has_perm(perm_name(codename)) or codename in object_permissions(user, queue)


def has_global(user, codename):
    return _signed_in(user) and user.has_perm(perm_name(codename))


def visible_queue_names(user, codename=VIEW_QUEUE):
    """Names of asynq's current queues that `user` may `codename`, sorted."""
    if not _signed_in(user):
        return []
    names = registry.sync(inspector().queues())
    if user.has_perm(perm_name(codename)):
        return sorted(names)
    by_key = {qnames.key(n): n for n in names}
    allowed = get_objects_for_user(user, perm_name(codename), klass=Queue.objects.filter(key__in=list(by_key)),
                                   accept_global_perms=False)
    return sorted(by_key[k] for k in allowed.values_list("key", flat=True))


@dataclass(frozen=True)
class NameScope:
    """Which queue names a user may read where asynq names queues outside its
    `asynq:queues` set (a server's queue list, scheduler entries): a queue a server
    serves has no keys until its first task, yet its name is there.

    Users with an all-queues grant or a global role read every name; others read the
    names of queues granted to them and only a count of the rest."""

    every_name: bool
    every_queue: bool  # may view every queue's tasks (an all-queues grant or admin)
    granted: frozenset

    def shows(self, name):
        return self.every_name or name in self.granted

    def may_view(self, name):
        """May see this queue's tasks (worker rows, links), not only its name."""
        return self.every_queue or name in self.granted

    def split(self, names):
        """(the names this user may read, in the given order; how many others)."""
        shown = [n for n in names if self.shows(n)]
        return shown, len(names) - len(shown)


def queue_name_scope(user, codename=VIEW_QUEUE):
    if not _signed_in(user):
        return NameScope(False, False, frozenset())
    every_queue = user.has_perm(perm_name(codename))
    every_name = every_queue or any(user.has_perm(perm_name(c)) for c in GLOBAL_PERMISSION_CODENAMES)
    granted = frozenset() if every_queue else frozenset(
        q.name for q in get_objects_for_user(user, perm_name(codename), klass=Queue, accept_global_perms=False))
    return NameScope(every_name, every_queue, granted)


def _record_denied(request, user, codename, *, queue=""):
    """Audit a refused attempt (fail closed: if it cannot be written, the request fails)."""
    from dlqadmin.audit import record
    from dlqadmin.audit.actions import DENIED

    detail = {"permission": codename}
    if request is not None:
        detail.update(method=request.method, path=request.path[:500])
    record(DENIED, request=request, actor=user, queue=queue, outcome="denied",
           message="queue not visible to this user" if queue else "role lacks this permission", detail=detail)


def get_queue_or_404(user, name, codename=VIEW_QUEUE, *, request=None):
    """The registry Queue if asynq has it and `user` may `codename` it; else 404.

    A queue that exists but is not the user's answers 404 all the same, and the
    attempt is audited (outcome "denied"); a queue that does not exist is not."""
    if not _signed_in(user):
        raise Http404("No such queue.")
    queue = registry.find(name)
    if queue is None:
        if name not in inspector().queues():
            raise Http404("No such queue.")
        queue = registry.ensure(name)
    if not may(user, codename, queue):
        _record_denied(request, user, codename, queue=queue.name)
        raise Http404("No such queue.")
    return queue


# --- The access rule every view declares ---------------------------------------

def _login_redirect(request):
    return redirect_to_login(request.get_full_path())


def queue_view(codename=VIEW_QUEUE):
    """The view takes `queue` (a name) from the URL and receives the checked Queue."""

    def decorate(view):
        @wraps(view)
        def wrapper(request, queue, *args, **kwargs):
            if not request.user.is_authenticated:
                return _login_redirect(request)
            return view(request, get_queue_or_404(request.user, queue, codename, request=request), *args, **kwargs)

        wrapper.access_rule = ("queue", codename)
        return wrapper

    return decorate


def global_view(codename):
    """The view needs a global permission (auditor, policy admin, admin pages)."""

    def decorate(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return _login_redirect(request)
            if not has_global(request.user, codename):
                _record_denied(request, request.user, codename)
                raise PermissionDenied("You do not have the role this page needs.")
            return view(request, *args, **kwargs)

        wrapper.access_rule = ("global", codename)
        return wrapper

    return decorate


def signed_in_view(view):
    """Any signed-in user; the view itself shows only what visible_queue_names() allows."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return _login_redirect(request)
        if not _signed_in(request.user):
            raise Http404()
        return view(request, *args, **kwargs)

    wrapper.access_rule = ("signed_in", None)
    return wrapper


def public_view(view):
    """No sign-in needed (login page, health checks, API schema). Says so explicitly."""
    view.access_rule = ("public", None)
    return view


def holds_queue_grants(user, codename=VIEW_QUEUE):
    """Whether any queue is granted to `user` (so an empty list means asynq has no queue
    yet, not that nothing was granted)."""
    scope = queue_name_scope(user, codename)
    return scope.every_queue or bool(scope.granted)
