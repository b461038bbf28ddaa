"""The six roles and the permissions each one carries.

Per-queue roles grant queue permissions either on chosen queues (django-guardian
object permissions, derived from QueueGrant rows) or on every queue (membership of
the role's group, which carries the same permissions globally). Global roles are
group memberships only.
"""

VIEWER = "viewer"
OPERATOR = "operator"
PAYLOAD_VIEWER = "payload_viewer"
POLICY_ADMIN = "policy_admin"
AUDITOR = "auditor"
ADMIN = "admin"

# Queue permissions (codenames on access.Queue).
VIEW_QUEUE = "view_queue"
OPERATE_QUEUE = "operate_queue"
REVEAL_QUEUE = "reveal_queue"

# Global permissions (codenames on access.QueueGrant, which only hosts them).
MANAGE_POLICIES = "manage_policies"
VIEW_AUDIT = "view_audit"
MANAGE_ACCESS = "manage_access"

QUEUE_ROLES = {
    VIEWER: (VIEW_QUEUE,),
    OPERATOR: (VIEW_QUEUE, OPERATE_QUEUE),
    PAYLOAD_VIEWER: (VIEW_QUEUE, REVEAL_QUEUE),
}
GLOBAL_ROLES = {
    POLICY_ADMIN: (MANAGE_POLICIES,),
    AUDITOR: (VIEW_AUDIT,),
    ADMIN: (VIEW_QUEUE, OPERATE_QUEUE, REVEAL_QUEUE, MANAGE_POLICIES, VIEW_AUDIT, MANAGE_ACCESS),
}
ROLES = {**QUEUE_ROLES, **GLOBAL_ROLES}

DESCRIPTIONS = {
    VIEWER: "see the queue, its tasks and masked data",
    OPERATOR: "viewer + retry, discard, archive, pause/resume, cancel",
    PAYLOAD_VIEWER: "viewer + reveal raw payloads/errors (with a reason)",
    POLICY_ADMIN: "edit policies, masking rules, notification channels",
    AUDITOR: "read and export the audit log; nothing else",
    ADMIN: "everything, incl. users, roles and grants",
}

# Roles whose holders must use a second factor when DLQADMIN_REQUIRE_MFA is on.
MFA_ROLES = frozenset({PAYLOAD_VIEWER, POLICY_ADMIN, ADMIN})

QUEUE_PERMISSION_CODENAMES = (VIEW_QUEUE, OPERATE_QUEUE, REVEAL_QUEUE)
GLOBAL_PERMISSION_CODENAMES = (MANAGE_POLICIES, VIEW_AUDIT, MANAGE_ACCESS)


def perm_name(codename):
    """'view_queue' -> 'access.view_queue' (what user.has_perm expects)."""
    return f"access.{codename}"


# All-queue and global roles derived from the identity provider's groups are held through
# twin groups ("sso:viewer" carries viewer's permissions), so a sign-in can rewrite them
# without touching a role given by hand.
SSO_GROUP_PREFIX = "sso:"


def sso_group_name(role):
    return f"{SSO_GROUP_PREFIX}{role}"
