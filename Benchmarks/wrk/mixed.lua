-- Mixed traffic for the soak: 70 % GET /users/{id}/recommendations, 20 % single events,
-- 10 % batches of 20 events, over USERS users ("user-N") and ITEMS items ("item-N") of the
-- demo's store. DELAY (ms) paces each connection, so a run can hold a chosen share of peak.
-- READS=1: recommendations only (no writes), to tell growth from the data apart from the server's.
local users = tonumber(os.getenv("USERS") or "2000")
local items = tonumber(os.getenv("ITEMS") or "500")
local pause = tonumber(os.getenv("DELAY") or "0")
local readsOnly = os.getenv("READS") == "1"
local counter = 0

local function event()
  counter = counter + 1
  return string.format('{"user": "user-%d", "item": "item-%d", "type": "click"}',
    math.random(0, users - 1), math.random(0, items - 1))
end

request = function()
  local r = math.random()
  if readsOnly or r < 0.7 then
    return wrk.format("GET", string.format("/users/user-%d/recommendations?n=10", math.random(0, users - 1)))
  elseif r < 0.9 then
    return wrk.format("POST", "/events", {["Content-Type"] = "application/json"}, event())
  end
  local parts = {}
  for i = 1, 20 do parts[i] = event() end
  return wrk.format("POST", "/events", {["Content-Type"] = "application/json"}, "[" .. table.concat(parts, ",") .. "]")
end

if pause > 0 then
  delay = function() return pause end
end

done = function(summary, latency, requests)
  io.write(string.format("soak: %d requests, %.1f per second, %d errors (connect %d, read %d, write %d, timeout %d, status %d), p50 %.2f ms, p99 %.2f ms\n",
    summary.requests, summary.requests / (summary.duration / 1e6),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout + summary.errors.status,
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout, summary.errors.status,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
