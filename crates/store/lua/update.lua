-- Refuses (0) unless the stored version is one below the new one.
local cur = version_of(KEYS[1])
if not cur or cur + 1 ~= tonumber(ARGV[4]) then return 0 end
local old = ARGV[11] and entry_of(KEYS[6], ARGV[11], ARGV[1])
local was, now = old and live_of(old), live_of(ARGV[6])
local client = client_of(ARGV[6])
if was == '1' and now == '0' then redis.call('HINCRBY', KEYS[5], client, -1) end
if was == '0' and now == '1' then redis.call('HINCRBY', KEYS[5], client, 1) end
store(KEYS, ARGV)
return 1
