local function push_event(list, outbox, id, element, at)
  if element == '' then return end
  redis.call('RPUSH', list, element)
  -- A claimed outbox keeps its lease; a new one is due at once.
  if not redis.call('ZSCORE', outbox, id) then redis.call('ZADD', outbox, at, id) end
end
local function entry_live(entry)
  if not entry then return nil, nil end
  local live, _, _, client = string.match(entry, '^(%d);(%d+);(%d+);(.*)$')
  return live, client
end
