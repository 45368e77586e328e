-- ACK, FIN or RST flood for flows tcpterm does not know (scripts/pktgen/README.md).
--
-- PG_FLAGS = ack | fin | rst (flags-<flags>.pkt: ACK; FIN+ACK; RST). Sources 10.0.0.0/16 and
-- ports ranged as in syn-flood.lua, toward 198.18.0.1:PG_DPORT. With PG_DPORT = 80 (the
-- listener) an ACK or FIN+ACK is "a segment without SYN to a listener": tcpterm answers with a
-- RST (RFC 9293 3.10.7.2; checked first as a SYN cookie if it sent cookies in the last 2
-- minutes). With a port nobody listens on (PG_DPORT = 81) it is "no connection": RST too
-- (3.10.7.1). A RST for no connection is dropped silently either way.
--
-- Environment: PG_FLAGS (ack), PG_SECONDS (10), PG_RATE (100), PG_DPORT (80),
-- PG_SRC_MIN/PG_SRC_MAX, PG_SPORT_MIN/PG_SPORT_MAX, PG_SEQ/PG_SEQ_INC, PG_ACK/PG_ACK_INC,
-- PG_RESULT.
-- What to read in tcpterm afterwards: drops listen_not_syn / no_listener_rst /
-- no_listener_rst_in, rst_sent bad_ack / no_connection.
local ok, err = pcall(function()
    local dir = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or ".")
    local C = dofile((os.getenv("PG_DIR") or dir) .. "/common.lua")
    local flags = C.env("PG_FLAGS", "ack")
    if flags ~= "ack" and flags ~= "fin" and flags ~= "rst" then
        error("PG_FLAGS must be ack, fin or rst")
    end
    local seconds = C.num("PG_SECONDS", 10)
    local o = {
        src_min = C.env("PG_SRC_MIN", "10.0.0.1"),
        src_max = C.env("PG_SRC_MAX", "10.0.255.254"),
        sport_min = C.num("PG_SPORT_MIN", 1024),
        sport_max = C.num("PG_SPORT_MAX", 65535),
        dport = C.num("PG_DPORT", 80),
        seq = {start = C.num("PG_SEQ", 123456789), inc = C.num("PG_SEQ_INC", 1000)},
        ack = {start = C.num("PG_ACK", 987654321), inc = C.num("PG_ACK_INC", 1000)},
    }
    C.setup()
    C.range_flood("flags-" .. flags .. ".pkt", o)
    C.log("%s flood to unknown flows: %s-%s ports %d-%d -> %s:%d, rate %s%%, %d s",
          flags:upper(), o.src_min, o.src_max, o.sport_min, o.sport_max, C.tcpterm_ip, o.dport,
          C.env("PG_RATE", "100"), seconds)
    local d = C.run(seconds)
    C.report("unknown-" .. flags, d, {dport = o.dport, rate_pct = C.env("PG_RATE", "100")})
end)
if not ok then
    print("[pktgen-lua] ERROR: " .. tostring(err))
end
pktgen.quit()
