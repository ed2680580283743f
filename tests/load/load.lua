-- wrk script of tests/load/run.sh. LOAD_MODE selects the request:
--   get  GET of the URL's path, with `Authorization: Bearer` when LOAD_KEYS is set
--   pay  POST /v1/payments, a unique Idempotency-Key per request, keys of LOAD_KEYS in turn
--   mcp  POST of a stateless (2026-07-28) tools/call of `whoami`, JSON response
-- Every answer other than 2xx is counted (response()) and reported by done(), with the
-- rate and latency percentiles, as one `RESULT` line that run.sh reads.

local mode = os.getenv("LOAD_MODE") or "get"
local keys = {}
for k in string.gmatch(os.getenv("LOAD_KEYS") or "", "[^,]+") do
   table.insert(keys, k)
end
local run = os.getenv("LOAD_RUN") or tostring(os.time())
local threads = {}

function setup(thread)
   table.insert(threads, thread)
   thread:set("tid", #threads)
end

function init(args)
   bad = 0
   counter = 0
   first_bad = ""
   if mode == "mcp" then
      wrk.method = "POST"
      wrk.headers["Content-Type"] = "application/json"
      wrk.headers["Accept"] = "application/json, text/event-stream"
      wrk.headers["Mcp-Protocol-Version"] = "2026-07-28"
      wrk.headers["Mcp-Method"] = "tools/call"
      wrk.headers["Mcp-Name"] = "whoami"
      wrk.body = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami","arguments":{},'
         .. '"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28",'
         .. '"io.modelcontextprotocol/clientCapabilities":{},'
         .. '"io.modelcontextprotocol/clientInfo":{"name":"wrk","version":"0"}}}}'
   end
   if #keys > 0 and mode ~= "pay" then
      wrk.headers["Authorization"] = "Bearer " .. keys[1]
   end
end

local pay_body = '{"amount":{"amount":"12.34","currency":"USD"},'
   .. '"payment_method":"pm_card_visa","payee":"Load Test Supplies"}'

if mode == "pay" then
   function request()
      counter = counter + 1
      local key = keys[(counter % #keys) + 1]
      return wrk.format("POST", "/v1/payments", {
         ["Authorization"] = "Bearer " .. key,
         ["Content-Type"] = "application/json",
         ["Idempotency-Key"] = string.format("%s-%d-%d", run, tid, counter),
      }, pay_body)
   end
end

function response(status, headers, body)
   if status < 200 or status > 299 then
      bad = bad + 1
      if first_bad == "" then
         first_bad = tostring(status) .. " " .. string.sub(body or "", 1, 200)
      end
   elseif mode == "mcp" and not string.find(body, '"result"', 1, true) then
      -- a JSON-RPC error inside a 200 is a failed call too
      bad = bad + 1
      if first_bad == "" then
         first_bad = "200 " .. string.sub(body or "", 1, 200)
      end
   end
end

function done(summary, latency, requests)
   local nbad = 0
   local example = ""
   for _, t in ipairs(threads) do
      nbad = nbad + t:get("bad")
      if example == "" then
         example = t:get("first_bad")
      end
   end
   local e = summary.errors
   local socket = e.connect + e.read + e.write + e.timeout
   io.write(string.format(
      "RESULT rps=%.1f p50_ms=%.2f p99_ms=%.2f requests=%d non2xx=%d socket_errors=%d\n",
      summary.requests / (summary.duration / 1e6),
      latency:percentile(50) / 1000, latency:percentile(99) / 1000,
      summary.requests, nbad, socket))
   if example ~= "" then
      io.write("FIRST_FAILURE " .. example .. "\n")
   end
end
