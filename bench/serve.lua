-- wrk script for the serve stage of bench/run.py.
--
-- Each request is the next line of the file named by PHM_WRK_REQUESTS, round robin: one
-- "path<TAB>cookie" per line, the cookie being the session of the signed-in client that asks
-- for that path. Each wrk thread starts at a different place in the list. At the end the
-- main thread prints one line "PHM_WRK_JSON {...}" (counts, errors, latency percentiles in us).

local list = {}
local n = 0
local threads = {}

function setup(thread)
   thread:set("offset", #threads)
   table.insert(threads, thread)
end

function init(args)
   for line in io.lines(os.getenv("PHM_WRK_REQUESTS")) do
      local path, cookie = line:match("^([^\t]+)\t(.*)$")
      if path then
         list[#list + 1] = wrk.format("GET", path, { ["Cookie"] = cookie })
      end
   end
   n = (offset or 0) * math.floor(#list / 2 + 1)
end

function request()
   n = n + 1
   return list[(n % #list) + 1]
end

function done(summary, latency, _)
   local e = summary.errors
   local p = {}
   for _, q in ipairs({ 50, 75, 90, 95, 99, 99.9 }) do
      p[#p + 1] = string.format('"%s": %d', tostring(q), latency:percentile(q))
   end
   io.write(string.format(
      'PHM_WRK_JSON {"requests": %d, "duration_us": %d, "bytes": %d, "connect_errors": %d, ' ..
      '"read_errors": %d, "write_errors": %d, "status_errors": %d, "timeouts": %d, ' ..
      '"latency_mean_us": %.1f, "latency_max_us": %d, "percentiles_us": {%s}}\n',
      summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
      e.timeout, latency.mean, latency.max, table.concat(p, ", ")))
end
