#!/usr/bin/env bash
# Runs one of the pktgen-dpdk scripts of this directory against a fresh tcpterm and prints what
# pktgen sent and received and what tcpterm did with it (its own counters, before/after).
#
#   PKTGEN=/path/to/pktgen scripts/pktgen/run.sh SCENARIO
#
# SCENARIO:
#   syn-flood        syn-flood.lua: SYNs, source addresses and ports ranged, to the listener
#   syn-flood-pcap   replay.lua repeating make-pcaps.py syns: PG_FLOWS (65536) distinct SYNs
#   unknown-ack      flood-unknown.lua, PG_FLAGS=ack: ACKs for flows tcpterm does not know
#   unknown-fin      flood-unknown.lua, PG_FLAGS=fin
#   unknown-rst      flood-unknown.lua, PG_FLAGS=rst
#   known-ack        flood-known.lua, PG_FLAGS=ack: the four-tuples of PG_CONNS connections a
#   known-fin        kernel client (hold-conns.py) opened and holds over tcpterm's tap port;
#   known-rst        afterwards the client checks that each connection still answers a request
#   known-syn
#   known-rst-sweep  replay.lua sending make-pcaps.py rst-sweep once: RSTs on PG_CONNS (4) held
#                    connections with sequence numbers 64 KiB apart over all 2^32 (a blind
#                    in-window RST search, RFC 5961 3)
#   replay           replay.lua three times: the SYNs of lifecycles.pcap (capturing the
#                    SYN-ACKs), then the rest of each lifecycle rewritten with the ISNs tcpterm
#                    chose (make-pcaps.py), then that same replay again
#   replay-blind     replay.lua once: the client side of lifecycles.pcap as written (ISNs that
#                    tcpterm did not choose)
#
# pktgen is not in this repository: build pktgen-dpdk 24.07.1 yourself (docs/benchmarks.md,
# section "pktgen-dpdk") and point PKTGEN at its binary. Environment:
#   PKTGEN        pktgen binary (required)
#   TCPTERM       tcpterm binary (default: build/app/tcpterm)
#   TCPTERM_EAL   extra EAL arguments for tcpterm (e.g. "--lcores=0@0,1@(0-1)")
#   PKTGEN_EAL    pktgen's EAL arguments (default "-l 0-1 --no-huge -m 1024 --no-pci")
#   OUT           directory for logs and snapshots (default: a new /tmp/tcpterm-pktgen.XXXXXX)
#   PG_*          passed to the Lua scripts (see each script's header); PG_CONNS (16) for known-*
# Needs root (tap interface, /run socket). Uses DPDK file prefixes pgterm and pgpktgen.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PKTGEN=${PKTGEN:?set PKTGEN to the pktgen binary (pktgen-dpdk 24.07.1, see docs/benchmarks.md)}
TCPTERM=${TCPTERM:-$ROOT/build/app/tcpterm}
TCPTERM_EAL=${TCPTERM_EAL:-}
PKTGEN_EAL=${PKTGEN_EAL:-"-l 0-1 --no-huge -m 1024 --no-pci"}
OUT=${OUT:-$(mktemp -d /tmp/tcpterm-pktgen.XXXXXX)}
SOCK=/run/tcpterm-pktgen.sock
PREFIX=pgterm
export PG_DIR=$HERE
export PG_RESULT=${PG_RESULT:-$OUT/results.jsonl}
PY=/usr/bin/python3 # Debian's, with python3-scapy (a pyenv python3 on PATH lacks it)
SRV_PID=
HOLD_PID=
mkdir -p "$OUT"

log() { echo "run.sh: $*" >&2; }
die() {
    log "$*"
    exit 1
}

cleanup() {
    [[ -n $HOLD_PID ]] && kill -TERM "$HOLD_PID" 2>/dev/null || true
    [[ -n $SRV_PID ]] && kill -TERM "$SRV_PID" 2>/dev/null || true
    sleep 0.5
    [[ -n $SRV_PID ]] && kill -KILL "$SRV_PID" 2>/dev/null || true
    rm -f "$SOCK"
}
trap cleanup EXIT

wait_for_line() { # FILE PATTERN SECONDS PID
    local i
    for ((i = 0; i < $3 * 10; i++)); do
        grep -q "$2" "$1" 2>/dev/null && return 0
        kill -0 "$4" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

start_tcpterm() { # NAME
    rm -f "$SOCK"
    local eal=()
    [[ -n $TCPTERM_EAL ]] && read -ra eal <<<"$TCPTERM_EAL"
    if ((${#eal[@]})); then
        setsid "$TCPTERM" "${eal[@]}" -- --config "$HERE/tcpterm.toml" >"$OUT/$1.tcpterm.log" 2>&1 &
    else
        setsid "$TCPTERM" --config "$HERE/tcpterm.toml" >"$OUT/$1.tcpterm.log" 2>&1 &
    fi
    SRV_PID=$!
    wait_for_line "$OUT/$1.tcpterm.log" "worker(s) running" 20 "$SRV_PID" ||
        die "tcpterm did not start (see $OUT/$1.tcpterm.log)"
    ip addr replace 198.18.2.2/24 dev pgtap0
    ip link set pgtap0 up
}

stop_tcpterm() {
    kill -TERM "$SRV_PID" 2>/dev/null || true
    local i
    for ((i = 0; i < 50; i++)); do
        kill -0 "$SRV_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$SRV_PID" 2>/dev/null || true
    wait "$SRV_PID" 2>/dev/null || true
    SRV_PID=
}

snapshot() { # FILE
    python3 "$HERE/tcpterm-delta.py" snapshot --prefix "$PREFIX" "$1"
}

# pktgen needs a terminal ("tcgetattr failed" otherwise): script(1) gives it one.
run_pktgen() { # NAME LUA [extra pktgen args...]
    local name=$1 lua=$2
    shift 2
    local cmd="$PKTGEN $PKTGEN_EAL --file-prefix pgpktgen"
    cmd+=" --vdev=net_memif0,role=client,socket=$SOCK,mac=02:00:00:00:00:02"
    cmd+=" -- -P -m 1.0 $* -f $HERE/$lua"
    log "$name: $cmd"
    echo "$cmd" >"$OUT/$name.pktgen.cmd"
    (cd "$OUT" && timeout 180 script -qfec "$cmd" /dev/null >"$OUT/$name.pktgen.log" 2>&1) ||
        log "$name: pktgen exited with $?"
    # pktgen's screen codes make the log hard to read: keep the Lua lines apart.
    grep -a '\[pktgen-lua\]' "$OUT/$name.pktgen.log" | sed 's/^.*\[pktgen-lua\]/[pktgen-lua]/' |
        tee "$OUT/$name.lua.log" || true
    grep -aq 'RESULT' "$OUT/$name.lua.log" ||
        log "$name: no RESULT line from the script (see $OUT/$name.pktgen.log)"
}

report() { # NAME
    log "$1: tcpterm counters that changed during the run (gauges: value after)"
    python3 "$HERE/tcpterm-delta.py" diff "$OUT/$1.before.json" "$OUT/$1.after.json" |
        tee "$OUT/$1.tcpterm.txt"
    python3 "$HERE/tcpterm-delta.py" diff --json "$OUT/$1.before.json" "$OUT/$1.after.json" \
        >"$OUT/$1.tcpterm.json"
}

flood() { # NAME LUA
    start_tcpterm "$1"
    snapshot "$OUT/$1.before.json"
    run_pktgen "$1" "$2"
    sleep 1
    snapshot "$OUT/$1.after.json"
    report "$1"
    stop_tcpterm
}

known() { # NAME FLAGS
    local conns=${PG_CONNS:-16}
    start_tcpterm "$1"
    "$PY" "$HERE/hold-conns.py" --conns "$conns" --status "$OUT/$1.hold.json" \
        >"$OUT/$1.hold.log" 2>&1 &
    HOLD_PID=$!
    wait_for_line "$OUT/$1.hold.log" "holding" 20 "$HOLD_PID" ||
        die "hold-conns.py did not open its connections (see $OUT/$1.hold.log)"
    cat "$OUT/$1.hold.log"
    snapshot "$OUT/$1.before.json"
    PG_FLAGS=$2 PG_SPORT_MIN=${PG_SPORT_MIN:-40000} PG_SPORT_MAX=$((${PG_SPORT_MIN:-40000} + conns - 1)) \
        run_pktgen "$1" flood-known.lua
    sleep 1
    snapshot "$OUT/$1.after.json"
    kill -USR1 "$HOLD_PID" # check every connection with one more request, then exit
    wait "$HOLD_PID" || true
    HOLD_PID=
    tail -n +2 "$OUT/$1.hold.log"
    report "$1"
    stop_tcpterm
}

syn_flood_pcap() { # NAME
    "$PY" "$HERE/make-pcaps.py" syns --count "${PG_FLOWS:-65536}" --out "$OUT/flood.pcap"
    start_tcpterm "$1"
    snapshot "$OUT/$1.before.json"
    PG_NAME=$1 PG_COUNT=0 PG_RATE=${PG_RATE:-100} run_pktgen "$1" replay.lua -s "0:$OUT/flood.pcap"
    sleep 1
    snapshot "$OUT/$1.after.json"
    report "$1"
    stop_tcpterm
}

known_rst_sweep() { # NAME
    local conns=${PG_CONNS:-4}
    "$PY" "$HERE/make-pcaps.py" rst-sweep --conns "$conns" --out "$OUT/sweep.pcap"
    start_tcpterm "$1"
    "$PY" "$HERE/hold-conns.py" --conns "$conns" --status "$OUT/$1.hold.json" \
        >"$OUT/$1.hold.log" 2>&1 &
    HOLD_PID=$!
    wait_for_line "$OUT/$1.hold.log" "holding" 20 "$HOLD_PID" ||
        die "hold-conns.py did not open its connections (see $OUT/$1.hold.log)"
    cat "$OUT/$1.hold.log"
    snapshot "$OUT/$1.before.json"
    PG_NAME=$1 PG_COUNT=$(cat "$OUT/sweep.count") PG_RATE=${PG_RATE:-100} PG_SECONDS=${PG_SECONDS:-20} \
        run_pktgen "$1" replay.lua -s "0:$OUT/sweep.pcap"
    sleep 1
    snapshot "$OUT/$1.after.json"
    kill -USR1 "$HOLD_PID"
    wait "$HOLD_PID" || true
    HOLD_PID=
    tail -n +2 "$OUT/$1.hold.log"
    report "$1"
    stop_tcpterm
}

replay() { # NAME
    local n=${PG_LIFECYCLES:-64}
    "$PY" "$HERE/make-pcaps.py" synth --conns "$n" --out "$OUT"
    start_tcpterm "$1"
    snapshot "$OUT/$1.before.json"
    if [[ $1 == replay-blind ]]; then
        PG_NAME=$1 PG_COUNT=$(cat "$OUT/client.count") run_pktgen "$1" replay.lua -s "0:$OUT/client.pcap"
    else
        # 1: the SYNs alone, capturing what comes back (the SYN-ACKs carry tcpterm's ISNs)
        rm -f "$OUT"/pktgen-*.pcap
        PG_NAME=$1-syns PG_COUNT=$(cat "$OUT/syns.count") PG_CAPTURE=1 \
            run_pktgen "$1-syns" replay.lua -s "0:$OUT/syns.pcap"
        local cap
        cap=$(ls -t "$OUT"/pktgen-*.pcap 2>/dev/null | head -1)
        [[ -n $cap ]] || die "pktgen wrote no capture in $OUT"
        snapshot "$OUT/$1-syns.after.json"
        # 2: the rest of every lifecycle, acknowledging the ISNs captured
        "$PY" "$HERE/make-pcaps.py" rewrite --conns "$n" --capture "$cap" --out "$OUT"
        PG_NAME=$1-rest PG_COUNT=$(cat "$OUT/rest.count") run_pktgen "$1-rest" replay.lua -s "0:$OUT/rest.pcap"
        snapshot "$OUT/$1-rest.after.json"
        # 3: the same again: the four-tuples are closed now, the recorded ISNs stale
        PG_NAME=$1-again PG_COUNT=$(cat "$OUT/rest.count") run_pktgen "$1-again" replay.lua -s "0:$OUT/rest.pcap"
    fi
    sleep 1
    snapshot "$OUT/$1.after.json"
    if [[ $1 == replay ]]; then
        log "replay, phase 1 (SYNs):"
        python3 "$HERE/tcpterm-delta.py" diff "$OUT/$1.before.json" "$OUT/$1-syns.after.json"
        log "replay, phase 2 (rest of the lifecycles):"
        python3 "$HERE/tcpterm-delta.py" diff "$OUT/$1-syns.after.json" "$OUT/$1-rest.after.json"
        log "replay, phase 3 (phase 2 again):"
        python3 "$HERE/tcpterm-delta.py" diff "$OUT/$1-rest.after.json" "$OUT/$1.after.json"
    fi
    report "$1"
    stop_tcpterm
}

[[ $# -ge 1 ]] || die "usage: PKTGEN=/path/to/pktgen $0 SCENARIO (see the header)"
[[ -x $PKTGEN ]] || die "PKTGEN=$PKTGEN is not executable"
[[ -x $TCPTERM ]] || die "TCPTERM=$TCPTERM is not executable (ninja -C build app/tcpterm)"
log "output in $OUT"
case $1 in
syn-flood) flood "$1" syn-flood.lua ;;
syn-flood-pcap) syn_flood_pcap "$1" ;;
unknown-ack | unknown-fin | unknown-rst) PG_FLAGS=${1#unknown-} flood "$1" flood-unknown.lua ;;
known-ack | known-fin | known-rst | known-syn) known "$1" "${1#known-}" ;;
known-rst-sweep) known_rst_sweep "$1" ;;
replay | replay-blind) replay "$1" ;;
*) die "unknown scenario $1" ;;
esac
log "results (JSON lines): $PG_RESULT"
