-- POSTs the GraphQL bodies in $BENCH_BODIES (one per line) in turn, counts answers that
-- carry GraphQL errors, and prints one JSON line of results when done.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

local bodies = {}
for line in string.gmatch(os.getenv("BENCH_BODIES"), "[^\n]+") do
  table.insert(bodies, line)
end
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  next_body = math.random(#bodies)
  graphql_errors = 0
end

function request()
  next_body = next_body % #bodies + 1
  return wrk.format(nil, nil, nil, bodies[next_body])
end

function response(status, headers, body)
  if string.find(body, '"errors"', 1, true) then
    graphql_errors = graphql_errors + 1
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  local graphql = 0
  for _, thread in ipairs(threads) do
    graphql = graphql + thread:get("graphql_errors")
  end
  io.write(string.format(
    'RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"socket_errors": %d, "non2xx": %d, "graphql_errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status, graphql))
end
