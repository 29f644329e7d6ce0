-- wrk: POST /help/callbacks; loadtests/bench/callbacks.py fills in the JSON body below.
-- One thread state per wrk thread: `tid` is set by `setup` (in the main state), the run's
-- prefix comes after `--` on wrk's command line, the counter is per thread. Each callback
-- from a customer address of its own (198.18.0.0/15, RFC 2544), as behind a load balancer:
-- the front door trusts 127.0.0.1 as its proxy, so its per-client limit (issue 14) is
-- checked for every callback, as in production, and refuses none.
local counter = 0
local prefix = "run"
local threads = 0
wrk.method = "POST"
wrk.body = [[{body}]]
wrk.headers["Content-Type"] = "application/json"
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function init(args)
  prefix = args[1] .. "-" .. tostring(tid)
end
function request()
  counter = counter + 1
  wrk.headers["Idempotency-Key"] = prefix .. "-" .. counter
  wrk.headers["X-Forwarded-For"] = string.format("198.%d.%d.%d",
    18 + math.floor(counter / 65536) % 2, math.floor(counter / 256) % 256, counter % 256)
  return wrk.format()
end
