-- queue_stats: counts, daily/total stats, latency input and approximate
-- memory usage of one queue, in one call. Read-only.
--
-- KEYS[1]  asynq:{<q>}:pending     list
-- KEYS[2]  asynq:{<q>}:active      list
-- KEYS[3]  asynq:{<q>}:scheduled   zset
-- KEYS[4]  asynq:{<q>}:retry       zset
-- KEYS[5]  asynq:{<q>}:archived    zset
-- KEYS[6]  asynq:{<q>}:completed   zset
-- KEYS[7]  asynq:{<q>}:processed:<YYYY-MM-DD>  today (UTC)
-- KEYS[8]  asynq:{<q>}:failed:<YYYY-MM-DD>     today (UTC)
-- KEYS[9]  asynq:{<q>}:processed   total
-- KEYS[10] asynq:{<q>}:failed      total
-- KEYS[11] asynq:{<q>}:paused
-- KEYS[12] asynq:{<q>}:groups      set of group names
-- ARGV[1]  task key prefix   asynq:{<q>}:t:
-- ARGV[2]  group key prefix  asynq:{<q>}:g:
-- ARGV[3]  tasks sampled per list/zset for memory usage (asynq uses 20);
--          0 skips the memory estimate
-- ARGV[4]  groups sampled for memory usage (asynq uses 5)
--
-- Returns an array of 15:
--   1..6   pending, active, scheduled, retry, archived, completed
--   7..10  processed today, failed today, processed total, failed total
--   11     1 if the queue is paused, else 0
--   12     pending_since (Unix ns, as stored) of the oldest pending task,
--          nil if there is none or it has no such field
--   13     number of groups
--   14     aggregating tasks (sum of the group sizes)
--   15     memory usage in bytes, -1 when skipped
-- or, when a key of the queue has the wrong type, the error reply
--   "DAMAGED <which key>: <Redis error>[; ...]"
--
-- The memory estimate repeats asynq's sampling arithmetic step by step (same
-- keys, same order of additions, same truncation of the float result), so
-- both report the same number for the same data.

-- A key of the wrong type (any producer can write one) must not fail the whole
-- call: each read is a pcall, and a queue with such keys answers an error reply
-- "DAMAGED <what>: <error>; ..." that the client reports as a damaged queue.
local problems = {}
local function call(what, ...)
  local r = redis.pcall(...)
  if type(r) == "table" and r.err then
    problems[#problems + 1] = what .. ": " .. r.err
    return false
  end
  return r
end

local names = {"pending", "active", "scheduled", "retry", "archived", "completed",
               "processed today", "failed today", "processed total", "failed total"}
local counts = {
  call(names[1], "LLEN", KEYS[1]) or 0,
  call(names[2], "LLEN", KEYS[2]) or 0,
  call(names[3], "ZCARD", KEYS[3]) or 0,
  call(names[4], "ZCARD", KEYS[4]) or 0,
  call(names[5], "ZCARD", KEYS[5]) or 0,
  call(names[6], "ZCARD", KEYS[6]) or 0,
}
local res = {}
for i = 1, 6 do
  res[i] = counts[i]
end
for i = 7, 10 do
  res[i] = tonumber(call(names[i], "GET", KEYS[i]) or "0") or 0
end
res[11] = redis.call("EXISTS", KEYS[11])
-- false (not nil) keeps the array intact; the client sees a nil reply.
res[12] = false
if #problems == 0 and counts[1] > 0 then
  local oldest = redis.call("LRANGE", KEYS[1], -1, -1)[1]
  res[12] = call("oldest pending task", "HGET", ARGV[1] .. oldest, "pending_since")
end

local group_names = call("groups", "SMEMBERS", KEYS[12]) or {}
local aggregating = 0
local group_sizes = {}
for i, gname in ipairs(group_names) do
  group_sizes[i] = call("group", "ZCARD", ARGV[2] .. gname) or 0
  aggregating = aggregating + group_sizes[i]
end
res[13] = #group_names
res[14] = aggregating
if #problems > 0 then
  return redis.error_reply("DAMAGED " .. table.concat(problems, "; "))
end

local sample_size = tonumber(ARGV[3])
if sample_size <= 0 then
  res[15] = -1
  return res
end

local function sample_total(ids)
  local total = 0
  for _, id in ipairs(ids) do
    -- A stale id has no hash: count nothing for it instead of failing.
    local bytes = redis.call("MEMORY", "USAGE", ARGV[1] .. id)
    if bytes then
      total = total + bytes
    end
  end
  return total
end

local memusg = 0
-- asynq's order: active, pending, then the four zsets.
local order = {2, 1, 3, 4, 5, 6}
for _, i in ipairs(order) do
  local ids
  if i <= 2 then
    ids = redis.call("LRANGE", KEYS[i], 0, sample_size - 1)
  else
    ids = redis.call("ZRANGE", KEYS[i], 0, sample_size - 1)
  end
  if #ids > 0 then
    local avg = sample_total(ids) / #ids
    memusg = memusg + (avg * counts[i])
  end
  local m = redis.call("MEMORY", "USAGE", KEYS[i])
  if m then
    memusg = memusg + m
  end
end

if #group_names > 0 then
  local group_sample_total = 0
  local group_sample_n = 0
  for i, gname in ipairs(group_names) do
    if i <= tonumber(ARGV[4]) then
      local ids = redis.call("ZRANGE", ARGV[2] .. gname, 0, sample_size - 1)
      group_sample_total = group_sample_total + sample_total(ids)
      group_sample_n = group_sample_n + #ids
    end
  end
  if group_sample_n > 0 then
    memusg = memusg + (group_sample_total / group_sample_n) * aggregating
  end
end
res[15] = memusg
return res
