"""A bounded schemathesis run against the live test server: every operation of
/api/v1/openapi.json, with requests that fit the schema (random path values, and the
golden data's real queue, task, scheduler entry and operation) and requests that do not,
as an admin with an admin-scope token over the golden asynq data. No answer may be a
5xx, carry a status code the schema does not list for that operation, or have a body or
content type that breaks its response schema.

Bounded: a few examples per operation; every operation gets its first round, the other
rounds only while the time budget lasts, so a slow machine runs fewer examples instead
of taking longer. The golden data is restored before each round (the run deletes queues
and moves tasks)."""

import time

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)

from dlqadmin.api.models import ApiToken
from tests.conftest import GOLDEN, make_user
from tests.support.redis_snapshot import restore

pytestmark = pytest.mark.django_db(transaction=True)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
BUDGET_SECONDS = 15
ARCHIVED_TASK = "15303193-7c55-5fd5-9213-8771deaccdac"
SCHEDULER_ENTRY = "3a290004-6e89-4313-99ba-fef8ca317798"


def _real_paths(values):
    def fill(case):
        if case.path_parameters:
            case.path_parameters = {k: values.get(k, v) for k, v in case.path_parameters.items()}
        return case
    return fill


def test_no_server_error_and_no_answer_outside_the_schema(live_server, golden, roles, settings):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from dlqadmin.operations.models import Operation

    settings.DLQADMIN_API_RATE_LIMIT = 0  # the run sends hundreds of requests with one token
    boss = make_user("fuzz", ("admin",))
    TOTPDevice.objects.create(user=boss, name="phone", confirmed=True)  # admins need one, tokens too
    raw = ApiToken.issue(boss, scope="admin")[1]
    op = Operation.objects.create(action="run", queue="payments", state="archived", total=0,
                                  status=Operation.DONE, started_by=boss, started_by_name="fuzz")
    real = _real_paths({"queue": "payments", "task_id": ARCHIVED_TASK, "entry_id": SCHEDULER_ENTRY,
                        "op_id": op.pk, "pk": 1})
    headers = {"Authorization": f"Bearer {raw}"}
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/v1/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    rounds = [  # (mode, real path values, examples); the first covers every operation
        (GenerationMode.POSITIVE, True, 3), (GenerationMode.NEGATIVE, False, 2), (GenerationMode.POSITIVE, False, 2),
    ]
    deadline = time.monotonic() + BUDGET_SECONDS
    failures, ran = [], 0
    for n, (mode, with_real, examples) in enumerate(rounds):
        for operation in operations:
            if n and time.monotonic() > deadline:
                break
            restore(golden, GOLDEN / "mixed" / "snapshot.json")
            strategy = operation.as_strategy(generation_mode=mode)
            if with_real:
                strategy = strategy.map(real)

            @given(case=strategy)
            @hypothesis_settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                                 suppress_health_check=list(HealthCheck))
            def run(case):
                try:
                    case.call_and_validate(headers=headers, checks=CHECKS, timeout=10)
                except Exception as exc:  # keep going: one report for every operation
                    failures.append(f"{operation.label} ({mode}{', real' if with_real else ''}): {str(exc)[:800]}")

            run()
            ran += 1
    assert len(operations) >= 30 and ran >= len(operations)
    assert not failures, "\n\n".join(failures[:20])
