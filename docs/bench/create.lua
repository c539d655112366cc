-- wrk script: POST /device-qos-bookings with a new device (IPv4) on every request, all
-- starting tomorrow, so every request is a real create (no 409).
-- Usage: TOKEN=... wrk -t2 -c32 -d20s -s docs/bench/create.lua http://127.0.0.1:8080
local counter = 0
local token = os.getenv("TOKEN")
local start = os.date("!%Y-%m-%dT%H:%M:%SZ", os.time() + 86400)

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function init(args)
  n = 0
end

function request()
  n = n + 1
  local k = id * 10000000 + n
  local a, b, c = math.floor(k / 65536) % 256, math.floor(k / 256) % 256, k % 256
  local body = string.format(
    '{"qosProfile":"QOS_L","device":{"ipv4Address":{"publicAddress":"203.%d.%d.%d","privateAddress":"10.%d.%d.%d"}},' ..
    '"applicationServer":{"ipv4Address":"198.51.100.0/24"},"devicePorts":{"ports":[5060]},' ..
    '"startTime":"%s","duration":600,' ..
    '"serviceArea":{"areaType":"CIRCLE","center":{"latitude":50.11,"longitude":8.68},"radius":500}}',
    a, b, c, a, b, c, start)
  return wrk.format("POST", "/qos-booking/v0.2/device-qos-bookings",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}, body)
end

function done(summary, latency, requests)
  io.write(string.format("non-2xx/3xx: %d\n", summary.errors.status))
end
