-- Capacity admission (see `booking::capacity`): all pools share one hash tag, so one script
-- sees them all. KEYS: the operator's capacity changes (field `<pool hex>/<profile>` ->
-- capacity), then one hash per pool (booking id -> window: start and end in ms, 6 bytes
-- each, big-endian; then the places it takes, 4 bytes, when not one). ARGV: booking id,
-- window, start ms, end ms, now ms, the places this booking takes, then per pool its
-- configured capacity, its field in the changes, the number of periods and each period's
-- start ms, end ms and capacity (-1: the pool's). Returns 0 when reserved in every pool,
-- else the 1-based index of the full pool.
local function num(s, p, n)
  local v = 0
  for i = p, p + n - 1 do v = v * 256 + string.byte(s, i) end
  return v
end
local id, window = ARGV[1], ARGV[2]
local s, e, now = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local units = tonumber(ARGV[6])
local pools = #KEYS - 1
local at = 7
for i = 1, pools do
  local key = KEYS[i + 1]
  local base = tonumber(redis.call('HGET', KEYS[1], ARGV[at + 1]) or ARGV[at])
  local periods = tonumber(ARGV[at + 2])
  at = at + 3
  local entries = redis.call('HGETALL', key)
  local live = {}
  for j = 1, #entries, 2 do
    local member, w = entries[j], entries[j + 1]
    local ws, we = num(w, 1, 6), num(w, 7, 6)
    if we <= now then
      redis.call('HDEL', key, member)
    elseif member ~= id and ws < e and s < we then
      local held = 1
      if #w >= 16 then held = num(w, 13, 4) end
      table.insert(live, {ws, we, held})
    end
  end
  for _ = 1, periods do
    local ps, pe, limit = tonumber(ARGV[at]), tonumber(ARGV[at + 1]), tonumber(ARGV[at + 2])
    at = at + 3
    if limit < 0 then limit = base end
    local edges = {}
    for _, w in ipairs(live) do
      if w[1] < pe and ps < w[2] then
        table.insert(edges, {math.max(w[1], ps), w[3]})
        table.insert(edges, {math.min(w[2], pe), -w[3]})
      end
    end
    -- Ends before starts at one instant: back-to-back windows do not overlap.
    table.sort(edges, function(a, b)
      if a[1] == b[1] then return a[2] < b[2] end
      return a[1] < b[1]
    end)
    local now_live, most = 0, 0
    for _, x in ipairs(edges) do
      now_live = now_live + x[2]
      if now_live > most then most = now_live end
    end
    if most + units > limit then return i end
  end
end
for i = 1, pools do redis.call('HSET', KEYS[i + 1], id, window) end
return 0
