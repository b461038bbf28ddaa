-- vault_scan: the next chunk of a queue's archived set after a cursor, with each
-- task's msg, for the vault's capture loop (read only).
--
-- The archived zset is ordered by (score, member): asynq scores a dead task with
-- the second it died, so many tasks share a score, and Redis orders those by the
-- member's bytes. The cursor is such a (score, member) pair; the chunk starts at
-- the first member after it, whether or not the cursor's own member is still in
-- the set (it may have been retried or trimmed meanwhile).
--
-- KEYS[1] asynq:{<q>}:archived  zset, score = time archived (Unix seconds)
-- ARGV[1] task key prefix asynq:{<q>}:t:
-- ARGV[2] cursor score ("" = from the start of the set)
-- ARGV[3] cursor member
-- ARGV[4] the set's last member's score at the previous call ("" = none)
-- ARGV[5] that last member
-- ARGV[6] at most this many tasks
-- ARGV[7] byte budget: stop after the msgs returned reach this many bytes
--
-- Returns {zcard, start, kept, head_score, head_member, tail_score, tail_member,
--          then four values per task: id, score, msg, state}
--   zcard   members now
--   start   members at or before the cursor (the chunk begins at this rank)
--   kept    members at or before the previous call's last member (-1: none given)
--   head_*  the first member (false when the set is empty)
--   tail_*  the last member
--   msg     the task hash's msg (false: no hash or no msg), state its state
--           (false: none; "!" when the key is not a hash)

local key = KEYS[1]
local prefix = ARGV[1]
local max = tonumber(ARGV[6])
local budget = tonumber(ARGV[7])

-- a < b in memcmp order, the order Redis gives members of equal score.
local function lt(a, b)
  local n = math.min(#a, #b)
  local i = 1
  while i <= n do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then
      return x < y
    end
    i = i + 1
  end
  return #a < #b
end

-- How many members sort at or before (score, member): O(log N) calls.
local function count_le(score, member)
  local s = redis.call("ZSCORE", key, member)
  if s and tonumber(s) == tonumber(score) then
    return redis.call("ZRANK", key, member) + 1
  end
  local lo = redis.call("ZCOUNT", key, "-inf", "(" .. score)
  local hi = lo + redis.call("ZCOUNT", key, score, score)
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    local m = redis.call("ZRANGE", key, mid, mid)[1]
    if lt(member, m) then
      hi = mid
    else
      lo = mid + 1
    end
  end
  return lo
end

local zcard = redis.call("ZCARD", key)
local start = 0
if ARGV[2] ~= "" then
  start = count_le(ARGV[2], ARGV[3])
end
local kept = -1
if ARGV[4] ~= "" then
  kept = count_le(ARGV[4], ARGV[5])
end
local head = redis.call("ZRANGE", key, 0, 0, "WITHSCORES")
local tail = redis.call("ZRANGE", key, -1, -1, "WITHSCORES")
local out = {zcard, start, kept, head[2] or false, head[1] or false, tail[2] or false, tail[1] or false}

local members = redis.call("ZRANGE", key, start, start + max - 1, "WITHSCORES")
local used = 0
for i = 1, #members, 2 do
  local id = members[i]
  local f = redis.pcall("HMGET", prefix .. id, "msg", "state")
  local msg, state
  if f.err then
    msg, state = false, "!"
  else
    msg, state = f[1] or false, f[2] or false
  end
  out[#out + 1] = id
  out[#out + 1] = members[i + 1]
  out[#out + 1] = msg
  out[#out + 1] = state
  if msg then
    used = used + #msg
  end
  if used >= budget then
    break
  end
end
return out
