-- wrk script: one ~600-byte track event per request (bench/event.json), Bearer write key.
local f = io.open(os.getenv("BENCH_DIR") .. "/event.json", "rb")
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_WRITE_KEY")
if os.getenv("BENCH_UA") then wrk.headers["User-Agent"] = os.getenv("BENCH_UA") end
if os.getenv("BENCH_COOKIE") and os.getenv("BENCH_COOKIE") ~= "" then wrk.headers["Cookie"] = os.getenv("BENCH_COOKIE") end
