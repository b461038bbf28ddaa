-- get_task: one task's hash fields and the score that dates it. Read-only.
--
-- KEYS[1] asynq:{<q>}:t:<id>   task hash
-- KEYS[2] asynq:{<q>}:scheduled
-- KEYS[3] asynq:{<q>}:retry
-- KEYS[4] asynq:{<q>}:lease
-- ARGV[1] task id
--
-- Returns nil if the hash does not exist, else {msg, state, result, score}:
--   msg, state, result  hash fields (nil when absent)
--   score  the id's score in :scheduled or :retry when state is that state
--          (next process time), its lease expiry when state is "active",
--          else nil

if redis.call("EXISTS", KEYS[1]) == 0 then
  return false
end
local fields = redis.call("HMGET", KEYS[1], "msg", "state", "result")
local state = fields[2]
local score = false
if state == "scheduled" then
  score = redis.call("ZSCORE", KEYS[2], ARGV[1])
elseif state == "retry" then
  score = redis.call("ZSCORE", KEYS[3], ARGV[1])
elseif state == "active" then
  score = redis.call("ZSCORE", KEYS[4], ARGV[1])
end
return {fields[1], fields[2], fields[3], score}
