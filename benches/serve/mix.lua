-- wrk script for the soak: 3 POST /predict (bodies from WRK_BODIES) for 1 GET /recommend,
-- the requests formatted once per thread in init() (see post.lua for why).
local predicts = {}
local recommends = {}
local i = 0

init = function(args)
  for line in io.lines(os.getenv("WRK_BODIES") or "bodies.txt") do
    predicts[#predicts + 1] = wrk.format("POST", "/predict", {["Content-Type"] = "application/json"}, line)
  end
  for u = 1, 943 do
    recommends[u] = wrk.format("GET", "/recommend/" .. u .. "?k=10")
  end
end

request = function()
  i = i + 1
  if i % 4 == 0 then
    return recommends[i % #recommends + 1]
  end
  return predicts[i % #predicts + 1]
end
