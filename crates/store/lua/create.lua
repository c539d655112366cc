-- ARGV: id, record, version, due_ms|'', entry, event|'', event_ms, client, start_ms, end_ms
for i = 6, #KEYS do
  local entries = redis.call('HGETALL', KEYS[i])
  for j = 1, #entries, 2 do
    local live, s, e, c = string.match(entries[j + 1], '^(%d);(%d+);(%d+);(.*)$')
    if live == '1' and c == ARGV[8] and tonumber(s) < tonumber(ARGV[10]) and tonumber(ARGV[9]) < tonumber(e) then
      return entries[j]
    end
  end
end
redis.call('HSET', KEYS[1], 'v', ARGV[3], 'j', ARGV[2])
for i = 6, #KEYS do redis.call('HSET', KEYS[i], ARGV[1], ARGV[5]) end
if ARGV[4] ~= '' then redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1]) end
push_event(KEYS[3], KEYS[4], ARGV[1], ARGV[6], ARGV[7])
if string.sub(ARGV[5], 1, 1) == '1' then redis.call('HINCRBY', KEYS[5], ARGV[8], 1) end
return false
