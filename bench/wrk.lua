-- wrk driver: every request a unique msgid and its own (timestamp, nonce, signature), precomputed by
-- bench/simulators.py because wrk's Lua has no SHA-256. The body is not signed, so one template a sender.
local senders, sigs, used = {}, {}, {}
errors = 0
local threads = {}

setup = function(thread)
  threads[#threads + 1] = thread
end

local function split(line)
  local out = {}
  for part in string.gmatch(line, "[^\t]+") do out[#out + 1] = part end
  return out
end

init = function(args)
  for line in io.lines(args[1]) do
    local f = split(line)
    -- code, path, paasid, body-before-msgid, body-after-msgid
    senders[#senders + 1] = {code = f[1], path = f[2], paasid = f[3], head = f[4], tail = f[5], seq = 0}
  end
  for line in io.lines(args[2]) do
    local f = split(line)
    local i = tonumber(f[1])
    sigs[i] = sigs[i] or {}
    table.insert(sigs[i], {f[2], f[3], f[4]})
    used[i] = 0
  end
end

local n = 0
request = function()
  n = n + 1
  local i = (n % #senders) + 1
  local s = senders[i]
  s.seq = s.seq + 1
  used[i] = used[i] + 1
  local sig = sigs[i][used[i]]
  local msgid = s.code .. os.date("%Y%m%d%H%M%S") .. string.format("%04d", s.seq % 10000)
  local headers = {["Content-Type"] = "application/json", ["x-tif-paasid"] = s.paasid,
                   ["x-tif-timestamp"] = sig[1], ["x-tif-nonce"] = sig[2], ["x-tif-signature"] = sig[3]}
  return wrk.format("POST", s.path, headers, s.head .. msgid .. s.tail)
end

response = function(status, headers, body)
  if status ~= 200 or not string.find(body, '"infcode":%s*0[,}]') then
    errors = errors + 1
    if errors <= 3 then io.stderr:write(body:sub(1, 300) .. "\n") end
  end
end

done = function(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do total = total + thread:get("errors") end
  io.write(string.format("NOT-OK %d\n", total))
end
