-- ACK, FIN, RST or SYN flood on the four-tuples of established connections
-- (scripts/pktgen/README.md; run.sh known-* opens them with hold-conns.py first).
--
-- A kernel client at 198.18.2.2 holds PG_SPORT_MIN..PG_SPORT_MAX -> 198.18.2.1:80 open
-- through tcpterm's tap port; pktgen spoofs those four-tuples through the memif port (tcpterm
-- finds a connection by its four-tuple, whatever port the segment came in on). pktgen is
-- stateless: it cannot learn or follow the connections' sequence numbers, so its segments carry
-- fixed (or swept, PG_SEQ_INC) numbers that are almost always outside the receive window
-- (2^32 / window: about 1 in 16,000 with a 256 KiB window). What tcpterm must do (RFC 9293,
-- RFC 5961):
--   ack, fin  out of window: drop, answer with an ACK at most once per invalid_ratelimit (500 ms)
--             per connection (drops out_of_window, counters oow_acks_limited)
--   rst       out of window: drop silently; in the window but not at RCV.NXT: a challenge ACK
--             (drops rst_not_exact, counters challenge_acks); only an exact RST resets
--   syn       whatever its sequence number: a challenge ACK, at most challenge_ack_limit per
--             second (drops syn_in_window, counters challenge_acks, challenge_acks_limited)
-- and no connection may be reset or closed: hold-conns.py checks each one afterwards.
-- Note: range packets over memif repeat about one burst's worth of distinct packets (README), so
-- a sequence sweep with PG_SEQ_INC covers a few dozen values, not 2^32 / inc.
--
-- Environment: PG_FLAGS (ack | fin | rst | syn), PG_SPORT_MIN/PG_SPORT_MAX (40000/40015: the
-- held connections), PG_KNOWN_SRC (198.18.2.2), PG_KNOWN_DST (198.18.2.1), PG_DPORT (80),
-- PG_SEQ (2^31), PG_SEQ_INC (0), PG_ACK (0), PG_ACK_INC (0), PG_SECONDS (10), PG_RATE (100).
local ok, err = pcall(function()
    local dir = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or ".")
    local C = dofile((os.getenv("PG_DIR") or dir) .. "/common.lua")
    local flags = C.env("PG_FLAGS", "ack")
    if flags ~= "ack" and flags ~= "fin" and flags ~= "rst" and flags ~= "syn" then
        error("PG_FLAGS must be ack, fin, rst or syn")
    end
    local seconds = C.num("PG_SECONDS", 10)
    local src = C.env("PG_KNOWN_SRC", "198.18.2.2")
    local o = {
        src_min = src, src_max = src, src_inc = "0.0.0.0",
        dst_ip = C.env("PG_KNOWN_DST", "198.18.2.1"),
        sport_min = C.num("PG_SPORT_MIN", 40000),
        sport_max = C.num("PG_SPORT_MAX", 40015),
        dport = C.num("PG_DPORT", 80),
        seq = {start = C.num("PG_SEQ", 2147483648), inc = C.num("PG_SEQ_INC", 0)},
        ack = {start = C.num("PG_ACK", 0), inc = C.num("PG_ACK_INC", 0)},
    }
    C.setup()
    C.range_flood("flags-" .. flags .. ".pkt", o)
    C.log("%s flood on known flows: %s ports %d-%d -> %s:%d, seq %d (+%d), rate %s%%, %d s",
          flags:upper(), src, o.sport_min, o.sport_max, o.dst_ip, o.dport, o.seq.start, o.seq.inc,
          C.env("PG_RATE", "100"), seconds)
    local d = C.run(seconds)
    C.report("known-" .. flags, d, {conns = o.sport_max - o.sport_min + 1,
                                    rate_pct = C.env("PG_RATE", "100")})
end)
if not ok then
    print("[pktgen-lua] ERROR: " .. tostring(err))
end
pktgen.quit()
