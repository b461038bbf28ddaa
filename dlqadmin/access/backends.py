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
from django.contrib.auth.models import Group, Permission
from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import OuterRef, Q, Subquery, Value
from django.db.models.functions import Concat

from dlqadmin.core.prepared import Prepared

# What apps read about the signed-in user on every request, loaded with the session's user
# in the same query: {attribute: a function giving an expression over users}. The
# session epoch is this app's; others register theirs in AppConfig.ready()
# (accounts/apps.py), before the first request compiles the query.
SESSION_USER_ANNOTATIONS = {}


def _session_user(pk):
    from .models import SessionEpoch

    epoch = SessionEpoch.objects.filter(user_id=OuterRef("pk")).order_by("id").values("epoch")[:1]
    extra = {name: expression() for name, expression in SESSION_USER_ANNOTATIONS.items()}
    return (get_user_model()._default_manager
            .annotate(role_perms=permissions_of("pk"), dlq_epoch=Subquery(epoch), **extra)
            .filter(pk=pk).order_by()[:1])


def loaded(user, name, default=None):
    """An attribute loaded with the session's user (SESSION_USER_ANNOTATIONS), or
    `default` when this user object was loaded otherwise (getattr: request.user is a lazy
    proxy, whose own __dict__ is not the user's)."""
    return getattr(user, name, default)


def forget(user, *names):
    """Drop loaded attributes after writing what they reflect (the next read queries)."""
    for name in names:
        try:
            delattr(user, name)
        except AttributeError:
            pass


# Compiled once per process (the sample is an id no user has).
_USER = Prepared(_session_user, -1_897_345_215)


class RoleBackend(ModelBackend):
    def get_all_permissions(self, user_obj, obj=None):
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            perms = Permission.objects.order_by()
            if not user_obj.is_superuser:
                perms = perms.filter(_held_by(user_obj.pk))
            user_obj._perm_cache = {f"{app}.{codename}"
                                    for app, codename in perms.values_list("content_type__app_label", "codename")}
        return user_obj._perm_cache

    def get_user(self, user_id):
        """The session's user, with their permissions read in the same query."""
        try:
            user = _USER.first(int(user_id))
        except (TypeError, ValueError):
            return None
        if user is None or not self.user_can_authenticate(user):
            return None
        remember_permissions(user, user.role_perms)
        return user


def _held_by(user):
    """Permissions held by `user` (an id or an OuterRef), their own or their groups': two
    `id IN` subqueries on the link tables. (An OR over both many-to-many joins, as
    ModelBackend's managers would write it, took Postgres ~10 ms to plan.)"""
    User = get_user_model()
    own = User.user_permissions.through.objects.filter(user_id=user).values("permission_id")
    via_groups = Group.permissions.through.objects.filter(group__user=user).values("permission_id")
    return Q(id__in=own) | Q(id__in=via_groups)


def permissions_of(user_ref):
    """An expression for a query over users (or rows pointing at one): the 'app.codename'
    permissions the user at `user_ref` holds, their own and their groups'."""
    # Two levels down (link table inside Permission inside the outer query): OuterRef twice.
    rows = (Permission.objects.order_by().filter(_held_by(OuterRef(OuterRef(user_ref))))
            .annotate(perm=Concat("content_type__app_label", Value("."), "codename")).values("perm"))
    return ArraySubquery(rows)


def _object_permissions_query(user_id, content_type_id, object_pk):
    from guardian.models import GroupObjectPermission, UserObjectPermission

    own = UserObjectPermission.objects.filter(user_id=user_id, content_type_id=content_type_id,
                                              object_pk=object_pk).values("permission_id")
    via_groups = GroupObjectPermission.objects.filter(group__user=user_id, content_type_id=content_type_id,
                                                      object_pk=object_pk).values("permission_id")
    return (Permission.objects.order_by().filter(content_type_id=content_type_id)
            .filter(Q(id__in=own) | Q(id__in=via_groups)).values_list("codename", flat=True))


# Samples no row has: a user id and a content type in range of their integer columns.
_OBJECT_PERMISSIONS = Prepared(_object_permissions_query, -1_897_345_219, -1_897_345_220, "prepared:object-pk")


def object_permissions(user, obj):
    """The codenames `user` holds on `obj` through django-guardian, their own and their
    groups' (what guardian's ObjectPermissionChecker reads in two queries), in one
    compiled query; kept on the user object, i.e. for this request only."""
    if not user.is_active:
        return frozenset()
    from django.contrib.contenttypes.models import ContentType

    held = user.__dict__.setdefault("_dlqadmin_object_perms", {})
    key = (obj._meta.label, obj.pk)
    if key not in held:
        content_type = ContentType.objects.get_for_model(obj)  # cached by Django
        held[key] = frozenset(_OBJECT_PERMISSIONS.all(user.pk, content_type.pk, str(obj.pk)))
    return held[key]


def remember_permissions(user, perms):
    """What RoleBackend.get_all_permissions would read, given `perms` from permissions_of()
    in the query that loaded `user` (superusers hold every permission: left to it)."""
    if perms is not None and not user.is_superuser:
        user._perm_cache = set(perms)
