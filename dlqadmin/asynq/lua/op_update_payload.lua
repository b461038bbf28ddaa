-- op_update_payload: replace a scheduled task's msg, compare-and-set (the
-- effect of asynq's UpdateTaskPayload: only the msg field changes; state,
-- pending_since, group and unique_key stay as they are).
--
-- KEYS[1] asynq:{<q>}:t:<id>  task hash
-- KEYS[2] optional: asynq:queues (left out in Redis Cluster, see op_tasks.lua)
-- ARGV[1] the msg bytes the caller read (the new msg was built from them)
-- ARGV[2] the new msg bytes
-- ARGV[3] queue name (for KEYS[2])
-- ARGV[4] the state the task must be in ("scheduled", as in asynq)
--
-- Returns {code, state}:
--   {-1}          the queue does not exist
--   {0, nil}      no task hash
--   {-2, state}   WRONG_STATE: the task is not in state ARGV[4]
--   {-3, state}   CHANGED: the stored msg is not ARGV[1]
--   {-4, state}   BROKEN: the hash has no msg, or KEYS[1] is not a hash
--   {1, state}    DONE: msg replaced

if KEYS[2] and redis.call("SISMEMBER", KEYS[2], ARGV[3]) == 0 then
  return {-1}
end
local f = redis.pcall("HMGET", KEYS[1], "state", "msg")
if f.err then
  return {-4, false}
end
if redis.call("EXISTS", KEYS[1]) == 0 then
  return {0, false}
end
local state, msg = f[1], f[2]
if state ~= ARGV[4] then
  return {-2, state or false}
end
if not msg then
  return {-4, state}
end
if msg ~= ARGV[1] then
  return {-3, state}
end
redis.call("HSET", KEYS[1], "msg", ARGV[2])
return {1, state}
