-- wrk script: POST /api/v1/tickets with a kiosk token and a unique Idempotency-Key per request.
-- Environment: WINS_TOKEN (bearer), WINS_SERVICE_ID.
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
  table.insert(threads, thread)
end

function init(args)
  n = 0
  prefix = string.format("bench-%d-%d-%d-", os.time(), math.random(1, 1e9), tid)
  body = '{"service_id": ' .. os.getenv("WINS_SERVICE_ID") .. '}'
  auth = "Bearer " .. os.getenv("WINS_TOKEN")
end

function request()
  n = n + 1
  return wrk.format("POST", "/api/v1/tickets", {
    ["Authorization"] = auth,
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = prefix .. n,
  }, body)
end

function done(summary, latency, requests)
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, ' ..
    '"non2xx": %d, "connect_errors": %d, "read_errors": %d, "write_errors": %d, "timeouts": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, summary.errors.status, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.timeout))
end
