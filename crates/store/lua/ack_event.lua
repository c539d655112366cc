-- KEYS: outbox list, outbox set  ARGV: booking id, event id, release (1/0)
local prefix = ARGV[2] .. '|'
for _, e in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  if string.sub(e, 1, #prefix) == prefix then
    redis.call('LREM', KEYS[1], 1, e)
    break
  end
end
if redis.call('LLEN', KEYS[1]) == 0 then
  redis.call('ZREM', KEYS[2], ARGV[1])
elseif ARGV[3] == '1' then
  redis.call('ZADD', KEYS[2], 0, ARGV[1])
end
return 1
