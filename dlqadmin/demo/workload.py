"""A realistic asynq workload for the demo, written in asynq's exact Redis layout.

Plain Python (no Django): takes a redis client and writes through pipelines. Every
key comes from ``dlqadmin.asynq.keys`` and every value from ``dlqadmin.asynq.messages``;
the per-state layout follows the golden data's README (task hash fields per state,
which list/zset holds the id, what each score means).

The data is made up but looks real: several queues (one paused, one with ':' in its
name), tasks in every state, thousands of dead tasks with the errors real handlers
produce, and payloads full of personal data and secrets (e-mail addresses, card
numbers that pass Luhn, API tokens, DSNs with passwords) for the masking to hide.
"""

from __future__ import annotations

import datetime as _dt
import json
import random
import time
import uuid
from dataclasses import dataclass, field

from dlqadmin.asynq import keys, messages

DAY = 86400
STATS_TTL = 90 * DAY  # asynq keeps the per-day counters ~90 days
HISTORY_DAYS = 90
DEFAULT_TIMEOUT = 1800  # what asynq stores with neither Timeout nor Deadline


@dataclass(frozen=True)
class QueueSpec:
    name: str
    weight: float  # share of the dead tasks
    types: tuple[str, ...]
    paused: bool = False


QUEUES = (
    QueueSpec("payments", 0.28, ("payment:charge", "payment:refund", "payment:capture")),
    QueueSpec("emails", 0.22, ("email:send", "email:digest", "email:bounce")),
    QueueSpec("webhooks", 0.24, ("webhook:deliver", "webhook:retry-signature")),
    QueueSpec("reports", 0.08, ("report:generate", "report:export-csv"), paused=True),
    QueueSpec("critical", 0.06, ("security:alert", "account:lock")),
    QueueSpec("billing:eu", 0.12, ("invoice:render", "vat:validate", "invoice:send")),
)


@dataclass
class Summary:
    queues: list[str] = field(default_factory=list)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # queue -> state -> n

    def add(self, queue: str, state: str, n: int = 1) -> None:
        self.counts.setdefault(queue, {}).setdefault(state, 0)
        self.counts[queue][state] += n

    def total(self, state: str) -> int:
        return sum(c.get(state, 0) for c in self.counts.values())


# --- made-up but plausible data ---------------------------------------------------

FIRST = ["alice", "bob", "carol", "dmitri", "eve", "fatima", "gustavo", "hana", "ivan", "jun", "kofi",
         "lena", "mateo", "nadia", "oscar", "priya", "quentin", "rosa", "sven", "tariq", "ursula", "yuki"]
LAST = ["martin", "schmidt", "rossi", "kowalski", "nguyen", "okafor", "silva", "tanaka", "dubois",
        "larsen", "haddad", "novak", "ibrahim", "jensen", "moreau", "garcia"]
DOMAINS = ["example.com", "mail.example.org", "acme-corp.example", "shop.example.net", "gmail.example"]
HOSTS = ["api.stripe-mock.example", "hooks.partner.example", "erp.internal.example", "crm.example.io",
         "smtp.mailhost.example", "vat-check.eu.example"]


def _luhn_card(rng: random.Random, prefix: str = "4") -> str:
    digits = [int(c) for c in prefix]
    while len(digits) < 15:
        digits.append(rng.randrange(10))
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:  # these get doubled once the check digit is appended
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return "".join(map(str, digits)) + str((10 - total % 10) % 10)


def _token(rng: random.Random, n: int = 32) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(rng.choice(alphabet) for _ in range(n))


def _person(rng: random.Random) -> tuple[str, str]:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    return f"{first.title()} {last.title()}", f"{first}.{last}{rng.randrange(100)}@{rng.choice(DOMAINS)}"


def _payload(rng: random.Random, task_type: str) -> dict:
    name, email = _person(rng)
    kind = task_type.split(":")[0]
    if kind == "payment":
        return {"order_id": f"ord_{rng.randrange(10**7, 10**8)}", "amount": rng.randrange(100, 500000),
                "currency": rng.choice(["EUR", "USD", "GBP"]), "customer": {"name": name, "email": email},
                "card_number": _luhn_card(rng, rng.choice(["4", "51", "37"])), "cvv": f"{rng.randrange(1000):03d}",
                "api_token": f"sk_live_{_token(rng, 24)}"}
    if kind == "email":
        return {"to": email, "name": name, "template": rng.choice(["welcome", "reset-password", "receipt", "digest"]),
                "reset_token": _token(rng, 40), "smtp_dsn": f"smtp://mailer:{_token(rng, 14)}@smtp.mailhost.example:587"}
    if kind == "webhook":
        return {"url": f"https://{rng.choice(HOSTS)}/hooks/{rng.randrange(10**5)}", "event": "order.updated",
                "headers": {"Authorization": f"Bearer {_token(rng, 36)}"}, "body": {"customer_email": email}}
    if kind == "report":
        return {"report": rng.choice(["monthly-revenue", "churn", "gdpr-export"]), "requested_by": email,
                "database_url": f"postgres://reporting:{_token(rng, 16)}@db.internal.example:5432/analytics"}
    if kind in ("invoice", "vat"):
        return {"invoice": f"INV-EU-{rng.randrange(10**6)}", "vat_id": f"DE{rng.randrange(10**8, 10**9)}",
                "billing_email": email, "iban": "DE89370400440532013000", "password": _token(rng, 12)}
    return {"user": {"name": name, "email": email}, "ip": f"203.0.113.{rng.randrange(256)}",
            "session_token": _token(rng, 32)}


def _error(rng: random.Random, task_type: str) -> str:
    host = rng.choice(HOSTS)
    choices = [
        lambda: f'POST https://{host}/v1/charges: 502 Bad Gateway: <html><head><title>502 Bad Gateway</title>'
                f'</head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx/1.25.3</center></body></html>',
        lambda: f"POST https://{host}/events: 503 Service Unavailable: "
                '{"error":"upstream_unavailable","retry_after":30}',
        lambda: f"Post \"https://{host}/api\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)",
        lambda: "context deadline exceeded",
        lambda: f"dial tcp 10.0.{rng.randrange(256)}.{rng.randrange(256)}:5432: connect: connection refused",
        lambda: 'pq: duplicate key value violates unique constraint "payments_order_id_key"\n'
                f"DETAIL:  Key (order_id)=(ord_{rng.randrange(10**7, 10**8)}) already exists.",
        lambda: "ERROR: deadlock detected (SQLSTATE 40P01)",
        lambda: "ERROR: canceling statement due to statement timeout (SQLSTATE 57014)",
        lambda: f"panic error cause by: panic [handlers/{task_type.split(':')[0]}.go:{rng.randrange(40, 400)}]: "
                "runtime error: invalid memory address or nil pointer dereference",
        lambda: "validation failed: customer.email: must be a valid address; amount: must be greater than 0",
        lambda: f"card declined (do_not_honor) for card {_luhn_card(rng)}: skip retry for the task",
        lambda: f"invalid recipient {_person(rng)[1]}: 550 5.1.1 mailbox unavailable: skip retry for the task",
        lambda: "json: cannot unmarshal string into Go struct field Payload.amount of type int64",
        lambda: f"redis: connection pool timeout; dsn redis://cache:{_token(rng, 12)}@cache.internal.example:6379/2",
        lambda: "rpc error: code = Unavailable desc = connection error: desc = \"transport: Error while dialing\"",
        lambda: f"POST https://{host}/oauth/token: 401 Unauthorized: invalid_client (Bearer {_token(rng, 30)})",
    ]
    weights = [9, 6, 8, 7, 5, 4, 2, 3, 3, 5, 3, 3, 2, 2, 2, 2]
    return rng.choices(choices, weights=weights)[0]()


# --- writer ------------------------------------------------------------------------


class _Writer:
    def __init__(self, client, rng: random.Random, now: int, batch: int = 500):
        self.pipe = client.pipeline(transaction=False)
        self.rng = rng
        self.now = now
        self.batch = batch
        self.pending_cmds = 0

    def flush(self, force: bool = False) -> None:
        if self.pending_cmds and (force or self.pending_cmds >= self.batch):
            self.pipe.execute()
            self.pending_cmds = 0

    def task(self, queue: str, state: str, fields: dict, id_cmd) -> None:
        key = keys.task(queue, fields["_id"])
        mapping = {k: v for k, v in fields.items() if not k.startswith("_")}
        mapping["state"] = state
        self.pipe.hset(key, mapping=mapping)
        id_cmd(self.pipe)
        self.pending_cmds += 1
        self.flush()

    def new_id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def message(self, queue: str, task_type: str, task_id: str, **extra) -> bytes:
        extra.setdefault("timeout", DEFAULT_TIMEOUT)
        extra.setdefault("retry", 25)
        payload = json.dumps(_payload(self.rng, task_type), separators=(",", ":")).encode()
        return messages.encode_task_message(
            messages.TaskMessage(type=task_type, payload=payload, id=task_id, queue=queue, **extra))


def seed(client, *, dead: int = 5000, seed: int = 42, now: float | None = None) -> Summary:
    """Write the demo workload into ``client``'s DB. Returns what was written.

    Adds to whatever is there (task ids are fresh random UUIDs from ``seed``); asynq
    trims its archive to 9,999 tasks per queue, so keep ``dead`` below ~9,999 × the
    share of the biggest queue."""
    rng = random.Random(seed)
    now_s = int(now if now is not None else time.time())
    w = _Writer(client, rng, now_s)
    summary = Summary(queues=[q.name for q in QUEUES])
    total_weight = sum(q.weight for q in QUEUES)
    today = _dt.datetime.fromtimestamp(now_s, _dt.timezone.utc).date()

    for spec in QUEUES:
        q = spec.name
        w.pipe.sadd(keys.ALL_QUEUES, keys.encode_name(q))
        if spec.paused:
            w.pipe.set(keys.paused(q), str(now_s - 3 * 3600))
        n_dead = round(dead * spec.weight / total_weight)

        # archived: the DLQ. score = time of the last failure (within asynq's 90 days).
        for i in range(n_dead):
            tid, ttype = w.new_id(), rng.choice(spec.types)
            age = int(rng.expovariate(1 / (3 * DAY)))
            if i < 3:
                age = 82 * DAY + rng.randrange(DAY)  # a few close to asynq's 90-day limit
            failed_at = now_s - min(age, 85 * DAY)
            err = _error(rng, ttype)
            max_retry = 0 if err.endswith("skip retry for the task") and rng.random() < 0.5 else rng.choice([3, 5, 10, 25])
            retried = max_retry if not err.endswith("skip retry for the task") else rng.randrange(max_retry + 1)
            msg = w.message(q, ttype, tid, retry=max_retry, retried=retried, error_msg=err, last_failed_at=failed_at)
            w.task(q, "archived", {"_id": tid, "msg": msg},
                   lambda p, tid=tid, s=failed_at: p.zadd(keys.archived(q), {keys.encode_name(tid): s}))
        summary.add(q, "archived", n_dead)

        # retry: score = when asynq retries it.
        for _ in range(rng.randrange(5, 40)):
            tid, ttype = w.new_id(), rng.choice(spec.types)
            failed_at = now_s - rng.randrange(60, 3600)
            due = now_s + rng.randrange(60, 6 * 3600)
            msg = w.message(q, ttype, tid, retried=rng.randrange(1, 10), error_msg=_error(rng, ttype),
                            last_failed_at=failed_at)
            w.task(q, "retry", {"_id": tid, "msg": msg},
                   lambda p, tid=tid, s=due: p.zadd(keys.retry(q), {keys.encode_name(tid): s}))
            summary.add(q, "retry")

        # scheduled: score = process time.
        for _ in range(rng.randrange(3, 25)):
            tid, ttype = w.new_id(), rng.choice(spec.types)
            due = now_s + rng.randrange(600, 7 * DAY)
            msg = w.message(q, ttype, tid)
            w.task(q, "scheduled", {"_id": tid, "msg": msg},
                   lambda p, tid=tid, s=due: p.zadd(keys.scheduled(q), {keys.encode_name(tid): s}))
            summary.add(q, "scheduled")

        # pending: LPUSH (newest at the head); pending_since in Unix nanoseconds.
        backlog = 250 if spec.paused else rng.randrange(5, 120)
        for j in range(backlog):
            tid, ttype = w.new_id(), rng.choice(spec.types)
            since_ns = (now_s - (backlog - j) * rng.randrange(1, 20)) * 10**9
            msg = w.message(q, ttype, tid)
            w.task(q, "pending", {"_id": tid, "msg": msg, "pending_since": str(since_ns)},
                   lambda p, tid=tid: p.lpush(keys.pending(q), keys.encode_name(tid)))
            summary.add(q, "pending")

        # active: list + lease (score = lease expiry). No live server holds them, so
        # once the lease passes the Inspector reports them orphaned, as asynq would.
        for _ in range(rng.randrange(1, 4)):
            tid, ttype = w.new_id(), rng.choice(spec.types)
            msg = w.message(q, ttype, tid)

            def cmds(p, tid=tid):
                p.lpush(keys.active(q), keys.encode_name(tid))
                p.zadd(keys.lease(q), {keys.encode_name(tid): now_s + 30})

            w.task(q, "active", {"_id": tid, "msg": msg}, cmds)
            summary.add(q, "active")

        # completed: score = completed_at + retention; some wrote a result.
        for _ in range(rng.randrange(10, 60)):
            tid, ttype = w.new_id(), rng.choice(spec.types)
            retention = rng.choice([3600, 86400, 7 * 86400])
            done = now_s - rng.randrange(60, min(retention, DAY))
            msg = w.message(q, ttype, tid, completed_at=done, retention=retention)
            fields = {"_id": tid, "msg": msg}
            if rng.random() < 0.6:
                fields["result"] = json.dumps({"ok": True, "receipt": f"rcpt_{_token(rng, 12)}"}).encode()
            w.task(q, "completed", fields,
                   lambda p, tid=tid, s=done + retention: p.zadd(keys.completed(q), {keys.encode_name(tid): s}))
            summary.add(q, "completed")

        # aggregating: group zset (score = time joined) + the queue's groups set.
        if q in ("emails", "billing:eu"):
            for g in (["digest:user-42", "digest:user-77"] if q == "emails" else ["eu-west:daily"]):
                for _ in range(rng.randrange(2, 8)):
                    tid, ttype = w.new_id(), spec.types[1]
                    msg = w.message(q, ttype, tid, group_key=g)

                    def cmds(p, tid=tid, g=g):
                        p.zadd(keys.group(q, g), {keys.encode_name(tid): now_s - rng.randrange(60, 3000)})
                        p.sadd(keys.groups(q), keys.encode_name(g))

                    w.task(q, "aggregating", {"_id": tid, "msg": msg, "group": g}, cmds)
                    summary.add(q, "aggregating")

        # processed / failed: totals and 90 days of per-day counters (asynq's 90-day TTL),
        # so the overview's 7 / 30 / 90-day history is full.
        processed_total = failed_total = 0
        for d in range(HISTORY_DAYS):
            day = today - _dt.timedelta(days=d)
            processed = rng.randrange(2000, 40000)
            failed = int(processed * rng.uniform(0.002, 0.05))
            processed_total += processed
            failed_total += failed
            w.pipe.set(keys.processed(q, day), processed, ex=STATS_TTL - d * DAY)
            w.pipe.set(keys.failed(q, day), failed, ex=STATS_TTL - d * DAY)
        w.pipe.set(keys.processed_total(q), processed_total * 12)
        w.pipe.set(keys.failed_total(q), failed_total * 12)
        w.flush(force=True)
    w.flush(force=True)
    return summary


def has_queues(client) -> bool:
    return bool(client.scard(keys.ALL_QUEUES))
