-- KEYS: outbox set  ARGV: now_ms, limit, lease_until_ms, key prefix of the lists, then the
-- lease stamps of this replica's claims whose answer it never got (see claim.lua).
local out = {}
local function take(id)
  redis.call('ZADD', KEYS[1], ARGV[3], id)
  local events = redis.call('LRANGE', ARGV[4] .. id, 0, -1)
  table.insert(events, 1, id)
  table.insert(out, events)
end
for i = 5, #ARGV do
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[i], ARGV[i])) do take(id) end
end
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, math.max(0, tonumber(ARGV[2]) - #out))
for _, id in ipairs(ids) do take(id) end
return out
