-- list_page: one page of the tasks of one state, with each task's hash
-- fields, in a single round trip. Read-only.
--
-- KEYS[1] the ids of one state: asynq:{<q>}:pending / :active (list), or
--         :scheduled / :retry / :archived / :completed / :g:<group> (zset)
-- KEYS[2] asynq:{<q>}:lease (zset; only read when ARGV[5] == "lease")
-- ARGV[1] "list" or "zset": the type of KEYS[1]
-- ARGV[2] first position, ARGV[3] last position (0-based, inclusive) in
--         the display order of ARGV[6]
-- ARGV[6] "asc": asynq's display order, a list oldest first (asynq LPUSHes,
--         so position 0 is the tail), a zset by ascending score (for the
--         archived set: oldest death first); "desc": the reverse (newest
--         first), read with LRANGE from the head / ZREVRANGE, so a page of
--         either order costs the same and nothing else is fetched
-- ARGV[4] task key prefix asynq:{<q>}:t:
-- ARGV[5] what goes in each task's "when" slot: "score" (the zset score),
--         "lease" (the id's lease expiry in KEYS[2]) or "none"
-- KEYS[3] optional: asynq:queues, with ARGV[7] the queue name. When given,
--         the page is read only if the queue is a member (asynq's existence
--         test) and {-1} is returned otherwise. It saves a round trip on a
--         single Redis; in Redis Cluster the caller checks separately, as
--         asynq:queues lives in another slot.
--
-- Returns {total, then 4 values per task in display order}:
--   total   LLEN / ZCARD of KEYS[1]
--   id      the member of KEYS[1]
--   msg     the hash's "msg" field; nil if the hash exists without it;
--           the integer 0 if there is no hash at all (a stale id)
--   result  the hash's "result" field, nil if absent
--   when    per ARGV[5]: a score as a string, or nil
--
-- One HMGET per task keeps the number of redis.call()s (the main cost of a
-- script) at one per task; EXISTS runs only for the rare missing msg.

if KEYS[3] and redis.call("SISMEMBER", KEYS[3], ARGV[7]) == 0 then
  return {-1}
end

local start_pos = tonumber(ARGV[2])
local stop_pos = tonumber(ARGV[3])
local prefix = ARGV[4]
local when = ARGV[5]
local desc = ARGV[6] == "desc"
local res = {}
local n = 1

local ids = {}
local scores = {}
if ARGV[1] == "list" then
  res[1] = redis.call("LLEN", KEYS[1])
  if desc then
    -- Newest first is the list's own order from the head.
    ids = redis.call("LRANGE", KEYS[1], start_pos, stop_pos)
  else
    -- Position p is list index -(p + 1); read the slice, then walk it from
    -- the tail end so the oldest task comes first.
    local slice = redis.call("LRANGE", KEYS[1], -(stop_pos + 1), -(start_pos + 1))
    for i = #slice, 1, -1 do
      ids[#ids + 1] = slice[i]
    end
  end
elseif when == "score" then
  res[1] = redis.call("ZCARD", KEYS[1])
  local flat = redis.call(desc and "ZREVRANGE" or "ZRANGE", KEYS[1], start_pos, stop_pos, "WITHSCORES")
  for i = 1, #flat, 2 do
    ids[#ids + 1] = flat[i]
    scores[#ids] = flat[i + 1]
  end
else
  res[1] = redis.call("ZCARD", KEYS[1])
  ids = redis.call(desc and "ZREVRANGE" or "ZRANGE", KEYS[1], start_pos, stop_pos)
end

for i, id in ipairs(ids) do
  local key = prefix .. id
  local fields = redis.call("HMGET", key, "msg", "result")
  local msg = fields[1]
  if not msg and redis.call("EXISTS", key) == 0 then
    msg = 0
  end
  local slot = false
  if when == "score" then
    slot = scores[i]
  elseif when == "lease" then
    slot = redis.call("ZSCORE", KEYS[2], id)
  end
  res[n + 1] = id
  res[n + 2] = msg
  res[n + 3] = fields[2]
  res[n + 4] = slot
  n = n + 4
end
return res
