-- KEYS: the lease, the markers hash. ARGV: holder, field, ms, seq. Moves the marker forward
-- only while the holder holds the lease (a replica whose lease lapsed writes nothing).
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local cur = redis.call('HGET', KEYS[2], ARGV[2])
if cur then
  local ms, seq = string.match(cur, '^(%d+)-(%d+)$')
  local nms, nseq = tonumber(ARGV[3]), tonumber(ARGV[4])
  if tonumber(ms) > nms or (tonumber(ms) == nms and tonumber(seq) > nseq) then return 0 end
end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3] .. '-' .. ARGV[4])
return 1
