-- wrk script: GET /recommend/{user_id}?k=10 cycling through the 943 users of ML-100K.
local i = 0
request = function()
  i = i % 943 + 1
  return wrk.format("GET", "/recommend/" .. i .. "?k=10")
end
