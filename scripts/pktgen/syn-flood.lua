-- SYN flood toward tcpterm's listener, source addresses and ports ranged (scripts/pktgen/README.md).
--
-- Every packet is a 64-byte SYN (pktgen's TCP frames carry 6 bytes of payload and no options)
-- from 10.0.0.0/16 to 198.18.0.1:80; source address and port both advance by one per packet
-- built. pktgen builds the range packets once per start, one per mbuf of its TX pool, and over
-- memif (which copies and frees each mbuf at once) its mempool cache hands back the same few
-- mbufs: the flood repeats about one burst (PG_BURST, 64) of distinct four-tuples. tcpterm
-- answers the repeats as retransmitted SYNs of SYN-RECEIVED connections (rtx_synack). For a
-- flood of distinct flows use run.sh syn-flood-pcap (replay.lua over make-pcaps.py syns).
--
-- Environment: PG_SECONDS (10), PG_RATE (% of the link, 100), PG_SRC_MIN/PG_SRC_MAX
-- (10.0.0.1/10.0.255.254), PG_SPORT_MIN/PG_SPORT_MAX (1024/65535), PG_DPORT (80),
-- PG_SEQ (client ISN of the first SYN, 1000) and PG_SEQ_INC (0), PG_RESULT (JSON lines file).
-- What to read in tcpterm afterwards: trans_closed_syn_recv (distinct four-tuples seen),
-- rtx_synack, syncookies_sent (once syn_backlog half-open connections exist), passive_opens
-- (none: nobody completes the handshake).
local ok, err = pcall(function()
    local dir = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or ".")
    local C = dofile((os.getenv("PG_DIR") or dir) .. "/common.lua")
    local seconds = C.num("PG_SECONDS", 10)
    C.setup()
    C.range_flood("flags-syn.pkt", {
        src_min = C.env("PG_SRC_MIN", "10.0.0.1"),
        src_max = C.env("PG_SRC_MAX", "10.0.255.254"),
        sport_min = C.num("PG_SPORT_MIN", 1024),
        sport_max = C.num("PG_SPORT_MAX", 65535),
        dport = C.num("PG_DPORT", 80),
        seq = {start = C.num("PG_SEQ", 1000), inc = C.num("PG_SEQ_INC", 0)},
    })
    C.log("SYN flood: %s-%s ports %d-%d -> %s:%d, rate %s%%, %d s",
          C.env("PG_SRC_MIN", "10.0.0.1"), C.env("PG_SRC_MAX", "10.0.255.254"),
          C.num("PG_SPORT_MIN", 1024), C.num("PG_SPORT_MAX", 65535), C.tcpterm_ip,
          C.num("PG_DPORT", 80), C.env("PG_RATE", "100"), seconds)
    local d = C.run(seconds)
    C.report("syn-flood", d, {rate_pct = C.env("PG_RATE", "100")})
end)
if not ok then
    print("[pktgen-lua] ERROR: " .. tostring(err))
end
pktgen.quit()
