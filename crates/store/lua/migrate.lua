-- Moves one booking from store layout 1 (hash record, one index key per device, text ids) to
-- layout 2. Idempotent: a booking already moved (no hash record) is left alone.
-- KEYS: old record, record, due, live counters, device index, then the old index keys.
-- ARGV: old id (text), id (16 bytes), record value, entry, client id (text), device digests.
if redis.call('TYPE', KEYS[1]).ok ~= 'hash' then return 0 end
redis.call('DEL', KEYS[1])
recount(KEYS[4], redis.call('GET', KEYS[2]), ARGV[3])
redis.call('SET', KEYS[2], ARGV[3])
local score = redis.call('ZSCORE', KEYS[3], ARGV[1])
if score then
  redis.call('ZREM', KEYS[3], ARGV[1])
  redis.call('ZADD', KEYS[3], score, ARGV[2])
end
for i = 6, #KEYS do redis.call('HDEL', KEYS[i], ARGV[1]) end
for i = 6, #ARGV do set_entry(KEYS[5], ARGV[i], ARGV[2], ARGV[4]) end
if live_of(ARGV[4]) == '1' then
  redis.call('HINCRBY', KEYS[4], client_of(ARGV[4]), 1)
  if redis.call('HINCRBY', KEYS[4], ARGV[5], -1) <= 0 then redis.call('HDEL', KEYS[4], ARGV[5]) end
end
return 1
