-- Shared by the scripts that change a booking (layout 2; see `redis_store.rs`).
-- KEYS: record, due, outbox list, outbox set, live counters, device index, usage ledger.
-- ARGV: id (16 bytes), id (hex), record value, version, due ms|'', entry, event|'', event ms,
--       wake-up channel, ledger entry|'', then the device digests (12 bytes each).
-- An index entry is ENTRY bytes: id (16), live '0'/'1', start ms and end ms (6 bytes each,
-- big-endian), client digest (8); a device's field holds its entries one after another.
local ENTRY = 37

-- The big-endian number in `n` bytes of `s` from `p`.
local function num(s, p, n)
  local v = 0
  for i = p, p + n - 1 do v = v * 256 + string.byte(s, i) end
  return v
end

local function push_event(list, outbox, member, element, at)
  if element == '' then return end
  redis.call('RPUSH', list, element)
  -- A claimed outbox keeps its lease; a new one is due at once.
  if not redis.call('ZSCORE', outbox, member) then redis.call('ZADD', outbox, at, member) end
end

-- The version of a stored record (`<version>|<record>`), or nil.
local function version_of(key)
  local cur = redis.call('GET', key)
  if not cur then return nil end
  return tonumber(string.match(cur, '^(%d+)|'))
end

-- Position of `id`'s entry in a device's entries, or nil.
local function find(list, id)
  for p = 1, #list, ENTRY do
    if string.sub(list, p, p + 15) == id then return p end
  end
  return nil
end

-- `id`'s entry (without the id) in the device's field, or nil.
local function entry_of(index, digest, id)
  local list = redis.call('HGET', index, digest) or ''
  local p = find(list, id)
  if not p then return nil end
  return string.sub(list, p + 16, p + ENTRY - 1)
end

local function set_entry(index, digest, id, entry)
  local list = redis.call('HGET', index, digest) or ''
  local p = find(list, id)
  if p then
    list = string.sub(list, 1, p - 1) .. id .. entry .. string.sub(list, p + ENTRY)
  else
    list = list .. id .. entry
  end
  redis.call('HSET', index, digest, list)
end

local function del_entry(index, digest, id)
  local list = redis.call('HGET', index, digest) or ''
  local p = find(list, id)
  if not p then return end
  list = string.sub(list, 1, p - 1) .. string.sub(list, p + ENTRY)
  if list == '' then redis.call('HDEL', index, digest) else redis.call('HSET', index, digest, list) end
end

local function client_of(entry) return string.sub(entry, 14, 21) end
local function live_of(entry) return string.sub(entry, 1, 1) end

-- The status code of a record value (`<version>|<tag><status>...`); layout 3 and later
-- only (older records are not counted until they are next written).
local function status_of(v)
  if not v then return nil end
  local p = string.find(v, '|', 1, true)
  local tag = p and string.byte(v, p + 1)
  if tag ~= 3 and tag ~= 4 and tag ~= 5 and tag ~= 6 then return nil end
  return string.byte(v, p + 2)
end

-- Moves a booking between the shard's per-status counters (fields `status:<code>` of the
-- live hash) as its record goes from `old` to `new` (nil: none).
local function recount(live, old, new)
  local a, b = status_of(old), status_of(new)
  if a == b then return end
  if a then redis.call('HINCRBY', live, 'status:' .. a, -1) end
  if b then redis.call('HINCRBY', live, 'status:' .. b, 1) end
end

-- Stores the record, its index entries, its timer and its event (not the live counter), and
-- appends the ledger entry when the status changes (a booking stored again adds none).
-- Returns the entry's stream id, or false.
local function store(k, a)
  local value = a[4] .. '|' .. a[3]
  local old = redis.call('GET', k[1])
  recount(k[5], old, value)
  redis.call('SET', k[1], value)
  for i = 11, #a do set_entry(k[6], a[i], a[1], a[6]) end
  if a[5] == '' then redis.call('ZREM', k[2], a[1]) else redis.call('ZADD', k[2], a[5], a[1]) end
  push_event(k[3], k[4], a[2], a[7], a[8])
  if a[10] ~= '' and status_of(old) ~= status_of(value) then
    return redis.call('XADD', k[7], '*', 'b', a[10])
  end
  return false
end
