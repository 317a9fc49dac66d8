-- GET /users/<random user>/recommendations?n=10 over users "1".."USERS" (default 6040, the
-- ml-1m-seq ids; USERS=2999 keeps to the ML-1M users that have events in a 1–2,999 store).
-- EXPLAIN=1 (or true, attention, gradient) in the environment adds explain=...; QUERY (already
-- URL-encoded, e.g. 3D%20printing%20filament) adds q=...; FIRST_USER=0 starts the ids at 0.
local mode = os.getenv("EXPLAIN")
if mode == "1" then mode = "true" end
local explain = mode and ("&explain=" .. mode) or ""
local users = tonumber(os.getenv("USERS") or "6040")
local first = tonumber(os.getenv("FIRST_USER") or "1")
local query = os.getenv("QUERY") and ("&q=" .. os.getenv("QUERY")) or ""
math.randomseed(7)
request = function()
  return wrk.format("GET", "/users/" .. math.random(first, first + users - 1) .. "/recommendations?n=10" .. explain .. query)
end
