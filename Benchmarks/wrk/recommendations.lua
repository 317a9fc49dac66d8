-- GET /users/<random user>/recommendations?n=10 over users "1".."6040" (ml-1m-seq ids).
-- Set EXPLAIN=1 in the environment for explain=true.
local explain = os.getenv("EXPLAIN") == "1" and "&explain=true" or ""
math.randomseed(7)
request = function()
  return wrk.format("GET", "/users/" .. math.random(1, 6040) .. "/recommendations?n=10" .. explain)
end
