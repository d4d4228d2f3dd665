-- wrk script: POST a JSON body, optionally with a bearer token, and print
-- the figures as one JSON line so that run.sh need not parse wrk's text.
--   BENCH_BODY   the request body (required)
--   BENCH_TOKEN  sent as "Authorization: Bearer <token>" when set
local body = os.getenv("BENCH_BODY")
local token = os.getenv("BENCH_TOKEN")

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
if token ~= nil and token ~= "" then
	wrk.headers["Authorization"] = "Bearer " .. token
end

-- Counts answers by status in each wrk thread; done() sums them.
local threads = {}

function setup(thread)
	table.insert(threads, thread)
end

function init(args)
	non2xx = 0
end

function response(status, headers, resp_body)
	if status < 200 or status > 299 then
		non2xx = non2xx + 1
	end
end

function done(summary, latency, requests)
	local bad = 0
	for _, t in ipairs(threads) do
		bad = bad + (t:get("non2xx") or 0)
	end
	local e = summary.errors
	io.write(string.format(
	    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
	    '"p50_us":%.0f,"p90_us":%.0f,"p99_us":%.0f,"max_us":%.0f,' ..
	    '"mean_us":%.1f,"non2xx":%d,"err_connect":%d,"err_read":%d,' ..
	    '"err_write":%d,"err_timeout":%d}\n',
	    summary.requests, summary.duration, summary.bytes,
	    latency:percentile(50), latency:percentile(90),
	    latency:percentile(99), latency.max, latency.mean, bad,
	    e.connect, e.read, e.write, e.timeout))
end
