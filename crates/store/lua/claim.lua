-- KEYS: due  ARGV: now_ms, limit, lease_until_ms, then the lease stamps of this replica's
-- claims whose answer it never got (a timeout): what they claimed is claimed again first,
-- so it does not wait out a lease nobody works on.
local out = {}
for i = 4, #ARGV do
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[i], ARGV[i])) do
    redis.call('ZADD', KEYS[1], ARGV[3], id)
    table.insert(out, id)
  end
end
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, math.max(0, tonumber(ARGV[2]) - #out))
for _, id in ipairs(ids) do
  redis.call('ZADD', KEYS[1], ARGV[3], id)
  table.insert(out, id)
end
return out
