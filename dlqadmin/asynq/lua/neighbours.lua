-- neighbours: the ids just before and just after one task in its state's
-- display order (the task page's previous / next). Read-only.
--
-- KEYS[1] the ids of one state: a list (pending, active) or a zset
-- ARGV[1] "list" or "zset": the type of KEYS[1]
-- ARGV[2] the task id
-- ARGV[3] "asc" (asynq's order: a list oldest first, a zset by ascending
--         score) or "desc" (the reverse), as list_page.lua pages them
-- ARGV[4] for a list: how many entries LPOS may scan (bounded work; a task
--         further from the head than that has no neighbours shown)
--
-- Returns {found, previous, next}: found 1 or 0; previous / next an id or
-- false at either end (or when not found).

local id = ARGV[2]
local desc = ARGV[3] == "desc"
local before, after = false, false

if ARGV[1] == "zset" then
  local rank = desc and redis.call("ZREVRANK", KEYS[1], id) or redis.call("ZRANK", KEYS[1], id)
  if not rank then
    return {0, false, false}
  end
  local lo = rank > 0 and rank - 1 or 0
  local ids = redis.call(desc and "ZREVRANGE" or "ZRANGE", KEYS[1], lo, rank + 1)
  local at = rank - lo + 1
  before = ids[at - 1] or false
  after = ids[at + 1] or false
  return {1, before, after}
end

-- A list: index 0 is the head, the newest task (asynq LPUSHes).
local index = redis.call("LPOS", KEYS[1], id, "MAXLEN", tonumber(ARGV[4]))
if not index then
  return {0, false, false}
end
local lo = index > 0 and index - 1 or 0
local ids = redis.call("LRANGE", KEYS[1], lo, index + 1)
local at = index - lo + 1
local newer, older = ids[at - 1] or false, ids[at + 1] or false
if desc then
  before, after = newer, older
else
  before, after = older, newer
end
return {1, before, after}
