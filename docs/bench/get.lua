-- wrk script: GET one booking. Usage: TOKEN=... ID=... wrk -t2 -c32 -d20s -s docs/bench/get.lua http://127.0.0.1:8080
local token = os.getenv("TOKEN")
local id = os.getenv("ID")
function request()
  return wrk.format("GET", "/qos-booking/v0.2/device-qos-bookings/" .. id, {["Authorization"] = "Bearer " .. token})
end
function done(summary, latency, requests)
  io.write(string.format("non-2xx/3xx: %d\n", summary.errors.status))
end
