-- POST /events: one event per request, or BATCH events per request (BATCH=100).
local batch = tonumber(os.getenv("BATCH") or "1")
local counter = 0
request = function()
  local parts = {}
  for i = 1, batch do
    counter = counter + 1
    parts[i] = string.format('{"user": "wrk-%d", "item": "%d", "type": "click"}', counter % 5000, 1 + counter % 3000)
  end
  local body = batch == 1 and parts[1] or ("[" .. table.concat(parts, ",") .. "]")
  return wrk.format("POST", "/events", {["Content-Type"] = "application/json"}, body)
end
