-- KEYS: outbox set, then the outbox list of each acknowledgement (one shard's)
-- ARGV: for each acknowledgement, in the order of KEYS: booking id, event id, release (1/0)
-- Applied in order. The event named leaves the booking's list; an emptied list leaves the
-- set, and a release makes the rest due at once.
for i = 2, #KEYS do
  local a = (i - 2) * 3
  local id, prefix, release = ARGV[a + 1], ARGV[a + 2] .. '|', ARGV[a + 3]
  -- Acknowledged in order, so the event is nearly always the first: no read of the list.
  local first = redis.call('LINDEX', KEYS[i], 0)
  if first and string.sub(first, 1, #prefix) == prefix then
    redis.call('LPOP', KEYS[i])
  elseif first then
    for _, e in ipairs(redis.call('LRANGE', KEYS[i], 1, -1)) do
      if string.sub(e, 1, #prefix) == prefix then
        redis.call('LREM', KEYS[i], 1, e)
        break
      end
    end
  end
  if redis.call('LLEN', KEYS[i]) == 0 then
    redis.call('ZREM', KEYS[1], id)
  elseif release == '1' then
    redis.call('ZADD', KEYS[1], 0, id)
  end
end
return #KEYS - 1
