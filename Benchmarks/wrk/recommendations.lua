-- GET /users/<random user>/recommendations?n=10 over users "1".."USERS" (default 6040, the
-- ml-1m-seq ids; USERS=2999 keeps to the ML-1M users that have events in a 1–2,999 store).
-- EXPLAIN=1 (or true, attention, gradient) in the environment adds explain=...
local mode = os.getenv("EXPLAIN")
if mode == "1" then mode = "true" end
local explain = mode and ("&explain=" .. mode) or ""
local users = tonumber(os.getenv("USERS") or "6040")
math.randomseed(7)
request = function()
  return wrk.format("GET", "/users/" .. math.random(1, users) .. "/recommendations?n=10" .. explain)
end
