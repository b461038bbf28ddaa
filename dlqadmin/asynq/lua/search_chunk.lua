-- search_chunk: scan one bounded chunk of a state's tasks and return only the
-- tasks that may match a filter (a cheap, exact-or-looser pre-filter; the
-- caller decides finally). Read-only.
--
-- KEYS[1] the ids of one state: asynq:{<q>}:pending / :active (list), or
--         :scheduled / :retry / :archived / :completed / :g:<group> (zset)
-- KEYS[2] asynq:{<q>}:lease (zset; only read when ARGV[5] == "lease")
-- ARGV[1] "list" or "zset": the type of KEYS[1]
-- ARGV[2] position to start at (0-based, asynq's display order: a list
--         oldest first, i.e. from the tail; a zset by ascending score)
-- ARGV[3] max number of ids to read in this call
-- ARGV[4] task key prefix asynq:{<q>}:t:
-- ARGV[5] "when" slot of each returned task: "score", "lease" or "none"
-- ARGV[6] cursor: the last id the previous call read ("" on the first call).
--         The scan resumes right after it even if members before it were
--         removed meanwhile (zset: ZRANK, or the cursor's score and a binary
--         search over its ties when it is gone; list: looked up in the window
--         just before ARGV[2]; if gone, the scan resumes at the window start
--         and the caller drops repeats)
-- ARGV[7] cursor's score (zset; "" if none)
-- ARGV[8] stop once the returned msgs exceed this many bytes
-- ARGV[9] stop once the scanned msgs exceed this many bytes
-- ARGV[10] "full" (return msg and result as stored) or "nopayload" (msg
--          with the payload field cut out, no result)
-- ARGV[11] "1": the filter is empty, every id is returned (missing hashes
--          and msgs too); "0": ids without a msg are skipped
-- ARGV[12] type filter mode: "" none, "eq" exact, "prefix"; ARGV[13] the type
-- ARGV[14] "1" if a group filter is set; ARGV[15] the group
-- ARGV[16] retried min ("" none); ARGV[17] retried max ("" none)
-- ARGV[18] time field: "" none, "lf" last_failed_at, "ca" completed_at,
--          "score" the zset score; ARGV[19] since (Unix s, inclusive, "" none),
--          ARGV[20] until (Unix s, exclusive, "" none)
-- ARGV[21] error needle, lowercased ("" none): kept when the ASCII-lowered
--          error contains it, or when the error has non-ASCII bytes (the
--          caller then applies Unicode case folding itself)
--
-- Returns {total, start, n_read, last_id, last_score, then 4 values per
-- returned task in display order}:
--   total      LLEN / ZCARD of KEYS[1] now
--   start      the position the scan actually started at
--   n_read     ids read (the next call starts at start + n_read)
--   last_id    the last id read (false if none), last_score its score (or false)
--   id, msg, result, when   as in list_page.lua (msg: nil if absent, 0 if
--                           the hash is missing; result only in "full" mode)
-- Cost per call: at most ARGV[3] ids, each one HGET plus a walk over the
-- protobuf's field headers (the payload is skipped, not read).

local kind = ARGV[1]
local start_pos = tonumber(ARGV[2])
local count = tonumber(ARGV[3])
local prefix = ARGV[4]
local when = ARGV[5]
local cursor = ARGV[6]
local out_budget = tonumber(ARGV[8])
local scan_budget = tonumber(ARGV[9])
local nopayload = ARGV[10] == "nopayload"
local match_all = ARGV[11] == "1"
local type_mode = ARGV[12]
local ftype = ARGV[13]
local has_group = ARGV[14] == "1"
local fgroup = ARGV[15]
local rmin = tonumber(ARGV[16])
local rmax = tonumber(ARGV[17])
local tfield = ARGV[18]
local since = tonumber(ARGV[19])
local untl = tonumber(ARGV[20])
local needle = ARGV[21]

local byte = string.byte
local sub = string.sub
local find = string.find
local lower = string.lower
local floor = math.floor

-- Byte-wise a < b (Lua's own string comparison follows the C locale).
local function bytes_less(a, b)
  local la, lb = #a, #b
  local n = la < lb and la or lb
  for i = 1, n do
    local x, y = byte(a, i), byte(b, i)
    if x ~= y then
      return x < y
    end
  end
  return la < lb
end

-- Resume position ------------------------------------------------------------
local total
if kind == "list" then
  total = redis.call("LLEN", KEYS[1])
  if cursor ~= "" and start_pos > 0 then
    -- Positions only move down (workers pop the tail, LREM) or stay; look
    -- for the cursor among the positions just before start_pos.
    local lo = start_pos - count
    if lo < 0 then lo = 0 end
    -- Positions lo..start_pos-1 are list indexes -(start_pos) .. -(lo+1),
    -- returned head first, i.e. position start_pos-1 first.
    local window = redis.call("LRANGE", KEYS[1], -start_pos, -(lo + 1))
    local found = nil
    local top = lo + #window - 1
    for i = 1, #window do
      if window[i] == cursor then
        found = top - (i - 1)
        break
      end
    end
    if found then start_pos = found + 1 else start_pos = lo end
  end
else
  total = redis.call("ZCARD", KEYS[1])
  if cursor ~= "" then
    local rank = redis.call("ZRANK", KEYS[1], cursor)
    if rank then
      start_pos = rank + 1
    elseif ARGV[7] ~= "" then
      -- Gone: members before it are those with a lower score, and those
      -- with the same score and smaller bytes.
      local score = ARGV[7]
      local lo = redis.call("ZCOUNT", KEYS[1], "-inf", "(" .. score)
      local hi = lo + redis.call("ZCOUNT", KEYS[1], score, score)
      while lo < hi do
        local mid = floor((lo + hi) / 2)
        local m = redis.call("ZRANGE", KEYS[1], mid, mid)[1]
        if bytes_less(cursor, m) then hi = mid else lo = mid + 1 end
      end
      start_pos = lo
    end
  end
end

-- Read the ids ------------------------------------------------------------------
local ids = {}
local scores = {}
if kind == "list" then
  if start_pos < total then
    local slice = redis.call("LRANGE", KEYS[1], -(start_pos + count), -(start_pos + 1))
    for i = #slice, 1, -1 do
      ids[#ids + 1] = slice[i]
    end
  end
else
  local flat = redis.call("ZRANGE", KEYS[1], start_pos, start_pos + count - 1, "WITHSCORES")
  for i = 1, #flat, 2 do
    ids[#ids + 1] = flat[i]
    scores[#ids] = flat[i + 1]
  end
end

-- Protobuf walk -------------------------------------------------------------------
-- TaskMessage fields used: 1 type, 2 payload, 6 retried, 7 error_msg,
-- 11 last_failed_at, 13 completed_at, 14 group_key. The walk reads only
-- field headers (a payload is skipped by its length) and stops as soon as
-- every field the filter needs was seen: like every protobuf encoder, asynq
-- writes each field at most once. It returns false when the bytes cannot be
-- walked or a number is out of the exact range (the caller decides then).
local need = {}
local n_need = 0
local function needs(fnum)
  if not need[fnum] then
    need[fnum] = true
    n_need = n_need + 1
  end
end
if type_mode ~= "" then needs(1) end
if nopayload then needs(2) end
if rmin or rmax then needs(6) end
if needle ~= "" then needs(7) end
if tfield == "lf" then needs(11) elseif tfield == "ca" then needs(13) end
if has_group then needs(14) end

local f_type_s, f_type_e, f_err_s, f_err_e, f_grp_s, f_grp_e
local f_pay_s, f_pay_e, f_retried, f_lf, f_ca

local function walk(msg)
  f_type_s, f_type_e, f_err_s, f_err_e, f_grp_s, f_grp_e = 1, 0, 1, 0, 1, 0
  f_pay_s, f_pay_e, f_retried, f_lf, f_ca = 0, 0, 0, 0, 0
  local left = n_need
  local p, len = 1, #msg
  while p <= len do
    if left == 0 then return true end
    local fs = p
    -- tag (field numbers of TaskMessage fit in one byte)
    local tag = byte(msg, p)
    p = p + 1
    if tag >= 128 then
      local mul = 128
      tag = tag - 128
      for _ = 1, 4 do
        local b = byte(msg, p)
        if not b then return false end
        p = p + 1
        if b < 128 then tag = tag + b * mul; mul = 0; break end
        tag = tag + (b - 128) * mul
        mul = mul * 128
      end
      if mul ~= 0 then return false end
    end
    local wt = tag % 8
    local fnum = (tag - wt) / 8
    if wt == 0 or wt == 2 then
      -- varint value or length, at most 7 bytes (< 2^49) to stay exact
      local v = byte(msg, p)
      if not v then return false end
      p = p + 1
      if v >= 128 then
        v = v - 128
        local mul = 128
        while true do
          local b = byte(msg, p)
          if not b or mul > 562949953421312 then return false end
          p = p + 1
          if b < 128 then v = v + b * mul; break end
          v = v + (b - 128) * mul
          mul = mul * 128
        end
      end
      if wt == 2 then
        local e = p + v - 1
        if e > len then return false end
        if need[fnum] then
          left = left - 1
          if fnum == 7 then f_err_s, f_err_e = p, e
          elseif fnum == 1 then f_type_s, f_type_e = p, e
          elseif fnum == 14 then f_grp_s, f_grp_e = p, e
          elseif fnum == 2 then f_pay_s, f_pay_e = fs, e end
        end
        p = e + 1
      elseif need[fnum] then
        left = left - 1
        if fnum == 6 then
          if v >= 2147483648 then return false end
          f_retried = v
        elseif fnum == 11 then f_lf = v
        elseif fnum == 13 then f_ca = v end
      end
    elseif wt == 1 then
      p = p + 8
    elseif wt == 5 then
      p = p + 4
    else
      return false
    end
  end
  return p == len + 1
end

local function may_match(msg, score)
  if not walk(msg) then return true end
  if type_mode == "eq" then
    if sub(msg, f_type_s, f_type_e) ~= ftype then return false end
  elseif type_mode == "prefix" then
    if f_type_e - f_type_s + 1 < #ftype then return false end
    if sub(msg, f_type_s, f_type_s + #ftype - 1) ~= ftype then return false end
  end
  if has_group and sub(msg, f_grp_s, f_grp_e) ~= fgroup then return false end
  if rmin and f_retried < rmin then return false end
  if rmax and f_retried > rmax then return false end
  if tfield ~= "" then
    local t
    if tfield == "lf" then t = f_lf
    elseif tfield == "ca" then t = f_ca
    else
      t = tonumber(score)
      if not t or t ~= t or t == math.huge or t == -math.huge then return true end
      if t >= 0 then t = floor(t) else t = -floor(-t) end
    end
    if t == 0 then return false end
    if since and t < since then return false end
    if untl and t >= untl then return false end
  end
  if needle ~= "" then
    local err = sub(msg, f_err_s, f_err_e)
    if not find(lower(err), needle, 1, true) and not find(err, "[\128-\255]") then
      return false
    end
  end
  return true
end

-- Scan ------------------------------------------------------------------------------
local res = {total, start_pos, 0, false, false}
local n = 5
local out_bytes, scan_bytes, n_read = 0, 0, 0
for i, id in ipairs(ids) do
  local key = prefix .. id
  local msg = redis.call("HGET", key, "msg")
  local keep = false
  local score = scores[i]
  if msg then
    scan_bytes = scan_bytes + #msg
    keep = match_all or may_match(msg, score)
    if keep and nopayload and walk(msg) and f_pay_e > 0 then
      msg = sub(msg, 1, f_pay_s - 1) .. sub(msg, f_pay_e + 1)
    end
  elseif match_all then
    keep = true
    if redis.call("EXISTS", key) == 0 then msg = 0 end
  end
  if keep then
    local result = false
    if not nopayload then
      result = redis.call("HGET", key, "result")
    end
    local slot = false
    if when == "score" then
      slot = score
    elseif when == "lease" then
      slot = redis.call("ZSCORE", KEYS[2], id)
    end
    res[n + 1] = id
    res[n + 2] = msg or false
    res[n + 3] = result
    res[n + 4] = slot
    n = n + 4
    if type(msg) == "string" then out_bytes = out_bytes + #msg end
  end
  n_read = i
  res[4] = id
  res[5] = score or false
  if out_bytes >= out_budget or scan_bytes >= scan_budget then break end
end
res[3] = n_read
return res
