-- op_tasks: run, archive or delete tasks (one task, the selected ids of a
-- bulk operation, or the next chunk of "all tasks of a state"), with the
-- effects of asynq's RunTask / ArchiveTask / DeleteTask and their *All*
-- variants. Each task is checked against its hash inside this one atomic
-- call, so it is either moved completely or left untouched; a task that is
-- no longer where the caller saw it gets a code, not a move.
--
-- KEYS[1] asynq:{<q>}:pending   list  (run LPUSHes ids here)
-- KEYS[2] asynq:{<q>}:archived  zset  (archive ZADDs ids here)
-- KEYS[3] asynq:{<q>}:groups    set of group names
-- KEYS[4] asynq:{<q>}:active    list  (purge is refused while non-empty)
-- KEYS[5] optional: asynq:queues. When given, nothing happens unless ARGV[5]
--         is a member (asynq's queue-exists test) and {-1} is returned.
--         Left out in Redis Cluster (another slot): the caller checks first.
-- ARGV[1] op: "run" | "archive" | "delete" | "purge"
-- ARGV[2] queue key prefix asynq:{<q>}:
-- ARGV[3] expected state: the task must be in it, else CHANGED; "" = any
--         state the op allows (only with ARGV[7] = "ids")
-- ARGV[4] the list/zset of the expected state (for "aggregating" the group's
--         zset asynq:{<q>}:g:<group>), or "" when unknown. A stale id (member
--         without a task hash) is removed from it; "all" reads ids from it.
-- ARGV[5] queue name (for KEYS[5])
-- ARGV[6] option. run: "1" = ARGV[8..] are triples (id, msg the caller read,
--         new msg): compare-and-set, the new msg is written with the move
--         ("ids" only); "0" = plain ids. archive: the score (Unix seconds,
--         now). delete: "1" = also delete the task's uniqueness lock if it
--         still holds this id (DeleteTask); "0" = leave locks (asynq's
--         DeleteAllPendingTasks / DeleteAllAggregatingTasks).
-- ARGV[7] "ids": ARGV[8..] are the task ids (or triples).
--         "all": take the next chunk from ARGV[4] itself, oldest first:
--         ARGV[8] highest score to take ("" for the pending list),
--         ARGV[9] how many of the oldest ids to skip (ids the caller already
--         saw fail, which stay in place), ARGV[10] how many to take,
--         ARGV[11] optional "1": also return the ids moved (see below).
--
-- Returns {-1} if the queue does not exist; for purge {-5} while the queue
-- has active tasks; else {taken, done, then three values per id that was
-- not done: id, code, state}:
--   taken  ids looked at (0 in "all" mode: nothing left to take)
--   done   ids moved (the op's code 1, DONE); in "all" mode with ARGV[11]
--          = "1" the `done` moved ids follow right here, before the
--          triples (a caller that verifies its moves after a failover
--          needs them)
--   code   0 NOT_FOUND (no task hash; the stale id left ARGV[4]);
--          -2 WRONG_STATE (not allowed in that state: run on pending/active,
--          archive on archived/active, delete on active); -3 CHANGED (not in
--          the expected state, or for a rewrite the msg is not the one
--          read); -4 BROKEN (hash without state or msg, unknown state, not a
--          hash, a group field that disagrees, or the id is missing from its
--          state's key): nothing changed for that id
--   state  the task's current state (nil if unknown)
--
-- run and archive also refuse (BROKEN) a task whose msg is missing or is not
-- a valid TaskMessage of this task (malformed protobuf, a string field that
-- is not UTF-8, or an id / queue other than where it is stored): asynq's own
-- RunTask / ArchiveTask would move it, and its workers would then fail to
-- decode it (Dequeue: "cannot decode message"). delete works on such a task,
-- as asynq's DeleteTask does: it is the way to get rid of one.
--
-- purge ("all" only; asynq's DeleteQueue with force): every id taken is
-- removed with its hash whatever the hash says; locks stay, as in asynq.
--
-- Never trims the archived zset (asynq trims it to 9,999 members and 90 days
-- on every archive). Calls that can fail on damaged data are made with
-- pcall or checked before the first write, so an error never half-moves a
-- task.

local op = ARGV[1]
local prefix = ARGV[2]
local expected = ARGV[3]
local source = ARGV[4]
local option = ARGV[6]
local window = ARGV[7]
local tprefix = prefix .. "t:"
local gprefix = prefix .. "g:"

if op ~= "run" and op ~= "archive" and op ~= "delete" and op ~= "purge" then
  return redis.error_reply("ERR unknown op " .. tostring(op))
end
if window ~= "ids" and window ~= "all" then
  return redis.error_reply("ERR unknown window " .. tostring(window))
end
if KEYS[5] and redis.call("SISMEMBER", KEYS[5], ARGV[5]) == 0 then
  return {-1}
end

local function has_type(key, want)
  local t = redis.call("TYPE", key)["ok"]
  return t == "none" or t == want
end
local source_is_list = expected == "pending"
if not (has_type(KEYS[1], "list") and has_type(KEYS[2], "zset")
    and has_type(KEYS[3], "set") and has_type(KEYS[4], "list")
    and (source == "" or has_type(source, source_is_list and "list" or "zset"))) then
  return redis.error_reply("WRONGTYPE a key of the queue holds the wrong kind of value")
end

local rewrite = op == "run" and option == "1"
local check_msg = op == "run" or op == "archive"
local qname = ARGV[5]

-- Validity of a msg (see above) ------------------------------------------------
local byte, sub, find = string.byte, string.sub, string.find

local function utf8_ok(s)
  if not find(s, "[\128-\255]") then
    return true
  end
  local i, n = 1, #s
  while i <= n do
    local c = byte(s, i)
    if c < 128 then
      i = i + 1
    else
      local len
      if c >= 194 and c <= 223 then len = 2
      elseif c >= 224 and c <= 239 then len = 3
      elseif c >= 240 and c <= 244 then len = 4
      else return false end
      if i + len - 1 > n then return false end
      local c2 = byte(s, i + 1)
      if c2 < 128 or c2 > 191 then return false end
      if (c == 224 and c2 < 160) or (c == 237 and c2 > 159)
          or (c == 240 and c2 < 144) or (c == 244 and c2 > 143) then
        return false  -- overlong, surrogate, or beyond U+10FFFF
      end
      for k = 2, len - 1 do
        local b = byte(s, i + k)
        if b < 128 or b > 191 then return false end
      end
      i = i + len
    end
  end
  return true
end

-- A varint at p (at most 10 bytes): the position after it and its value
-- (exact up to 2^53, enough for lengths), or nil.
local function varint(s, p)
  local v, mul = 0, 1
  for _ = 1, 10 do
    local b = byte(s, p)
    if not b then return nil end
    p = p + 1
    if b < 128 then return p, v + b * mul end
    v = v + (b - 128) * mul
    mul = mul * 128
  end
  return nil
end

-- Walk the fields of s[p..e]; strings: the field numbers holding UTF-8 text;
-- sub_entry: the field number of map entries to walk too. Returns ok and the
-- last values of fields 3 and 4 (a TaskMessage's id and queue).
local TASK_STRINGS = {[1] = true, [3] = true, [4] = true, [7] = true, [10] = true, [14] = true}
local ENTRY_STRINGS = {[1] = true, [2] = true}
local function fields_ok(s, p, e, strings, sub_entry)
  local f3, f4 = "", ""
  while p <= e do
    local tag
    p, tag = varint(s, p)
    if not p or p > e + 1 then return false end
    local wt = tag % 8
    local fnum = (tag - wt) / 8
    if fnum < 1 or fnum > 536870911 then return false end
    if wt == 0 then
      p = varint(s, p)
      if not p or p > e + 1 then return false end
    elseif wt == 1 then
      p = p + 8
    elseif wt == 5 then
      p = p + 4
    elseif wt == 2 then
      local len
      p, len = varint(s, p)
      if not p then return false end
      local last = p + len - 1
      if last > e then return false end
      if strings[fnum] then
        local v = sub(s, p, last)
        if not utf8_ok(v) then return false end
        if fnum == 3 then f3 = v elseif fnum == 4 then f4 = v end
      elseif fnum == sub_entry then
        if not fields_ok(s, p, last, ENTRY_STRINGS, nil) then return false end
      end
      p = last + 1
    else
      return false  -- groups (never written by asynq) or an invalid wire type
    end
    if p > e + 1 then return false end
  end
  return true, f3, f4
end

local function msg_ok(msg, id)
  if not msg then return false end
  local ok, mid, mq = fields_ok(msg, 1, #msg, TASK_STRINGS, 15)
  return ok and mid == id and mq == qname
end
local release_locks = op == "delete" and option == "1"
local group_of_source = false
if expected == "aggregating" and source ~= "" then
  group_of_source = string.sub(source, #gprefix + 1)
end

local failed = {}
local function fail(id, code, state)
  failed[#failed + 1] = id
  failed[#failed + 1] = code
  failed[#failed + 1] = state or false
end

-- The uniqueness lock to delete with a task: its unique_key, if that is a
-- key of this queue that still holds the task's id (asynq's DeleteTask).
local function lock_of(id, unique_key)
  if release_locks and unique_key and unique_key ~= ""
      and string.sub(unique_key, 1, #prefix) == prefix
      and redis.pcall("GET", unique_key) == id then
    return unique_key
  end
  return false
end

-- Remove ids taken from the source, and the group's name from the groups
-- set once its zset is gone (as asynq does).
local function remove_from_source(ids, whole_tail)
  if #ids == 0 then
    return
  end
  if source_is_list then
    if whole_tail then
      redis.call("LTRIM", source, 0, -(#ids + 1))
    else
      for _, id in ipairs(ids) do
        redis.call("LREM", source, -1, id)
      end
    end
  else
    redis.call("ZREM", source, unpack(ids))
  end
  if group_of_source and redis.call("EXISTS", source) == 0 then
    redis.call("SREM", KEYS[3], group_of_source)
  end
end

-- "all": the next chunk of the source, oldest first ---------------------------

if window == "all" then
  if source == "" or expected == "" or rewrite or expected == "active"
      or (op == "run" and expected == "pending")
      or (op == "archive" and expected == "archived") then
    return redis.error_reply("ERR 'all' needs a source and a state the op allows, and no rewrite")
  end
  local offset = tonumber(ARGV[9])
  local count = tonumber(ARGV[10])
  local ids
  if source_is_list then
    -- asynq LPUSHes, so the oldest ids are at the tail.
    local slice = redis.call("LRANGE", source, -(offset + count), -(offset + 1))
    ids = {}
    for i = #slice, 1, -1 do
      ids[#ids + 1] = slice[i]
    end
  else
    ids = redis.call("ZRANGEBYSCORE", source, "-inf", ARGV[8], "LIMIT", offset, count)
  end

  if op == "purge" then
    if redis.call("LLEN", KEYS[4]) > 0 then
      return {-5}
    end
    for _, id in ipairs(ids) do
      redis.call("DEL", tprefix .. id)
    end
    remove_from_source(ids, offset == 0)
    return {#ids, #ids}
  end

  local moved = {}    -- ids done, in source order
  local dropped = {}  -- ids leaving the source: moved ones and stale ones
  for _, id in ipairs(ids) do
    local key = tprefix .. id
    local f = redis.pcall("HMGET", key, "state", "group", "unique_key", "msg")
    if f.err then
      fail(id, -4, false)
    elseif not f[1] then
      if redis.call("EXISTS", key) == 0 then
        dropped[#dropped + 1] = id
        fail(id, 0, false)
      else
        fail(id, -4, false)
      end
    elseif f[1] ~= expected then
      fail(id, -3, f[1])
    elseif group_of_source and f[2] ~= group_of_source then
      fail(id, -4, f[1])
    elseif check_msg and not msg_ok(f[4], id) then
      fail(id, -4, f[1])
    else
      moved[#moved + 1] = id
      dropped[#dropped + 1] = id
      if op == "run" then
        redis.call("HSET", key, "state", "pending")
      elseif op == "archive" then
        redis.call("HSET", key, "state", "archived")
      else
        local lock = lock_of(id, f[3])
        if lock then
          redis.call("DEL", lock)
        end
        redis.call("DEL", key)
      end
    end
  end
  remove_from_source(dropped, offset == 0 and #dropped == #ids)
  if #moved > 0 then
    if op == "run" then
      -- One LPUSH of many values pushes them one after the other: the
      -- oldest task ends up nearest the tail, as with asynq's RunAll.
      redis.call("LPUSH", KEYS[1], unpack(moved))
    elseif op == "archive" then
      local args = {}
      for _, id in ipairs(moved) do
        args[#args + 1] = option
        args[#args + 1] = id
      end
      redis.call("ZADD", KEYS[2], unpack(args))
    end
  end
  local res = {#ids, #moved}
  if ARGV[11] == "1" then
    for _, id in ipairs(moved) do
      res[#res + 1] = id
    end
  end
  for _, v in ipairs(failed) do
    res[#res + 1] = v
  end
  return res
end

-- "ids": the given tasks, each wherever its hash says it is -----------------------

if op == "purge" then
  return redis.error_reply("ERR purge works on 'all' only")
end

local ZSET_STATES = {scheduled = true, retry = true, archived = true, completed = true}

-- A write refused by the user's ACL (read-only credentials) ends the call with
-- that error, before anything was written, instead of looking like damage.
local function refused(r)
  if type(r) == "table" and r.err and string.find(r.err, "can't run this command", 1, true) then
    return redis.error_reply(r.err)
  end
  return false
end

-- Remove id from the key of `state`; true if it was there.
local function unlink(state, group, id)
  local r
  if state == "pending" then
    -- Ids are unique in a list (asynq's enqueue refuses an existing id);
    -- scanning from the tail finds the oldest tasks first.
    r = redis.pcall("LREM", KEYS[1], -1, id)
  elseif ZSET_STATES[state] then
    r = redis.pcall("ZREM", prefix .. state, id)
  elseif state == "aggregating" and group then
    local gkey = gprefix .. group
    r = redis.pcall("ZREM", gkey, id)
    if refused(r) then
      return refused(r)
    end
    if r == 1 and redis.call("EXISTS", gkey) == 0 then
      redis.call("SREM", KEYS[3], group)
    end
  else
    return false
  end
  if refused(r) then
    return refused(r)
  end
  return r == 1
end

local step = rewrite and 3 or 1
local taken, done = 0, 0
for i = 8, #ARGV, step do
  local id = ARGV[i]
  local key = tprefix .. id
  taken = taken + 1
  local f
  if check_msg then
    f = redis.pcall("HMGET", key, "state", "group", "unique_key", "msg")
  else
    f = redis.pcall("HMGET", key, "state", "group", "unique_key")
  end
  if f.err then
    fail(id, -4, false)
  elseif not f[1] then
    if redis.call("EXISTS", key) == 0 then
      if source ~= "" then
        remove_from_source({id}, false)
      end
      fail(id, 0, false)
    else
      fail(id, -4, false)
    end
  else
    local state = f[1]
    if expected ~= "" and state ~= expected then
      fail(id, -3, state)
    elseif group_of_source and f[2] ~= group_of_source then
      fail(id, -3, state)  -- aggregating, but in another group than asked
    elseif state == "active"
        or (op == "run" and state == "pending")
        or (op == "archive" and state == "archived") then
      fail(id, -2, state)
    elseif rewrite and (not f[4] or f[4] == "") then
      fail(id, -4, state)  -- no msg to compare (or an empty one): damaged
    elseif check_msg and not msg_ok(f[4], id) then
      fail(id, -4, state)
    elseif rewrite and f[4] ~= ARGV[i + 1] then
      fail(id, -3, state)
    else
      local lock = false
      if op == "delete" then
        lock = lock_of(id, f[3])  -- read before the first write
      end
      local unlinked = unlink(state, f[2], id)
      if type(unlinked) == "table" then
        return unlinked  -- refused by the ACL: nothing was written
      elseif not unlinked then
        fail(id, -4, state)
      else
        if op == "run" then
          redis.call("LPUSH", KEYS[1], id)
          if rewrite then
            redis.call("HSET", key, "state", "pending", "msg", ARGV[i + 2])
          else
            redis.call("HSET", key, "state", "pending")
          end
        elseif op == "archive" then
          redis.call("ZADD", KEYS[2], option, id)
          redis.call("HSET", key, "state", "archived")
        else
          if lock then
            redis.call("DEL", lock)
          end
          redis.call("DEL", key)
        end
        done = done + 1
      end
    end
  end
end
local res = {taken, done}
for _, v in ipairs(failed) do
  res[#res + 1] = v
end
return res
