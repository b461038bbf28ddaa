import pytest

from tests.conftest import make_user, sign_in

Q = "payments"
ARCHIVED = ["15303193-7c55-5fd5-9213-8771deaccdac", "79c74fa0-387e-5d04-83e0-aef15939c31e",
            "985c92ca-9929-582a-b82c-ca027af7d1be", "f2ca0995-8350-5b3d-8f7a-60c8531117ee",
            "b97a0aa1-c08b-51e8-bb3f-d5a52a12d558"]
PENDING = ["bd8f87f3-df40-5ef6-ba74-1eebf9fe37b1", "order-10023-charge", "ca8ffb3f-67a9-5273-91cd-d6e3869be275"]
RETRY = "f16449f6-bf9d-5379-b255-e4902dfec3f4"
SCHEDULED = "eadcb0b1-cbc3-5e7f-b5fc-ccb7c9e85924"
ACTIVE = "539c39f1-d33d-5785-88aa-6ac04cc4d969"
COMPLETED = "092998bd-8bac-5d7d-b3ad-09313a6b937f"
OTHER_QUEUE, OTHER_TASK = "emails", "a729f0e0-085b-55e0-8a1a-2969aa9f3a58"


def task_state(r, task_id, queue=Q):
    raw = r.hget(f"asynq:{{{queue}}}:t:{task_id}".encode(), b"state")
    return raw.decode() if raw is not None else None


def members(r, state, queue=Q):
    key = f"asynq:{{{queue}}}:{state}".encode()
    if state in ("pending", "active"):
        return [m.decode() for m in r.lrange(key, 0, -1)]
    return [m.decode() for m in r.zrange(key, 0, -1)]


@pytest.fixture
def cast(roles):
    return {
        "viewer": make_user("o_viewer", ("viewer", [Q])),
        "operator": make_user("o_operator", ("operator", [Q])),
        "operator2": make_user("o_operator2", ("operator", [Q])),
        "payload_viewer": make_user("o_payload", ("payload_viewer", [Q])),
        "editor": make_user("o_editor", ("operator", [Q]), ("payload_viewer", [Q])),
        "admin": make_user("o_admin", ("admin",)),
    }


@pytest.fixture
def operator_client(client, cast):
    return sign_in(client, cast["operator"])


def events(action=None, **filters):
    from dlqadmin.audit.models import AuditEvent

    qs = AuditEvent.objects.order_by("seq")
    if action:
        qs = qs.filter(action=action)
    return list(qs.filter(**filters))
