-- Shared helpers for the pktgen-dpdk scripts in this directory (scripts/pktgen/README.md).
-- Loaded by each script with dofile(); pktgen 24.07.1, port 0 on net_memif toward tcpterm
-- (scripts/pktgen/tcpterm.toml). Settings come from environment variables (PG_*), so one script
-- serves several runs without editing it.
local M = {}

M.port = 0

-- Directory of the scripts (for the .pkt files they load): PG_DIR, else the directory of this file.
local function script_dir()
    local d = os.getenv("PG_DIR")
    if d ~= nil and d ~= "" then
        return d
    end
    local src = debug.getinfo(1, "S").source
    return src:match("^@(.*)/[^/]*$") or "."
end
M.dir = script_dir()

function M.env(name, default)
    local v = os.getenv(name)
    if v == nil or v == "" then
        return default
    end
    return v
end

function M.num(name, default)
    local v = tonumber(M.env(name, tostring(default)))
    if v == nil then
        error(name .. " is not a number")
    end
    return v
end

function M.log(fmt, ...)
    local s = string.format(fmt, ...)
    print("[pktgen-lua] " .. s)
    io.stdout:flush()
end

-- tcpterm's side of the memif link (tcpterm.toml): its MAC, its address, the gateway address
-- pktgen answers ARP for (every reply to 10.0.0.0/8 goes there).
M.tcpterm_mac = M.env("PG_DST_MAC", "02:00:00:00:00:01")
M.tcpterm_ip = M.env("PG_DST_IP", "198.18.0.1")
M.gateway_ip = M.env("PG_GATEWAY_IP", "198.18.0.254")

-- Common single-packet settings: TCP/IPv4 to tcpterm, ARP answered (process on), screen off so
-- that the log stays readable.
function M.setup()
    local p = M.port
    pktgen.screen("off")
    pktgen.stop(p)
    pktgen.set_proto(p, "tcp")
    pktgen.set_mac(p, "dst", M.tcpterm_mac)
    pktgen.set_ipaddr(p, "src", M.gateway_ip .. "/24")
    pktgen.set_ipaddr(p, "dst", M.tcpterm_ip)
    pktgen.set(p, "size", M.num("PG_SIZE", 64))
    M.rate = M.env("PG_RATE", "100")
    pktgen.set(p, "burst", M.num("PG_BURST", 64))
    pktgen.set(p, "count", 0)
    pktgen.process(p, "on")
    M.wait_link()
end

-- Sets the transmit rate (% of the link speed). pktgen turns the rate into cycles per burst
-- only when a setting changes and from the link speed it knows then: 0 (link down) or a mode
-- change (pcap on) leaves it at "never send", so M.run sets it again right before starting.
function M.set_rate(rate)
    M.rate = tostring(rate)
    pktgen.set(M.port, "rate", M.rate)
end

-- Waits until the memif link is up (the peer accepted the connection), at most 15 s.
function M.wait_link()
    local p = M.port
    for _ = 1, 150 do
        local s = pktgen.linkState(p)[p] or ""
        if s:find("UP", 1, true) then
            pktgen.delay(500)
            return
        end
        pktgen.delay(100)
    end
    error("port " .. p .. ": link still down after 15 s (is tcpterm running on the memif socket?)")
end

-- Runs CLI lines (the commands without a Lua setter: TCP flags, seq, ack) from a temporary
-- command file.
function M.cli(lines)
    local tmp = os.tmpname() -- creates the file; the command file needs a name of its own
    local path = tmp .. ".pkt"
    local f = assert(io.open(path, "w"))
    for _, l in ipairs(lines) do
        f:write(l, "\n")
    end
    f:close()
    pktgen.load(path)
    os.remove(path)
    os.remove(tmp)
end

-- Loads one of the .pkt files next to the scripts.
function M.load_pkt(name)
    pktgen.load(M.dir .. "/" .. name)
end

-- Range mode over source addresses and ports (both advance by one per packet), destination
-- fixed at tcpterm's listener; flags from a .pkt file.
function M.range_flood(flags_pkt, opts)
    local p = M.port
    local r = pktgen.range
    r.dst_mac(p, "start", M.tcpterm_mac)
    r.src_ip(p, "start", opts.src_min)
    r.src_ip(p, "min", opts.src_min)
    r.src_ip(p, "max", opts.src_max)
    r.src_ip(p, "inc", opts.src_inc or "0.0.0.1")
    r.dst_ip(p, "start", opts.dst_ip or M.tcpterm_ip)
    r.dst_ip(p, "min", opts.dst_ip or M.tcpterm_ip)
    r.dst_ip(p, "max", opts.dst_ip or M.tcpterm_ip)
    r.dst_ip(p, "inc", "0.0.0.0")
    r.src_port(p, "start", opts.sport_min)
    r.src_port(p, "min", opts.sport_min)
    r.src_port(p, "max", opts.sport_max)
    r.src_port(p, "inc", opts.sport_inc or 1)
    r.dst_port(p, "start", opts.dport)
    r.dst_port(p, "min", opts.dport)
    r.dst_port(p, "max", opts.dport)
    r.dst_port(p, "inc", 0)
    r.pkt_size(p, "start", opts.size or 64)
    r.pkt_size(p, "min", opts.size or 64)
    r.pkt_size(p, "max", opts.size or 64)
    r.pkt_size(p, "inc", 0)
    pktgen.set_range(p, "on")
    M.cli({"range " .. p .. " proto tcp"})
    M.load_pkt(flags_pkt)
    -- seq and ack: pktgen's CLI parses them with atoi; values above 2^31 wrap to the right
    -- 32-bit pattern on glibc, so 0 .. 4294967295 is the full space.
    local seq, ack = opts.seq or {}, opts.ack or {}
    M.cli({
        string.format("range %d tcp seq %d %d %d %d", p, seq.start or 0, seq.min or 0,
                      seq.max or 4294967295, seq.inc or 0),
        string.format("range %d tcp ack %d %d %d %d", p, ack.start or 0, ack.min or 0,
                      ack.max or 4294967295, ack.inc or 0),
    })
end

-- Wall-clock seconds (Lua's os.time() has a one-second resolution).
function M.now()
    local f = io.popen("date +%s.%N")
    local t = tonumber(f:read("*l"))
    f:close()
    return t
end

-- Port and packet counters of pktgen (its port stats are refreshed once a second).
function M.stats()
    local p = M.port
    local s = pktgen.portStats(p, "port")[p]
    local k = pktgen.pktStats(p)[p]
    return {
        opackets = s.opackets, ipackets = s.ipackets, obytes = s.obytes, ibytes = s.ibytes,
        oerrors = s.oerrors, ierrors = s.ierrors, imissed = s.imissed, rx_nombuf = s.rx_nombuf,
        rx_arp = k.arp_pkts, tx_failed = k.tx_failed,
    }
end

-- Clears the counters, sends for `seconds` (or until `count` packets went out when count > 0),
-- stops, waits for the counters to settle, and returns them with the rates seen each second.
function M.run(seconds, count)
    local p = M.port
    pktgen.set(p, "count", count or 0)
    -- An ARP request to tcpterm first: it learns our MAC for the gateway address, so that its
    -- first replies do not wait for ARP (it holds only 8 packets per unresolved next hop).
    -- PG_NOARP=1 skips it.
    if M.env("PG_NOARP", "0") ~= "1" then
        pktgen.send_arp(p, "r")
        pktgen.delay(300)
    end
    pktgen.clr()
    pktgen.delay(1200)
    local before = M.stats()
    M.log("start: port %d for %d s%s", p, seconds,
          (count or 0) > 0 and string.format(" (or %d packets)", count) or "")
    M.set_rate(M.rate)
    local t0 = M.now()
    pktgen.start(p)
    local tx_rates, rx_rates = {}, {}
    for i = 1, seconds do
        pktgen.sleep(1)
        local r = pktgen.portStats(p, "rate")[p]
        tx_rates[#tx_rates + 1] = r.pkts_tx
        rx_rates[#rx_rates + 1] = r.pkts_rx
        M.log("  %2d s: tx %d pps, rx %d pps", i, r.pkts_tx, r.pkts_rx)
        if (count or 0) > 0 and pktgen.isSending(p)[p] == "n" then
            break
        end
    end
    pktgen.stop(p)
    local elapsed = M.now() - t0
    pktgen.delay(2500) -- replies still in flight; the port stats refresh once a second
    local after = M.stats()
    local d = {}
    for k, v in pairs(after) do
        d[k] = v - (before[k] or 0)
    end
    d.seconds = math.floor(elapsed * 10 + 0.5) / 10
    d.tx_pps_avg = math.floor(d.opackets / elapsed)
    d.rx_pps_avg = math.floor(d.ipackets / elapsed)
    table.sort(tx_rates)
    table.sort(rx_rates)
    d.tx_pps_median = tx_rates[math.max(1, math.floor((#tx_rates + 1) / 2))] or 0
    d.rx_pps_median = rx_rates[math.max(1, math.floor((#rx_rates + 1) / 2))] or 0
    return d
end

local order = {"opackets", "ipackets", "tx_pps_median", "rx_pps_median", "tx_pps_avg",
               "rx_pps_avg", "seconds", "obytes", "ibytes", "rx_arp", "oerrors",
               "ierrors", "imissed", "rx_nombuf", "tx_failed"}

-- Prints a result line (and appends it as JSON to $PG_RESULT when set).
function M.report(name, d, extra)
    local parts, json = {}, {}
    for _, k in ipairs(order) do
        if d[k] ~= nil then
            parts[#parts + 1] = k .. "=" .. tostring(d[k])
            json[#json + 1] = string.format("%q:%s", k, tostring(d[k]))
        end
    end
    for k, v in pairs(extra or {}) do
        parts[#parts + 1] = k .. "=" .. tostring(v)
        json[#json + 1] = string.format("%q:%q", k, tostring(v))
    end
    M.log("RESULT %s: sent %d, received %d; %s", name, d.opackets, d.ipackets,
          table.concat(parts, " "))
    local out = M.env("PG_RESULT", nil)
    if out ~= nil then
        local f = io.open(out, "a")
        if f ~= nil then
            f:write(string.format("{\"script\":%q,%s}\n", name, table.concat(json, ",")))
            f:close()
        end
    end
end

return M
