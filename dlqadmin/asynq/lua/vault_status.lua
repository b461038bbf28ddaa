-- vault_status: where some captured dead tasks stand now in asynq (read only).
--
-- KEYS[1] asynq:{<q>}:archived  zset
-- ARGV[1] task key prefix asynq:{<q>}:t:
-- ARGV[2] age cutoff score: a task archived at or before it is past asynq's
--         90-day limit (its removal is asynq's trim by age)
-- ARGV[3..] pairs: task id, the score it was captured with
--
-- Returns one {code, state} pair per task:
--   1  still in the archived set with that score                 (in_asynq)
--   2  the task exists in another state, or was archived again
--      later (another score); state = its state                  (left)
--   3  gone with its hash, and older than every task still in
--      the set or past the age cutoff: asynq's trim              (trimmed)
--   4  gone from the set but its hash says archived: an orphan,
--      what older asynq versions leave when they trim            (trimmed)
--   5  gone with its hash, not where a trim removes tasks:
--      deleted by someone                                        (left)
--   6  the key is not a hash (damaged)                           (left)

local key = KEYS[1]
local prefix = ARGV[1]
local cutoff = tonumber(ARGV[2])

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

local head = redis.call("ZRANGE", key, 0, 0, "WITHSCORES")
local head_member, head_score = head[1], tonumber(head[2])
local out = {}
for i = 3, #ARGV, 2 do
  local id, score = ARGV[i], tonumber(ARGV[i + 1])
  local now = redis.call("ZSCORE", key, id)
  local code, state = 0, false
  if now and tonumber(now) == score then
    code = 1
  else
    local f = redis.pcall("HGET", prefix .. id, "state")
    if type(f) == "table" and f.err then
      code = 6
    elseif f then
      state = f
      if now or f ~= "archived" then
        code = 2
      else
        code = 4
      end
    else
      local older = score <= cutoff or (head_member ~= nil and
        (score < head_score or (score == head_score and lt(id, head_member))))
      if older then code = 3 else code = 5 end
    end
  end
  out[#out + 1] = code
  out[#out + 1] = state
end
return out
