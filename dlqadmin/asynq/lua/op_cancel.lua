-- op_cancel: ask the asynq servers to cancel active tasks, as asynq's
-- Inspector.CancelProcessing does (PUBLISH of the task id on the cancel
-- channel every server subscribes to), but only for ids whose task hash says
-- "active", checked in this same atomic call. Changes no key.
--
-- KEYS[1]..KEYS[n]  asynq:{<q>}:t:<id>  task hash of each id (one queue: one slot)
-- KEYS[n+1]   optional: asynq:queues. When given, nothing happens unless
--             ARGV[2] is a member and {-1} is returned. Left out in Redis
--             Cluster (another slot): the caller checks first.
-- ARGV[1]     the cancel channel (asynq:cancel)
-- ARGV[2]     queue name (for KEYS[n+1])
-- ARGV[3..n+2] the task ids, in the order of KEYS
--
-- Returns {-1} if the queue does not exist, else two values per id, in order:
--   code   >= 0: published; the value is how many servers received it
--          -10 NOT_FOUND (no task hash)
--          -2  WRONG_STATE (not active; the state follows)
--          -4  BROKEN (not a hash, or a hash without state)
--   state  the task's state (nil if unknown)

local n = #ARGV - 2
if #KEYS > n then
  if redis.call("SISMEMBER", KEYS[n + 1], ARGV[2]) == 0 then
    return {-1}
  end
end
local out = {}
local function answer(code, state)
  out[#out + 1] = code
  out[#out + 1] = state
end
for i = 1, n do
  local key = KEYS[i]
  local kind = redis.call("TYPE", key)["ok"]
  local state = false
  if kind == "hash" then
    state = redis.call("HGET", key, "state")
  end
  if kind == "none" then
    answer(-10, false)
  elseif not state then
    answer(-4, false)
  elseif state ~= "active" then
    answer(-2, state)
  else
    answer(redis.call("PUBLISH", ARGV[1], ARGV[i + 2]), state)
  end
end
return out
