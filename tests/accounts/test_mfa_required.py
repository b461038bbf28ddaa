"""accounts.mfa.required_for: the roles that need a second factor, in one query."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dlqadmin.access.roles import MFA_ROLES
from dlqadmin.access.services import apply_sso_roles, add_group_rule, revoke, roles_of
from dlqadmin.accounts import mfa
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def expected(user):
    return user.is_superuser or bool(MFA_ROLES & set(roles_of(user)))  # the rule as written before


def test_matches_the_roles_rule_for_every_way_of_holding_a_role(roles, settings):
    settings.DLQADMIN_REQUIRE_MFA = True
    cases = [make_user("v", ("viewer",)), make_user("vq", ("viewer", ["a"])), make_user("pv", ("payload_viewer",)),
             make_user("pvq", ("payload_viewer", ["a"])), make_user("pa", ("policy_admin",)),
             make_user("adm", ("admin",)), make_user("aud", ("auditor",)), make_user("op", ("operator", ["b"])),
             make_user("none")]
    sso = make_user("sso")
    add_group_rule("revealers", "payload_viewer", queues=["c"])
    apply_sso_roles(sso, ["revealers"])
    sso_all = make_user("sso-all")
    add_group_rule("admins", "admin")
    apply_sso_roles(sso_all, ["admins"])
    for user in cases + [sso, sso_all]:
        with CaptureQueriesContext(connection) as queries:
            needed = mfa.required_for(user)
        assert needed == expected(user), user.username
        assert len(queries) == 1
    assert [u.username for u in cases if mfa.required_for(u)] == ["pv", "pvq", "pa", "adm"]
    assert mfa.required_for(sso) and mfa.required_for(sso_all)
    revoke(cases[3], "payload_viewer", queues=["a"])
    assert not mfa.required_for(cases[3])  # the next request sees the revocation
    settings.DLQADMIN_REQUIRE_MFA = False
    assert not mfa.required_for(cases[5])
