"""Masking the real task messages that asynq wrote (tests/fixtures/asynq-golden).

Every ``msg`` in the mixed snapshot is decoded; its payload, error message, headers and
(for completed tasks) result are masked. No card number, CVV, API token, password,
bearer token, DSN password or e-mail local part may survive; order ids, amounts and
SKUs must stay readable.
"""

import base64
import json
import re
from pathlib import Path

import pytest

from dlqadmin.masking.engine import Masker

SNAPSHOT = Path(__file__).resolve().parent.parent / "fixtures" / "asynq-golden" / "mixed" / "snapshot.json"

try:
    from dlqadmin.asynq.messages import decode_task_message as _decode

    def decode(raw: bytes):
        m = _decode(raw)
        return m.type, m.payload, m.error_msg, dict(m.headers)

except ImportError:  # the codec is another module's; the protobuf runtime is enough
    from dlqadmin.asynq.proto import asynq_pb2

    def decode(raw: bytes):
        m = asynq_pb2.TaskMessage()
        m.ParseFromString(raw)
        return m.type, m.payload, m.error_msg, dict(m.headers)


def _tasks():
    tasks = []
    for key in json.loads(SNAPSHOT.read_text()):
        if key["type"] == "hash" and "msg" in key["value"]:
            task_type, payload, error, headers = decode(base64.b64decode(key["value"]["msg"]["b64"]))
            result = base64.b64decode(key["value"]["result"]["b64"]) if "result" in key["value"] else None
            tasks.append((key["key"], task_type, payload, error, headers, result))
    return tasks


TASKS = _tasks()
EMAIL = re.compile(r"([\w.+\-]+)@[\w.\-]+\.\w+")


def _originals(*texts) -> str:
    return "\n".join(
        t.decode("utf-8", "replace") if isinstance(t, bytes) else json.dumps(t) if isinstance(t, dict) else t
        for t in texts
        if t
    )


def _forbidden(original: str) -> set[str]:
    """Every secret in the original text, found independently of the engine."""
    found = {"4111111111111111"}
    found |= set(re.findall(r'"cvv":\s*"?(\d+)"?', original))
    found |= set(re.findall(r"sk_live_\w+", original))
    found |= set(re.findall(r'"(?:api_token)":\s*"([^"]+)"', original))
    found |= set(re.findall(r'"password":\s*"([^"]+)"', original))
    found |= set(re.findall(r"Bearer ([\w.\-]+)", original))
    found |= set(re.findall(r"://[^:/@\s]*:([^@\s]+)@", original))
    found |= set(re.findall(r"token=(\w+)", original))
    found |= {m.group(1) for m in EMAIL.finditer(original.replace("\\u003c", "<").replace("\\u003e", ">"))}
    return {f for f in found if f}


def test_the_snapshot_has_the_expected_material():
    everything = _originals(*[x for t in TASKS for x in t[2:]])
    forbidden = _forbidden(everything)
    assert len(TASKS) >= 40
    # Guard the guard: the regexes above found what the golden README promises.
    for expected in (
        "123",
        "hunter2-97!",
        "s3cr3t-operator-pw",
        "pw-in-array",
        "Pa55w0rd410",
        "carla.rossi+billing",
        "d.volkov",
        "sk_live_00000000000000005eed0066",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIlZCJ9.sig0200",
        "rst_f3051c11deadbe8e",
        "tok_bulk_0123456789abcdef",
    ):
        assert expected in forbidden, expected


@pytest.mark.parametrize("key,task_type,payload,error,headers,result", TASKS, ids=[t[0] for t in TASKS])
def test_golden_task_is_masked(key, task_type, payload, error, headers, result):
    masker = Masker()
    outputs = []
    p = masker.mask_payload(payload, limit=None)
    outputs.append(p.text)
    if p.kind == "json":
        json.loads(p.text)
    if error:
        outputs.append(masker.mask_text(error, limit=None).text)
    if headers:
        outputs.append(masker.mask_headers(headers).text)
    if result is not None:
        outputs.append(masker.mask_result(result, limit=None).text)
    shown = "\n".join(outputs)
    shown.encode("utf-8")  # display-ready: encodable, no lone surrogates

    for secret in _forbidden(_originals(payload, error, headers, result)):
        if secret == "123" or secret.isdigit():
            assert f'"{secret}"' not in shown and f": {secret}," not in shown
        else:
            assert secret not in shown, (key, secret)

    if task_type == "payment:charge":
        doc = json.loads(payload)
        for readable in (
            doc["order_id"],
            str(doc["amount_cents"]),
            doc["currency"],
            doc["items"][0]["sku"],
            doc["metadata"]["idempotency_key"],
            doc["customer"]["address"]["city"],
        ):
            assert readable in p.text, readable
        assert "[card ••••1111]" in p.text and '"cvv": "[cvv]"' in p.text
    if task_type == "report:generate" and b"db_dsn" in payload:
        assert "postgres://reporter:[password]@db.internal:5432/analytics" in p.text
    if task_type == "webhook:deliver":
        assert json.loads(p.text)["body"]["order_id"].startswith("ORD-")
        assert '"Authorization": "[credentials]"' in p.text


def test_binary_payload_is_a_hex_dump():
    binary = [t for t in TASKS if t[2][:2] == b"\x1f\x8b"]
    assert binary
    v = Masker().mask_payload(binary[0][2])
    assert v.kind == "binary" and v.text.startswith("00000000  1f 8b 08 00")
