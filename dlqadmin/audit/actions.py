"""Action names recorded today (later features add their own: task.retry, payload.reveal,
policy.change...). The review page offers these as suggestions; any name is accepted."""

LOGIN = "login"
LOGIN_FAILED = "login.failed"
LOCKOUT = "login.lockout"
MFA_VERIFY = "login.mfa"
LOGOUT = "logout"
MFA_ENROL = "mfa.enrol"
TOKEN_CREATE = "token.create"
TOKEN_REVOKE = "token.revoke"
ROLES_BOOTSTRAP = "access.bootstrap_roles"
GRANT = "access.grant"
REVOKE = "access.revoke"
END_SESSIONS = "access.end_sessions"
ACTIVATE = "access.activate"
DEACTIVATE = "access.deactivate"
DENIED = "access.denied"
EXPORT = "audit.export"

KNOWN = (LOGIN, LOGIN_FAILED, LOCKOUT, MFA_VERIFY, LOGOUT, MFA_ENROL, TOKEN_CREATE, TOKEN_REVOKE, ROLES_BOOTSTRAP,
         GRANT, REVOKE, END_SESSIONS, ACTIVATE, DEACTIVATE, DENIED, EXPORT)
