-- Sends GET <path> with the Authorization values of a file in turn (an
-- empty line sends none), and counts every response's status.
local headers, n, i = {}, 0, 0
counts = {}

function init(args)
  for line in io.lines(args[1]) do
    n = n + 1
    headers[n] = line
  end
  i = math.random(n) - 1
end

function request()
  i = i % n + 1
  local h = headers[i]
  if h == "" then
    return wrk.format("GET")
  end
  return wrk.format("GET", nil, { Authorization = h })
end

function response(status, hdrs, body)
  counts[status] = (counts[status] or 0) + 1
end

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

function done(summary, latency, requests)
  for _, t in ipairs(threads) do
    for status, c in pairs(t:get("counts")) do
      io.write(string.format("status %d %d\n", status, c))
    end
  end
  local e = summary.errors
  io.write(string.format("errors %d %d %d %d\n", e.connect, e.read, e.write, e.timeout))
end
