-- pace.lua: wrk at a fixed offered rate, for scripts/bench-serving.sh.
--
-- wrk has no rate flag. Each wrk thread keeps an absolute schedule of send
-- slots, 1/(rate/threads) apart, and delay() hands every connection that
-- is ready the next slot: requests go out at the offered rate while the
-- server keeps up, and back to back (the achieved rate falls below the
-- offered one) when it does not. A slot never moves, so a stall is
-- followed by catch-up sends, as from independent clients.
--
-- Environment: SB_RATE (requests/s over all threads), SB_THREADS (wrk -t),
-- SB_BODY (file with the JSON body), SB_TRACK=1 to count responses by
-- status and time each one (send to response, by a timestamp the server
-- echoes in X-Request-ID; joule echoes it, so this is for joule only).
--
-- done() prints one line of key=value pairs for the script to parse.

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } sb_timespec;
int clock_gettime(int clk, sb_timespec *ts);
]]
local ts = ffi.new("sb_timespec")
local function now_us()
	ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
	return tonumber(ts.tv_sec) * 1e6 + tonumber(ts.tv_nsec) / 1e3
end

local rate = tonumber(os.getenv("SB_RATE") or "")
local nthreads = tonumber(os.getenv("SB_THREADS") or "")
local bodyfile = os.getenv("SB_BODY")
local track = os.getenv("SB_TRACK") == "1"
if not rate or not nthreads or not bodyfile then
	error("pace.lua needs SB_RATE, SB_THREADS and SB_BODY")
end
local f = assert(io.open(bodyfile, "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"

local threads = {}
function setup(thread)
	table.insert(threads, thread)
end

local interval -- µs between this thread's slots
local nextslot
function init(args)
	interval = 1e6 * nthreads / rate
	nextslot = now_us()
end

function delay()
	nextslot = nextslot + interval
	local d = (nextslot - now_us()) / 1e3
	if d < 1 then
		return 0
	end
	return math.floor(d)
end

if track then
	-- Per thread: responses by status, and latencies in µs of the 2xx and
	-- of the 429/503 answers.
	statuses = {}
	ok_us = {}
	reject_us = {}
	function request()
		return wrk.format(nil, nil, { ["X-Request-ID"] = string.format("sb-%d", now_us()) })
	end
	function response(status, headers, body)
		statuses[status] = (statuses[status] or 0) + 1
		local id = headers["X-Request-Id"] or headers["X-Request-ID"] or ""
		local sent = tonumber(id:match("^sb%-(%d+)$") or "")
		if not sent then
			return
		end
		local us = now_us() - sent
		if status >= 200 and status < 300 then
			ok_us[#ok_us + 1] = us
		elseif status == 429 or status == 503 then
			reject_us[#reject_us + 1] = us
		end
	end
end

local function pct(sorted, p)
	if #sorted == 0 then
		return -1
	end
	return sorted[math.max(1, math.ceil(p * #sorted))]
end

function done(summary, latency, requests)
	local secs = summary.duration / 1e6
	local e = summary.errors
	local out = {
		string.format("requests=%d", summary.requests),
		string.format("seconds=%.3f", secs),
		string.format("achieved=%.1f", summary.requests / secs),
		string.format("non2xx=%d", e.status),
		string.format("sockerr=%d", e.connect + e.read + e.write + e.timeout),
		string.format("p50_ms=%.3f", latency:percentile(50) / 1e3),
		string.format("p95_ms=%.3f", latency:percentile(95) / 1e3),
		string.format("p99_ms=%.3f", latency:percentile(99) / 1e3),
		string.format("max_ms=%.3f", latency.max / 1e3),
	}
	if track then
		local counts, oks, rejects = {}, {}, {}
		for _, t in ipairs(threads) do
			for s, n in pairs(t:get("statuses")) do
				counts[s] = (counts[s] or 0) + n
			end
			for _, v in ipairs(t:get("ok_us")) do
				oks[#oks + 1] = v
			end
			for _, v in ipairs(t:get("reject_us")) do
				rejects[#rejects + 1] = v
			end
		end
		local codes = {}
		for s in pairs(counts) do
			codes[#codes + 1] = s
		end
		table.sort(codes)
		local parts = {}
		for _, s in ipairs(codes) do
			parts[#parts + 1] = string.format("%d:%d", s, counts[s])
		end
		table.sort(oks)
		table.sort(rejects)
		out[#out + 1] = "status=" .. table.concat(parts, ",")
		out[#out + 1] = string.format("ok_p50_ms=%.3f", pct(oks, 0.50) / 1e3)
		out[#out + 1] = string.format("ok_p99_ms=%.3f", pct(oks, 0.99) / 1e3)
		out[#out + 1] = string.format("reject_p50_ms=%.3f", pct(rejects, 0.50) / 1e3)
		out[#out + 1] = string.format("reject_p99_ms=%.3f", pct(rejects, 0.99) / 1e3)
	end
	io.write("RESULT " .. table.concat(out, " ") .. "\n")
end
