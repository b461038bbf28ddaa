-- op_queue: pause, unpause and delete a queue (asynq's PauseQueue,
-- UnpauseQueue and DeleteQueue).
--
-- KEYS[1] asynq:{<q>}:paused     string (Unix seconds when paused)
-- KEYS[2] asynq:{<q>}:pending    list
-- KEYS[3] asynq:{<q>}:active     list
-- KEYS[4] asynq:{<q>}:scheduled  zset
-- KEYS[5] asynq:{<q>}:retry      zset
-- KEYS[6] asynq:{<q>}:archived   zset
-- KEYS[7] asynq:{<q>}:lease      zset
-- KEYS[8] optional: asynq:queues. With it the queue must be a member, and
--         a deleted queue leaves it here; in Redis Cluster (another slot)
--         the caller checks and SREMs itself.
-- ARGV[1] op:
--   "pause"    SET paused NX to ARGV[3]            {1,"paused"} or {-2,"paused"}
--   "unpause"  DEL paused                          {1,"running"} or {-2,"running"}
--   "delete"   (force=false) only if pending, active, scheduled, retry and
--              archived are all empty: DEL them and the lease, leave the
--              queue set                           {1} or {-5, <first non-empty state>}
--   "check"    (force=true, before purging) refuse while tasks are active
--                                                  {1} or {-5,"active"}
--   "finish"   (force=true, after purging) like "delete", but returns {-6}
--              instead when only non-active keys still hold ids (tasks that
--              arrived meanwhile: the caller purges again)
-- ARGV[2] queue name (for KEYS[8])
-- ARGV[3] now, Unix seconds (pause)
--
-- Returns {-1} if the queue does not exist, else as listed above. Completed
-- tasks, groups, the paused flag, uniqueness locks and stats stay, as asynq
-- leaves them.

local op = ARGV[1]
if KEYS[8] and redis.call("SISMEMBER", KEYS[8], ARGV[2]) == 0 then
  return {-1}
end

if op == "pause" then
  if redis.call("SET", KEYS[1], ARGV[3], "NX") then
    return {1, "paused"}
  end
  return {-2, "paused"}
elseif op == "unpause" then
  if redis.call("DEL", KEYS[1]) == 1 then
    return {1, "running"}
  end
  return {-2, "running"}
end

if redis.call("LLEN", KEYS[3]) > 0 then
  return {-5, "active"}
end
if op == "check" then
  return {1}
end

local names = {"pending", "active", "scheduled", "retry", "archived"}
for i = 2, 6 do
  if redis.call("EXISTS", KEYS[i]) == 1 then
    if op == "finish" then
      return {-6}
    end
    return {-5, names[i - 1]}
  end
end
redis.call("DEL", KEYS[7])
if KEYS[8] then
  redis.call("SREM", KEYS[8], ARGV[2])
end
return {1}
