"""A writer that makes tasks die the way an asynq server does.

Each death is the two steps of asynq's own code (internal/rdb/rdb.go): the task is
dequeued (hash ``state`` active, id on ``:active``, a lease), its handler fails for the
last time, and ``RDB.Archive``'s script runs: the id leaves ``:active`` and ``:lease``,
is ZADDed to ``:archived`` with the second it died, the set is trimmed by score (older
than 90 days) and by rank (to its newest ``cap - 1`` members) and the trimmed tasks'
hashes are deleted (``delete_trimmed=False`` mimics older asynq versions, which left
those hashes behind as orphans), then the hash gets the new msg and ``state`` archived
and the daily/total processed and failed counters are incremented.
"""

from __future__ import annotations

import datetime as dt
import uuid

from dlqadmin.asynq import keys, messages
from dlqadmin.core import clock as app_clock

MAX_ARCHIVE_SIZE = 10_000  # asynq's maxArchiveSize (ZREMRANGEBYRANK 0 -10000 keeps 9,999)
ARCHIVED_EXPIRATION_DAYS = 90
STATS_TTL = 90 * 24 * 3600
MAX_INT64 = 2**63 - 1

_DIE = """
-- KEYS[1] task hash, KEYS[2] active, KEYS[3] lease, KEYS[4] archived,
-- KEYS[5] processed:<day>, KEYS[6] failed:<day>, KEYS[7] processed, KEYS[8] failed
-- ARGV[1] id, ARGV[2] msg as dequeued, ARGV[3] msg with the error, ARGV[4] died at (Unix s),
-- ARGV[5] cutoff (Unix s), ARGV[6] max archive size, ARGV[7] stats expiry,
-- ARGV[8] max int64, ARGV[9] task key prefix, ARGV[10] "1" = delete trimmed hashes
-- dequeue (what the server did before the handler ran)
redis.call("HSET", KEYS[1], "msg", ARGV[2], "state", "active")
redis.call("LPUSH", KEYS[2], ARGV[1])
redis.call("ZADD", KEYS[3], ARGV[4] + 30, ARGV[1])
-- RDB.Archive
if redis.call("LREM", KEYS[2], 0, ARGV[1]) == 0 then
  return redis.error_reply("NOT FOUND")
end
if redis.call("ZREM", KEYS[3], ARGV[1]) == 0 then
  return redis.error_reply("NOT FOUND")
end
redis.call("ZADD", KEYS[4], ARGV[4], ARGV[1])
if ARGV[10] == "1" then
  local old = redis.call("ZRANGEBYSCORE", KEYS[4], "-inf", ARGV[5])
  if #old > 0 then
    for _, id in ipairs(old) do
      redis.call("DEL", ARGV[9] .. id)
    end
    redis.call("ZREM", KEYS[4], unpack(old))
  end
  local extra = redis.call("ZRANGE", KEYS[4], 0, -ARGV[6])
  if #extra > 0 then
    for _, id in ipairs(extra) do
      redis.call("DEL", ARGV[9] .. id)
    end
    redis.call("ZREM", KEYS[4], unpack(extra))
  end
else
  redis.call("ZREMRANGEBYSCORE", KEYS[4], "-inf", ARGV[5])
  redis.call("ZREMRANGEBYRANK", KEYS[4], 0, -ARGV[6])
end
redis.call("HSET", KEYS[1], "msg", ARGV[3], "state", "archived")
local n = redis.call("INCR", KEYS[5])
if tonumber(n) == 1 then
  redis.call("EXPIREAT", KEYS[5], ARGV[7])
end
local m = redis.call("INCR", KEYS[6])
if tonumber(m) == 1 then
  redis.call("EXPIREAT", KEYS[6], ARGV[7])
end
local total = redis.call("GET", KEYS[7])
if tonumber(total) == tonumber(ARGV[8]) then
  redis.call("SET", KEYS[7], 1)
  redis.call("SET", KEYS[8], 1)
else
  redis.call("INCR", KEYS[7])
  redis.call("INCR", KEYS[8])
end
return 1
"""


class Archiver:
    """``die()`` one task, or ``die_many()`` in one pipelined round trip."""

    def __init__(self, client, queue="payments", *, now=None, cap=MAX_ARCHIVE_SIZE, delete_trimmed=True):
        self.client = client
        self.queue = queue
        # Default: the application's clock (pinned by the tests' `clock` fixture).
        self.now = now or app_clock.now
        self.cap = cap
        self.delete_trimmed = delete_trimmed
        self.script = client.register_script(_DIE)
        client.sadd(keys.ALL_QUEUES, keys.encode_name(queue))

    def _node_client(self):
        """Where a pipeline of deaths goes: in Redis Cluster, the node that holds the
        queue's slot (redis-py's cluster pipelines refuse scripts; an asynq server
        sends each death's script to that node too)."""
        if not hasattr(self.client, "get_node_from_key"):
            return self.client
        return self.client.get_redis_connection(self.client.get_node_from_key(keys.archived(self.queue)))

    def _args(self, task_id, *, task_type, payload, error, retry, at):
        msg = messages.TaskMessage(type=task_type, payload=payload, id=task_id, queue=self.queue, retry=retry,
                                   retried=retry, timeout=1800)
        dequeued = messages.encode_task_message(msg)
        msg.error_msg = error
        msg.last_failed_at = int(at)
        failed = messages.encode_task_message(msg)
        day = dt.datetime.fromtimestamp(int(at), dt.UTC).date()
        q = self.queue
        keys_ = [keys.task(q, task_id), keys.active(q), keys.lease(q), keys.archived(q),
                 keys.processed(q, day), keys.failed(q, day), keys.processed_total(q), keys.failed_total(q)]
        argv = [keys.encode_name(task_id), dequeued, failed, int(at), int(at) - ARCHIVED_EXPIRATION_DAYS * 86400,
                self.cap, int(at) + STATS_TTL, MAX_INT64, keys.task_prefix(q), "1" if self.delete_trimmed else "0"]
        return keys_, argv, failed

    def die(self, task_id=None, *, task_type="email:send", payload=b'{"to": "ann@example.com"}',
            error="smtp: 550 mailbox unavailable", retry=3, at=None):
        """Archive one task as asynq would; returns (id, msg as archived)."""
        task_id = task_id or str(uuid.uuid4())
        at = self.now().timestamp() if at is None else at
        keys_, argv, msg = self._args(task_id, task_type=task_type, payload=payload, error=error, retry=retry, at=at)
        self.script(keys=keys_, args=argv)
        return task_id, msg

    def die_many(self, n, *, at=None, prefix="t", start=0, **kwargs):
        """n deaths in one round trip (ids ``<prefix>-<number>``); returns the ids."""
        pipe = self._node_client().pipeline(transaction=False)
        ids = []
        for k in range(start, start + n):
            task_id = f"{prefix}-{k:07d}"
            when = self.now().timestamp() if at is None else at
            keys_, argv, _ = self._args(task_id, task_type=kwargs.get("task_type", "email:send"),
                                        payload=kwargs.get("payload", b'{"n": %d}' % k),
                                        error=kwargs.get("error", "boom"), retry=3, at=when)
            self.script(keys=keys_, args=argv, client=pipe)
            ids.append(task_id)
        pipe.execute()
        return ids
