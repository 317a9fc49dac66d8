-- GET /users/<random user>/recommendations?n=10 over users "1".."6040" (ml-1m-seq ids).
-- EXPLAIN=1 (or true, attention, gradient) in the environment adds explain=...
local mode = os.getenv("EXPLAIN")
if mode == "1" then mode = "true" end
local explain = mode and ("&explain=" .. mode) or ""
math.randomseed(7)
request = function()
  return wrk.format("GET", "/users/" .. math.random(1, 6040) .. "/recommendations?n=10" .. explain)
end
