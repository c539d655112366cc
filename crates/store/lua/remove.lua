-- ARGV: id. Undelivered events stay in the outbox: they still go out.
if #KEYS >= 6 then
  local was, client = entry_live(redis.call('HGET', KEYS[6], ARGV[1]))
  if was == '1' then redis.call('HINCRBY', KEYS[5], client, -1) end
end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
for i = 6, #KEYS do redis.call('HDEL', KEYS[i], ARGV[1]) end
return 1
