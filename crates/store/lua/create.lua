-- Refuses ({0, the other booking's id}) when a live booking of the same client overlaps on
-- one of the devices: the rule of `booking::overlaps`, proven equal by the store suite.
-- Stored: {1, the ledger entry's stream id or ''}.
local entry = ARGV[6]
local s, e, c = num(entry, 2, 6), num(entry, 8, 6), client_of(entry)
for i = 11, #ARGV do
  local list = redis.call('HGET', KEYS[6], ARGV[i]) or ''
  for p = 1, #list, ENTRY do
    if string.sub(list, p + 16, p + 16) == '1' and string.sub(list, p + 29, p + 36) == c
      and num(list, p + 17, 6) < e and s < num(list, p + 23, 6) then
      return {0, string.sub(list, p, p + 15)}
    end
  end
end
local xid = store(KEYS, ARGV)
if live_of(entry) == '1' then redis.call('HINCRBY', KEYS[5], c, 1) end
redis.call('HSETNX', KEYS[5], 'layout', '2')
-- Replicas asleep until a later timer wake up for this one.
if ARGV[5] ~= '' then redis.call('PUBLISH', ARGV[9], ARGV[5]) end
return {1, xid or ''}
