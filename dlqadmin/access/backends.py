"""Django's ModelBackend, reading a user's permissions in one query instead of two.

ModelBackend reads the user's own permissions and their groups' in two queries on the
first has_perm() of a request. Roles are groups here, so every request that checks a
permission paid both. This backend reads the union in one query; the answers are
ModelBackend's (tests/access/test_backends.py compares them), cached on the user object
for that request only, as ModelBackend does: a grant or revocation applies on the next
request.
"""

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission
from django.db.models import Q


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
