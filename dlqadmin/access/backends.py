"""Django's ModelBackend, reading a user's permissions in one query instead of two.

ModelBackend reads the user's own permissions and their groups' in two queries on the
first has_perm() of a request. Roles are groups here, so every request that checks a
permission paid both. This backend reads the union in one query, or none at all when
the user was loaded with `permissions_of()` (a session's user in `get_user`, an API
token's user); the answers are
ModelBackend's (tests/access/test_backends.py compares them), cached on the user object
for that request only, as ModelBackend does: a grant or revocation applies on the next
request.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission
from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import OuterRef, Q, Value
from django.db.models.functions import Concat


class RoleBackend(ModelBackend):
    def get_all_permissions(self, user_obj, obj=None):
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            perms = Permission.objects.all()
            if not user_obj.is_superuser:
                perms = perms.filter(Q(user=user_obj) | Q(group__user=user_obj))
            user_obj._perm_cache = {
                f"{app}.{codename}"
                for app, codename in perms.values_list("content_type__app_label", "codename").distinct()
            }
        return user_obj._perm_cache

    def get_user(self, user_id):
        """The session's user, with their permissions read in the same query."""
        user = (get_user_model()._default_manager.annotate(role_perms=permissions_of("pk"))
                .filter(pk=user_id).first())
        if user is None or not self.user_can_authenticate(user):
            return None
        remember_permissions(user, user.role_perms)
        return user


def permissions_of(user_ref):
    """An expression for a query over users (or rows pointing at one): the 'app.codename'
    permissions the user at `user_ref` holds, their own and their groups'."""
    ref = OuterRef(user_ref)
    rows = (Permission.objects.filter(Q(user=ref) | Q(group__user=ref))
            .annotate(perm=Concat("content_type__app_label", Value("."), "codename")).values("perm").distinct())
    return ArraySubquery(rows)


def remember_permissions(user, perms):
    """What RoleBackend.get_all_permissions would read, given `perms` from permissions_of()
    in the query that loaded `user` (superusers hold every permission: left to it)."""
    if perms is not None and not user.is_superuser:
        user._perm_cache = set(perms)
