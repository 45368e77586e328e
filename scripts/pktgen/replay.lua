-- Replays the pcap given to pktgen with -s 0:FILE toward tcpterm (scripts/pktgen/README.md).
--
-- pktgen loads the pcap at start-up into a mempool without a cache, so its packets go out in
-- the file's order. PG_COUNT > 0 sends that many packets (the file's packet count: each packet
-- once) and stops; PG_COUNT = 0 repeats the file for PG_SECONDS (a flood of the file's flows,
-- e.g. make-pcaps.py syns). PG_CAPTURE=1 captures what comes back into
-- pktgen-<date>-0.pcap in the working directory (4 MB at most), which make-pcaps.py rewrite
-- reads to learn the ISNs tcpterm chose.
--
-- Environment: PG_COUNT (0), PG_SECONDS (10; with PG_COUNT, the longest wait), PG_RATE (% of
-- the link, 1 = ~148k pps of 64-byte frames: a replay is about order, not rate), PG_CAPTURE,
-- PG_NAME (label of the result line), PG_RESULT.
local ok, err = pcall(function()
    local dir = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or ".")
    local C = dofile((os.getenv("PG_DIR") or dir) .. "/common.lua")
    local p = C.port
    local count = C.num("PG_COUNT", 0)
    local seconds = C.num("PG_SECONDS", 10)
    local capture = C.env("PG_CAPTURE", "0") == "1"
    C.setup()
    pktgen.pcap(p, "on")
    C.set_rate(C.env("PG_RATE", "1")) -- after "pcap on", which resets pktgen's pacing
    if capture then
        pktgen.capture(p, "on")
    end
    C.log("pcap replay: %s, rate %s%%%s", count > 0 and (count .. " packets, once") or
          ("repeated for " .. seconds .. " s"), C.env("PG_RATE", "1"), capture and ", capturing replies" or "")
    local d = C.run(seconds, count)
    if capture then
        pktgen.capture(p, "off") -- writes the capture file
        C.log("capture written (pktgen-*-%d.pcap in %s)", p, os.getenv("PWD") or ".")
    end
    C.report(C.env("PG_NAME", "replay"), d, {pcap_count = count})
end)
if not ok then
    print("[pktgen-lua] ERROR: " .. tostring(err))
end
pktgen.quit()
