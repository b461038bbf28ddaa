"""Hostile asynq keys, written straight into Redis the way any producer could.

asynq accepts any bytes as a queue name, task id, type or group, and nothing stops a
stray client from writing a key of the wrong type. `write_corpus(r)` plants one queue
per case next to two ordinary queues (`payments`, `emails`) whose dead tasks must
still be listed, counted and alerted on. Each hostile queue also holds dead tasks, so
a check round has something to say about it too.
"""

import time
from dataclasses import dataclass

from dlqadmin.asynq import keys
from dlqadmin.asynq.messages import (ServerInfoMessage, TaskMessage, WorkerInfoMessage, encode_server_info,
                                     encode_task_message, encode_worker_info)

DEAD_PER_QUEUE = 7  # above the test policies' warning threshold (5)


@dataclass(frozen=True)
class Case:
    label: str
    raw: bytes  # the queue name as Redis holds it
    damaged: bool = False  # some key of the queue has the wrong type

    @property
    def name(self):
        """The name as the reader returns it (invalid UTF-8 kept via surrogateescape)."""
        return keys.decode_name(self.raw)


GOOD = [Case("payments", b"payments"), Case("emails", b"emails")]
ODD_NAMES = [
    Case("nul", b"nul\x00queue"),
    Case("invalid-utf8", b"bad\xff\xfe-utf8\xc3"),
    Case("600 chars", b"long-" + b"x" * 595),
    Case("10 KB", b"huge-" + b"k" * (10 * 1024 - 5)),
]
WRONGTYPE = [
    Case("wrongtype archived", b"wt-archived", damaged=True),
    Case("wrongtype pending", b"wt-pending", damaged=True),
    Case("wrongtype paused", b"wt-paused"),  # EXISTS works on any type: reads as paused
    Case("wrongtype stats", b"wt-stats", damaged=True),
]
ALL = GOOD + ODD_NAMES + WRONGTYPE
# A non-protobuf msg, an odd task id and type live in this otherwise ordinary queue.
BROKEN_MSG_QUEUE = Case("broken msg", b"broken-msg")
ODD_TASK_ID = b"id\x00with-nul"
ODD_TYPE = "type\x00<b>bold</b>"


def dead_task(r, queue, task_id, *, task_type="email:send", now=None):
    now = int(now if now is not None else time.time())
    msg = encode_task_message(TaskMessage(
        type=task_type, payload=b'{"to": "someone@example.com"}', id=task_id, queue=queue,
        retry=3, retried=3, error_msg="smtp: connection refused", timeout=1800, last_failed_at=now))
    r.hset(keys.task(queue, task_id), mapping={b"msg": msg, b"state": b"archived"})
    r.zadd(keys.archived(queue), {keys.encode_name(task_id): now})


def _queue(r, case, now):
    name = case.name
    r.sadd(keys.ALL_QUEUES, case.raw)
    for i in range(DEAD_PER_QUEUE):
        try:
            case.raw.decode("utf-8")
        except UnicodeDecodeError:
            # A protobuf string cannot hold the name, so no msg can name this queue: its
            # dead ids point at no task hash (stale ids), as a crashed producer leaves them.
            r.zadd(keys.archived(name), {f"stale-{i}".encode(): now})
        else:
            dead_task(r, name, f"dead-{i}", now=now)


def write_corpus(r, *, now=None):
    """Plant every case; returns the cases written."""
    now = int(now if now is not None else time.time())
    for case in GOOD + ODD_NAMES:
        _queue(r, case, now)
    # Wrong Redis types where asynq expects a zset / list / string.
    for case in WRONGTYPE:
        _queue(r, case, now)
    wt = {c.label: c.name for c in WRONGTYPE}
    r.delete(keys.archived(wt["wrongtype archived"]))
    r.set(keys.archived(wt["wrongtype archived"]), b"not a zset")
    r.hset(keys.pending(wt["wrongtype pending"]), b"field", b"not a list")
    r.rpush(keys.paused(wt["wrongtype paused"]), b"not a string")
    r.rpush(keys.processed_total(wt["wrongtype stats"]), b"not a counter")
    # A task whose msg is not protobuf, one with an odd id, one with an odd type.
    broken = BROKEN_MSG_QUEUE.name
    r.sadd(keys.ALL_QUEUES, BROKEN_MSG_QUEUE.raw)
    r.hset(keys.task(broken, "not-protobuf"), mapping={b"msg": b"\xff\xfe not protobuf", b"state": b"archived"})
    r.zadd(keys.archived(broken), {b"not-protobuf": now})
    dead_task(r, broken, keys.decode_name(ODD_TASK_ID), now=now)
    dead_task(r, broken, "odd-type", task_type=ODD_TYPE, now=now)
    _groups(r, now)
    _server(r, now)
    return ALL + [BROKEN_MSG_QUEUE]


# Groups of the emails queue (aggregating tasks) with odd names.
ODD_GROUPS = [b"grp\x00nul", b"grp\xff-not-utf8", b"grp-" + b"g" * 600]


def _groups(r, now):
    queue = GOOD[1].name
    for i, raw in enumerate(ODD_GROUPS):
        group = keys.decode_name(raw)
        r.sadd(keys.groups(queue), raw)
        task_id = f"agg-{i}"
        try:
            group_key = raw.decode("utf-8")
        except UnicodeDecodeError:
            group_key = ""  # a protobuf string cannot hold it: the task names no group
        msg = encode_task_message(TaskMessage(type="digest:add", payload=b"{}", id=task_id, queue=queue,
                                              group_key=group_key))
        r.hset(keys.task(queue, task_id), mapping={b"msg": msg, b"state": b"aggregating", b"group": raw})
        r.zadd(keys.group(queue, group), {task_id.encode(): now})


def _server(r, now):
    """A live asynq server serving the NUL queue and payments, working on a NUL-queue task,
    next to a server entry whose value is not protobuf."""
    nul = ODD_NAMES[0].name
    host, pid, sid = "worker-1", 4242, "srv\x00odd"
    info = ServerInfoMessage(host=host, pid=pid, server_id=sid, concurrency=4, queues={nul: 2, "payments": 1},
                             status="active", active_worker_count=1)
    worker = WorkerInfoMessage(host=host, pid=pid, server_id=sid, task_id="dead-0", task_type="email:send",
                               queue=nul)
    r.set(keys.server_info(host, pid, sid), encode_server_info(info))
    r.hset(keys.workers(host, pid, sid), b"dead-0", encode_worker_info(worker))
    r.zadd(keys.ALL_SERVERS, {keys.server_info(host, pid, sid): now + 3600})
    r.zadd(keys.ALL_WORKERS, {keys.workers(host, pid, sid): now + 3600})
    r.set(keys.server_info("bad", 1, "x"), b"\xff not protobuf")
    r.zadd(keys.ALL_SERVERS, {keys.server_info("bad", 1, "x"): now + 3600})
