-- KEYS: due  ARGV: until_ms, then pairs of id (16 bytes) and the ms it was claimed until.
-- Moves each timer still at its claimed time; returns the ids moved.
local moved = {}
for i = 2, #ARGV, 2 do
  local s = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if s and tonumber(s) == tonumber(ARGV[i + 1]) then
    redis.call('ZADD', KEYS[1], ARGV[1], ARGV[i])
    table.insert(moved, ARGV[i])
  end
end
return moved
