-- KEYS: outbox set  ARGV: now_ms, limit, lease_until_ms, key prefix of the lists
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, id in ipairs(ids) do
  redis.call('ZADD', KEYS[1], ARGV[3], id)
  local events = redis.call('LRANGE', ARGV[4] .. id, 0, -1)
  table.insert(events, 1, id)
  table.insert(out, events)
end
return out
