-- groups: every group of a queue with its size. Read-only.
--
-- KEYS[1] asynq:{<q>}:groups  set of group names
-- ARGV[1] group key prefix asynq:{<q>}:g:
--
-- Returns {name1, size1, name2, size2, ...} (set order, unsorted); size is
-- the ZCARD of asynq:{<q>}:g:<name>.

local res = {}
for _, gname in ipairs(redis.call("SMEMBERS", KEYS[1])) do
  res[#res + 1] = gname
  res[#res + 1] = redis.call("ZCARD", ARGV[1] .. gname)
end
return res
