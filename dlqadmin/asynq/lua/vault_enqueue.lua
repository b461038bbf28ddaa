-- vault_enqueue: put tasks back from the vault the way asynq's own Enqueue does
-- (its enqueueCmd): the hash gets msg, state "pending" and pending_since, and the
-- id is LPUSHed onto the pending list; a task whose id exists in the queue (in
-- any state) is refused and left as it is. The caller SADDs the queue name to
-- asynq:queues first, as asynq's Enqueue does (another slot in Redis Cluster).
--
-- KEYS[1] asynq:{<q>}:pending  list
-- KEYS[2..] asynq:{<q>}:t:<id> task hashes, one per task
-- ARGV[1] now, Unix nanoseconds (pending_since)
-- ARGV[2..] pairs per task, in the order of KEYS[2..]: id, msg
--
-- Returns one {code, state} pair per task:
--   1  enqueued (state nil)
--   0  refused: the id is live in asynq; state = its current state
--      ("!" when the key exists but is not a task hash)

local out = {}
for k = 2, #KEYS do
  local a = 2 + (k - 2) * 2
  local id, msg = ARGV[a], ARGV[a + 1]
  if redis.call("EXISTS", KEYS[k]) == 1 then
    local s = redis.pcall("HGET", KEYS[k], "state")
    if type(s) == "table" and s.err then
      s = "!"
    end
    out[#out + 1] = 0
    out[#out + 1] = s or false
  else
    redis.call("HSET", KEYS[k], "msg", msg, "state", "pending", "pending_since", ARGV[1])
    redis.call("LPUSH", KEYS[1], id)
    out[#out + 1] = 1
    out[#out + 1] = false
  end
end
return out
