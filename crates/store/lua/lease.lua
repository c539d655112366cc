-- KEYS: the lease. ARGV: holder, ttl ms. Takes a lapsed or free lease (1), or renews one's
-- own (2); 0: another holds it.
local h = redis.call('GET', KEYS[1])
if h and h ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if h then return 2 end
return 1
