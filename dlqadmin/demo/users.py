"""The demo cast: one user per role. Plain data (no Django), shared by the
`create_demo_users` command and the `make demo` launcher."""

# (user name, role, per-queue role granted on all queues?)
DEMO_USERS = [
    ("viewer", "viewer", True),
    ("operator", "operator", True),
    ("payload_viewer", "payload_viewer", True),
    ("policy_admin", "policy_admin", False),
    ("auditor", "auditor", False),
    ("admin", "admin", False),
]
