-- wrk script for the soak: 3 POST /predict (bodies from WRK_BODIES) for 1 GET /recommend.
local bodies = {}
for line in io.lines(os.getenv("WRK_BODIES") or "bodies.txt") do
  bodies[#bodies + 1] = line
end
local i = 0
request = function()
  i = i + 1
  if i % 4 == 0 then
    return wrk.format("GET", "/recommend/" .. (i % 943 + 1) .. "?k=10")
  end
  return wrk.format("POST", "/predict", {["Content-Type"] = "application/json"}, bodies[i % #bodies + 1])
end
