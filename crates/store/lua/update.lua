-- ARGV: id, record, version, due_ms|'', entry, event|'', event_ms
local cur = redis.call('HGET', KEYS[1], 'v')
if not cur or tonumber(cur) + 1 ~= tonumber(ARGV[3]) then return 0 end
local was, client = entry_live(redis.call('HGET', KEYS[6], ARGV[1]))
local now = string.sub(ARGV[5], 1, 1)
if was == '1' and now == '0' then redis.call('HINCRBY', KEYS[5], client, -1) end
if was == '0' and now == '1' then redis.call('HINCRBY', KEYS[5], client, 1) end
redis.call('HSET', KEYS[1], 'v', ARGV[3], 'j', ARGV[2])
for i = 6, #KEYS do redis.call('HSET', KEYS[i], ARGV[1], ARGV[5]) end
if ARGV[4] == '' then redis.call('ZREM', KEYS[2], ARGV[1]) else redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1]) end
push_event(KEYS[3], KEYS[4], ARGV[1], ARGV[6], ARGV[7])
return 1
