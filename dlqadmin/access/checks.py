"""The ONE place views ask "may this user do X on queue Q?".

Every view that touches a queue resolves it through get_queue_or_404(). A queue the
user may not see is indistinguishable from one that does not exist (404, not 403),
so names of queues leak to nobody.
"""

from django.http import Http404

from dlqadmin.core.asynq_client import inspector

VIEW = "view"


def may_access(user, queue_name, perm=VIEW):
    # Foundation stage: any signed-in, active user may read every queue. Roles and
    # per-queue grants narrow this in one place: here.
    return bool(user and user.is_authenticated and user.is_active)


def visible_queue_names(user, names=None, perm=VIEW):
    """Filter queue names (default: all of asynq's queues) to those the user may see."""
    if names is None:
        names = inspector().queues()
    return [n for n in names if may_access(user, n, perm)]


def get_queue_or_404(user, queue_name, perm=VIEW):
    """Return the queue name if it exists and the user may `perm` it, else raise 404."""
    if not may_access(user, queue_name, perm) or queue_name not in inspector().queues():
        raise Http404("No such queue.")
    return queue_name
