-- wrk script for bench/directory.sh: GET /v1/directory/{subject} rotating
-- over many subjects (in random order), with the operator's token, and print
-- the figures as one JSON line (the same line as post.lua).
--   BENCH_SUBJECTS  a file of subjects, one a line (required)
--   BENCH_TOKEN     sent as "Authorization: Bearer <token>"
local path = os.getenv("BENCH_SUBJECTS")
local token = os.getenv("BENCH_TOKEN") or ""

local threads = {}

function setup(thread)
	thread:set("id", #threads)
	table.insert(threads, thread)
end

-- Every request is formatted once here; request() only picks the next one.
function init(args)
	non2xx = 0
	reqs = {}
	local f = assert(io.open(path, "r"))
	for s in f:lines() do
		if s ~= "" then
			reqs[#reqs + 1] = wrk.format("GET", "/v1/directory/" .. s,
			    {["Authorization"] = "Bearer " .. token})
		end
	end
	f:close()
	assert(#reqs > 0, "no subjects in " .. path)
	next_req = (id * math.floor(#reqs / 2)) % #reqs
end

function request()
	next_req = next_req % #reqs + 1
	return reqs[next_req]
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
