-- vault_orphans: which task hashes of a queue are orphans (asynq #847): marked
-- archived but in no archived set. Older asynq versions leave them behind when
-- they trim the archive, and so does asynq's ArchiveAll* through its Inspector.
-- With ARGV[2] = "delete" the orphans among them are deleted (each re-checked
-- here, in this one atomic call, so a task archived again meanwhile is kept).
--
-- KEYS[1] asynq:{<q>}:archived  zset
-- ARGV[1] task key prefix asynq:{<q>}:t:
-- ARGV[2] "find" | "delete"
-- ARGV[3..] task ids (the keys a SCAN step found, without the prefix)
--
-- Returns the ids that are orphans (find), or that were deleted (delete). A key
-- that is not a hash is never an orphan.

local out = {}
for i = 3, #ARGV do
  local id = ARGV[i]
  local state = redis.pcall("HGET", ARGV[1] .. id, "state")
  if state == "archived" and not redis.call("ZSCORE", KEYS[1], id) then
    if ARGV[2] == "delete" then
      redis.call("DEL", ARGV[1] .. id)
    end
    out[#out + 1] = id
  end
end
return out
