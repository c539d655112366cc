-- ARGV: id (16 bytes), then the device digests. Undelivered events stay in the outbox: they
-- still go out.
local old = ARGV[2] and entry_of(KEYS[6], ARGV[2], ARGV[1])
if old and live_of(old) == '1' then redis.call('HINCRBY', KEYS[5], client_of(old), -1) end
recount(KEYS[5], redis.call('GET', KEYS[1]), nil)
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
for i = 2, #ARGV do del_entry(KEYS[6], ARGV[i], ARGV[1]) end
return 1
