-- wrk script: GET /recommend/{user_id}?k=10 cycling through the 943 users of ML-100K,
-- the requests formatted once per thread in init() (see post.lua for why).
local requests = {}
local i = 0

init = function(args)
  for u = 1, 943 do
    requests[u] = wrk.format("GET", "/recommend/" .. u .. "?k=10")
  end
end

request = function()
  i = i % #requests + 1
  return requests[i]
end
