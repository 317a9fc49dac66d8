-- POST /sessions/recommendations with anonymous sessions of LENGTH random items ("1".."ITEMS",
-- the ml-1m-seq ids; defaults 200 and 3416): nothing is cached for a session, so every request
-- runs the model over its events. 1,000 sessions are made up front (seeded) and sent in turn,
-- so wrk's own work per request stays small.
local length = tonumber(os.getenv("LENGTH") or "200")
local items = tonumber(os.getenv("ITEMS") or "3416")
local bodies = {}
local next_body = 0
math.randomseed(7)
for s = 1, 1000 do
  local events = {}
  for i = 1, length do events[i] = string.format('{"item": "%d"}', math.random(1, items)) end
  bodies[s] = '{"events": [' .. table.concat(events, ",") .. '], "n": 10}'
end
request = function()
  next_body = next_body % #bodies + 1
  return wrk.format("POST", "/sessions/recommendations", {["Content-Type"] = "application/json"}, bodies[next_body])
end
