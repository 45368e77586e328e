#!/usr/bin/env bash
# Benchmarks of issue #5, one command per scenario; results go to docs/benchmarks.md.
#
#   scripts/bench.sh cps       CPS: tcpterm (1 worker, http) vs tcpterm-gen over net_memif, then
#                              the same workload against Linux on loopback: nginx driven by wrk,
#                              and HAProxy in front of nginx. Closers: server, then client.
#   scripts/bench.sh profile   perf profile of tcpterm's worker during a CPS run (closer server):
#                              where the cycles go, as docs/bench/profile-cps-server.txt
#   scripts/bench.sh proxy     proxied CPS: tcpterm-gen -> tcpterm as load balancer -> a backend
#                              tcpterm (http responder), all over net_memif, next to wrk ->
#                              HAProxy (TCP mode) -> nginx on loopback, run by run
#   scripts/bench.sh memory    1M and 10M connections held ESTABLISHED, then as TIME_WAIT
#                              records (in-process): bytes per connection, RSS
#   scripts/bench.sh teardown  1M established connections closed by a prebuilt burst of RSTs,
#                              client FINs or answers to the server's FINs (in-process):
#                              segments/s and teardowns/s per core, and a perf profile
#   scripts/bench.sh timers    10M TIME_WAIT records expiring while data segments arrive
#                              (in-process): expiries/s, packet rate with and without expiries
#   scripts/bench.sh synflood  spoofed SYNs (SYN cookies) while a legitimate client runs
#                              lifecycles (in-process): SYN-ACK rate, legitimate completions,
#                              pools and RSS before, during and after
#   scripts/bench.sh scaling   what 2 cores can and cannot show; commands for a bigger machine
#   scripts/bench.sh report    results -> the tables and plots in docs/benchmarks.md
#   scripts/bench.sh all       every scenario above, then report (under 30 min on 2 vCPUs)
#
# Each run writes a JSON result and a Markdown row under $RESULTS_DIR (default docs/bench/).
# Environment: BUILD_DIR (default build; built with meson + ninja -j$JOBS if the binaries are
# missing), RUNS (3; 0 = only the ramps), DURATION (seconds per run, 10), GEN_CONCURRENCY (512),
# WRK_CONNECTIONS (256), RAMP (1: one ramp run per closer), LINUX (1: the nginx and HAProxy runs),
# MEMORY_SIZES (1000000,10000000), TEARDOWN_CONNS (1000000), TIMERS_TW (10000000),
# FLOOD_LEGIT (50000), FLOOD_RATIO (100 spoofed SYNs per legitimate connection).
#
# Cores: on a 2-core machine the server side gets CPU 1 and the client side CPU 0. tcpterm's
# worker runs on lcore 1 (EAL -l 0-1 --main-lcore 0), tcpterm-gen's on lcore 0 (--main-lcore 1);
# nginx's worker (and HAProxy's thread) are pinned to CPU 1, wrk to CPU 0. In `proxy` the load
# balancer (tcpterm's worker, or HAProxy) has CPU 1 and the client and the backend share CPU 0
# (tcpterm-gen's and the backend tcpterm's poll loops, or wrk and nginx). The in-process
# scenarios run on CPU 1.
#
# Root is needed (hugepages, apt). The script installs what it needs with apt: nginx-light,
# haproxy, wrk, gnuplot-nox.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
RESULTS_DIR=${RESULTS_DIR:-$ROOT/docs/bench}
RUNS=${RUNS:-3}
DURATION=${DURATION:-10}
GEN_CONCURRENCY=${GEN_CONCURRENCY:-512}
WRK_CONNECTIONS=${WRK_CONNECTIONS:-256}
RAMP=${RAMP:-1}
LINUX=${LINUX:-1}
JOBS=${JOBS:-1}
HELPER="$ROOT/scripts/bench_report.py"
CTL="$ROOT/app/tcpterm-ctl"
SOCK=/run/tcpterm-bench.sock
SRV_PREFIX=tcpterm-bench-srv
GEN_PREFIX=tcpterm-bench-gen
LB_SOCK=/run/tcpterm-bench-lb.sock # tcpterm-gen <-> the load balancer
BE_SOCK=/run/tcpterm-bench-be.sock # the load balancer <-> the backend
LB_PREFIX=tcpterm-bench-lb
BE_PREFIX=tcpterm-bench-be
GEN_SOCK=$SOCK
MEMORY_SIZES=${MEMORY_SIZES:-1000000,10000000}
TEARDOWN_CONNS=${TEARDOWN_CONNS:-1000000}
TIMERS_TW=${TIMERS_TW:-10000000}
FLOOD_LEGIT=${FLOOD_LEGIT:-50000}
FLOOD_RATIO=${FLOOD_RATIO:-100}
SCALE_CPU=${SCALE_CPU:-1}
WORK=$(mktemp -d /tmp/tcpterm-bench.XXXXXX)
PIDS=()

log() { echo "bench: $*" >&2; }
die() {
    log "$*"
    exit 1
}

cleanup() {
    local p
    for p in "${PIDS[@]}"; do
        kill -TERM "$p" 2>/dev/null || true
    done
    sleep 0.5
    for p in "${PIDS[@]}"; do
        kill -KILL "$p" 2>/dev/null || true
    done
    rm -f "$SOCK" "$LB_SOCK" "$BE_SOCK"
    # Our processes are gone: give their hugepages back (the EAL leaves its files behind).
    rm -f /dev/hugepages/"$SRV_PREFIX"map_* /dev/hugepages/"$GEN_PREFIX"map_* \
        /dev/hugepages/"$LB_PREFIX"map_* /dev/hugepages/"$BE_PREFIX"map_* 2>/dev/null || true
}
trap cleanup EXIT
trap 'log "failed: line $LINENO: $BASH_COMMAND"' ERR

usage() {
    awk 'NR > 1 && !/^#/ {exit} NR > 1' "$0" | sed 's/^# \{0,1\}//'
    exit 2
}

# ---- setup --------------------------------------------------------------------------------------

install_deps() {
    local need=()
    command -v nginx >/dev/null || need+=(nginx-light)
    command -v haproxy >/dev/null || need+=(haproxy)
    command -v wrk >/dev/null || need+=(wrk)
    command -v gnuplot >/dev/null || need+=(gnuplot-nox)
    command -v meson >/dev/null || "$ROOT/scripts/setup-deps.sh" >/dev/null
    [ ${#need[@]} -eq 0 ] && return 0
    log "installing ${need[*]}"
    # Packages must not start their services (nginx would take port 80): policy-rc.d says no.
    local policy=/usr/sbin/policy-rc.d made=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && made=1
    fi
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends "${need[@]}"; } >"$WORK/apt.log" 2>&1 || {
        [ $made -eq 1 ] && rm -f "$policy"
        die "apt-get install ${need[*]} failed (see $WORK/apt.log)"
    }
    [ $made -eq 1 ] && rm -f "$policy"
    return 0
}

ensure_build() { # [extra ninja targets...]: tcpterm and tcpterm-gen are always built
    local targets=(app/tcpterm app/tcpterm-gen "$@") t missing=0
    for t in "${targets[@]}"; do
        [ -x "$BUILD_DIR/$t" ] || missing=1
    done
    if [ $missing -eq 1 ]; then
        [ -d "$BUILD_DIR" ] || meson setup "$BUILD_DIR" "$ROOT" >"$WORK/meson.log" 2>&1 ||
            die "meson setup $BUILD_DIR failed (see $WORK/meson.log)"
        log "building ${targets[*]} in $BUILD_DIR (ninja -j$JOBS)"
        ninja -C "$BUILD_DIR" -j"$JOBS" "${targets[@]}" >"$WORK/ninja.log" 2>&1 ||
            die "build failed (see $WORK/ninja.log)"
    fi
}

hugepages() { # [FREE]: at least 512 2 MB pages in all and FREE of them free (default 256)
    local need=${1:-256}
    grep -q '^nodev /dev/hugepages\|hugetlbfs /dev/hugepages' /proc/mounts ||
        { mkdir -p /dev/hugepages && mount -t hugetlbfs nodev /dev/hugepages; } ||
        die "cannot mount hugetlbfs on /dev/hugepages"
    local total free want
    total=$(awk '/^HugePages_Total/ {print $2}' /proc/meminfo)
    free=$(awk '/^HugePages_Free/ {print $2}' /proc/meminfo)
    # Files a previous run of ours left behind are reclaimed by the EAL of the same prefix;
    # pages other programs hold are not ours to free: reserve more instead.
    want=$((total + (free < need ? need - free : 0)))
    [ "$want" -lt 512 ] && want=512
    if [ "$want" -gt "$total" ]; then
        echo "$want" >/proc/sys/vm/nr_hugepages
        total=$(awk '/^HugePages_Total/ {print $2}' /proc/meminfo)
        [ "$total" -ge "$want" ] || die "only $total of $want 2 MB hugepages could be reserved"
    fi
}

machine_json() {
    local cpu commit dirty
    cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
    commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
    # Results written under docs/ by this very run do not make the build dirty.
    dirty=$(git -C "$ROOT" status --porcelain --untracked-files=no -- . ':!docs' 2>/dev/null |
        grep -q . && echo true || echo false)
    local buildtype
    buildtype=$(meson introspect --buildoptions "$BUILD_DIR" 2>/dev/null |
        python3 -c 'import json,sys; o={x["name"]:x["value"] for x in json.load(sys.stdin)}; print(o.get("buildtype","?")+(", -march=native" if o.get("native") else ", -march=corei7 (Debian libdpdk.pc)"))' 2>/dev/null || echo unknown)
    # The load average when the run ended: how busy the shared machine was.
    printf '{"date": "%s", "cpu": "%s", "cpus": %s, "kernel": "%s", "commit": "%s", "dirty": %s, "build": "%s", "loadavg": "%s"}' \
        "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$cpu" "$(nproc)" "$(uname -r)" "$commit" "$dirty" "$buildtype" \
        "$(cut -d' ' -f1-3 /proc/loadavg)"
}

wait_for_line() { # FILE PATTERN SECONDS PID
    local i
    for ((i = 0; i < $3 * 10; i++)); do
        grep -q "$2" "$1" 2>/dev/null && return 0
        kill -0 "$4" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

wait_for_port() { # PORT SECONDS
    local i
    for ((i = 0; i < $2 * 10; i++)); do
        (echo >/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

forget_pid() {
    local keep=() p
    for p in "${PIDS[@]}"; do [ "$p" != "$1" ] && keep+=("$p"); done
    PIDS=("${keep[@]+"${keep[@]}"}")
}

stop_pid() { # PID: SIGTERM, wait up to 15 s, then SIGKILL
    local i
    kill -TERM "$1" 2>/dev/null || true
    for ((i = 0; i < 150; i++)); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
    forget_pid "$1"
}

# ---- tcpterm vs tcpterm-gen over net_memif --------------------------------------------------------

srv_config() { # CLOSER FILE
    cat >"$2" <<TOML
# tcpterm under benchmark: one worker (lcore 1), http service, memif server side.
[eal]
args = ["-l", "0-1", "--main-lcore", "0", "-m", "256", "--no-pci"]
file_prefix = "$SRV_PREFIX"

[engine]
workers = 1
drain_timeout = "2s"
# 32 (the default) caps an open-loop run at ~113k lifecycles/s on the reference VM: bursts of
# SYNs wait behind the loop's fixed per-iteration cost (docs/benchmarks.md).
rx_burst = 256

[[port]]
device = "net_memif0,role=server,socket=$SOCK,rsize=14"
addresses = ["198.18.0.1/24"]

[[listener]]
port = 80
service = "http"
http_response_size = 128
http_closer = "$1"
TOML
}

start_server() { # CLOSER DIR
    rm -f "$SOCK"
    srv_config "$1" "$2/srv.toml"
    setsid "$BUILD_DIR/app/tcpterm" --config "$2/srv.toml" >"$2/srv.log" 2>&1 &
    SRV_PID=$!
    PIDS+=("$SRV_PID")
    wait_for_line "$2/srv.log" "worker(s) running" 20 "$SRV_PID" ||
        die "tcpterm did not start (see $2/srv.log)"
}

shown() { # a command as recorded: build dir and scratch paths shortened
    local c=${1//$BUILD_DIR/build}
    echo "${c//$WORK\//}"
}

gen_cmd() { # CLOSER JSON [extra gen options...]
    local closer=$1 json=$2
    shift 2
    echo "$BUILD_DIR/app/tcpterm-gen -l 0-1 --main-lcore 1 -m 256 --no-pci --file-prefix $GEN_PREFIX --" \
        "--device net_memif0,role=client,socket=$GEN_SOCK,rsize=14 --src 198.18.0.10-198.18.0.41" \
        "--dst 198.18.0.1 --dport 80 --close $closer --request-size 64 --response-size 128" \
        "--drain 2s --json $json $*"
}

engine_run() { # CLOSER RUN
    local closer=$1 run=$2 dir="$WORK/tcpterm-$1-$2"
    mkdir -p "$dir"
    log "tcpterm vs tcpterm-gen, closer $closer, run $run"
    start_server "$closer" "$dir"
    python3 "$CTL" --prefix "$SRV_PREFIX" raw /tcpterm/workers >"$dir/workers-before.json"
    python3 "$HELPER" cpu-snapshot "$SRV_PID" >"$dir/cpu-before.json"
    local cmd
    cmd=$(gen_cmd "$closer" "$dir/gen.json" --concurrency "$GEN_CONCURRENCY" --duration "${DURATION}s")
    $cmd >"$dir/gen.log" 2>&1 || die "tcpterm-gen failed (see $dir/gen.log)"
    python3 "$HELPER" cpu-snapshot "$SRV_PID" >"$dir/cpu-after.json"
    python3 "$CTL" --prefix "$SRV_PREFIX" raw /tcpterm/workers >"$dir/workers-after.json"
    python3 "$CTL" --prefix "$SRV_PREFIX" raw /tcpterm/stats >"$dir/stats-after.json"
    stop_server
    python3 "$HELPER" engine --dir "$dir" --closer "$closer" --run "$run" \
        --machine "$(machine_json)" --command "$(shown "$cmd")" --out "$RESULTS_DIR"
}

engine_ramp() { # CLOSER
    local closer=$1 dir="$WORK/tcpterm-ramp-$1"
    mkdir -p "$dir"
    log "tcpterm vs tcpterm-gen, ramp, closer $closer"
    start_server "$closer" "$dir"
    python3 "$CTL" --prefix "$SRV_PREFIX" raw /tcpterm/workers >"$dir/workers-before.json"
    local cmd
    cmd=$(gen_cmd "$closer" "$dir/gen.json" --ramp --ramp-start 50000 --ramp-factor 1.15 \
        --ramp-step 2s --duration 60s)
    $cmd >"$dir/gen.log" 2>&1 || die "tcpterm-gen failed (see $dir/gen.log)"
    python3 "$CTL" --prefix "$SRV_PREFIX" raw /tcpterm/workers >"$dir/workers-after.json"
    python3 "$CTL" --prefix "$SRV_PREFIX" raw /tcpterm/stats >"$dir/stats-after.json"
    stop_server
    python3 "$HELPER" ramp --dir "$dir" --closer "$closer" --machine "$(machine_json)" \
        --command "$(shown "$cmd")" --out "$RESULTS_DIR"
}

stop_server() {
    stop_pid "$SRV_PID"
}

# ---- Linux on loopback ------------------------------------------------------------------------------

nginx_config() { # DIR [CPU MASK, default 10: CPU 1]
    local body
    body=$(printf 'x%.0s' $(seq 128))
    cat >"$1/nginx.conf" <<CONF
# nginx under benchmark: one worker (CPU mask ${2:-10}), a fixed 128-byte body, no logging.
worker_processes 1;
worker_cpu_affinity ${2:-10};
worker_rlimit_nofile 16384;
pid $1/nginx.pid;
error_log $1/nginx-error.log warn;
events {
    worker_connections 8192;
    multi_accept on;
}
http {
    access_log off;
    client_body_temp_path $1/tmp;
    default_type text/plain;
    server {
        listen 127.0.0.1:8080 backlog=4096;
        location / {
            return 200 "$body";
        }
    }
}
CONF
}

haproxy_config() { # DIR
    cat >"$1/haproxy.cfg" <<CONF
# HAProxy under benchmark: one thread on CPU 1, in front of nginx; every client connection
# gets its own server connection (option httpclose), as a full proxy.
global
    nbthread 1
    cpu-map 1/1 1
    maxconn 8000
    pidfile $1/haproxy.pid
defaults
    mode http
    option httpclose
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend fe
    bind 127.0.0.1:8081
    default_backend be
backend be
    server nginx 127.0.0.1:8080
CONF
}

linux_run() { # SYSTEM(nginx|haproxy) CLOSER RUN
    local system=$1 closer=$2 run=$3 dir="$WORK/$1-$2-$3" port=8080
    mkdir -p "$dir/tmp"
    log "$system (Linux loopback) vs wrk, closer $closer, run $run"
    nginx_config "$dir"
    nginx -p "$dir" -c "$dir/nginx.conf" -g 'daemon off;' >"$dir/nginx.log" 2>&1 &
    local npid=$! hpid=""
    PIDS+=("$npid")
    wait_for_port 8080 10 || die "nginx did not start (see $dir/nginx-error.log)"
    local pids="$npid $(pgrep -P "$npid" | tr '\n' ' ' || true)"
    if [ "$system" = haproxy ]; then
        haproxy_config "$dir"
        haproxy -f "$dir/haproxy.cfg" -db >"$dir/haproxy.log" 2>&1 &
        hpid=$!
        PIDS+=("$hpid")
        wait_for_port 8081 10 || die "haproxy did not start (see $dir/haproxy.log)"
        pids="$pids $hpid $(pgrep -P "$hpid" | tr '\n' ' ' || true)"
        port=8081
    fi
    local got
    got=$(wrk_body_size "$port")
    [ "$got" = 128 ] || die "$system answered with a $got-byte body, not 128"
    local hdr="Connection: close"
    local cmd="taskset -c 0 wrk -t1 -c$WRK_CONNECTIONS -d${DURATION}s --latency -H '$hdr' http://127.0.0.1:$port/"
    python3 "$HELPER" cpu-snapshot $pids >"$dir/cpu-before.json"
    taskset -c 0 wrk -t1 -c"$WRK_CONNECTIONS" -d"${DURATION}s" --latency -H "$hdr" \
        "http://127.0.0.1:$port/" >"$dir/wrk.log" 2>&1 || die "wrk failed (see $dir/wrk.log)"
    python3 "$HELPER" cpu-snapshot $pids >"$dir/cpu-after.json"
    [ -n "$hpid" ] && stop_pid "$hpid"
    stop_pid "$npid"
    python3 "$HELPER" linux --dir "$dir" --system "$system" --closer "$closer" --run "$run" \
        --machine "$(machine_json)" --command "$cmd" --out "$RESULTS_DIR"
}

wrk_body_size() { # PORT: the body size of one response
    python3 - "$1" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
data = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    data += b
head, _, body = data.partition(b"\r\n\r\n")
print(len(body))
PY
}

# ---- proxied CPS: tcpterm as load balancer vs HAProxy ---------------------------------------------

be_config() { # FILE: the backend, an http responder (the server closes), worker on CPU 0
    cat >"$1" <<TOML
# Backend under the load balancer: tcpterm's http responder on two addresses (two pool members),
# worker on lcore 0 (CPU 0, shared with tcpterm-gen's worker), memif server side.
[eal]
args = ["-l", "0-1", "--main-lcore", "1", "-m", "256", "--no-pci"]
file_prefix = "$BE_PREFIX"

[engine]
workers = 1
drain_timeout = "2s"
rx_burst = 256

[[port]]
device = "net_memif0,role=server,socket=$BE_SOCK,rsize=14"
addresses = ["198.18.1.2/24", "198.18.1.3/24"]

[[listener]]
port = 8080
service = "http"
http_response_size = 128
http_closer = "server"
TOML
}

lb_config() { # FILE: the load balancer, worker on CPU 1 alone
    cat >"$1" <<TOML
# tcpterm as load balancer under benchmark: one worker (lcore 1, CPU 1), a memif port toward
# tcpterm-gen (server side) and one toward the backend (client side), a virtual server on
# 198.18.0.1:80 and a pool of two members (the backend's two addresses), round robin.
[eal]
args = ["-l", "0-1", "--main-lcore", "0", "-m", "256", "--no-pci"]
file_prefix = "$LB_PREFIX"

[engine]
workers = 1
drain_timeout = "2s"
rx_burst = 256

[[port]]
device = "net_memif0,role=server,socket=$LB_SOCK,rsize=14"
addresses = ["198.18.0.1/24"]

[[port]]
device = "net_memif1,role=client,socket=$BE_SOCK,rsize=14"
addresses = ["198.18.1.1/24"]

[[pool]]
name = "web"
algorithm = "round_robin"
members = ["198.18.1.2:8080", "198.18.1.3:8080"]

[[virtual_server]]
name = "web"
address = "198.18.0.1"
port = 80
pool = "web"
TOML
}

start_tcpterm() { # CONFIG LOG: starts tcpterm, sets STARTED_PID
    setsid "$BUILD_DIR/app/tcpterm" --config "$1" >"$2" 2>&1 &
    STARTED_PID=$!
    PIDS+=("$STARTED_PID")
    wait_for_line "$2" "worker(s) running" 20 "$STARTED_PID" ||
        die "tcpterm did not start (see $2)"
}

proxy_engine_run() { # RUN
    local run=$1 dir="$WORK/proxy-tcpterm-$1"
    mkdir -p "$dir"
    log "tcpterm-gen -> tcpterm LB -> tcpterm backend (memif), run $run"
    rm -f "$LB_SOCK" "$BE_SOCK"
    be_config "$dir/be.toml"
    lb_config "$dir/lb.toml"
    start_tcpterm "$dir/be.toml" "$dir/be.log"
    local be_pid=$STARTED_PID
    start_tcpterm "$dir/lb.toml" "$dir/lb.log"
    local lb_pid=$STARTED_PID
    local ctl_lb=(python3 "$CTL" --prefix "$LB_PREFIX" raw)
    "${ctl_lb[@]}" /tcpterm/workers >"$dir/workers-before.json"
    "${ctl_lb[@]}" /tcpterm/vs >"$dir/vs-before.json"
    python3 "$HELPER" cpu-snapshot "$lb_pid" >"$dir/cpu-before.json"
    local cmd
    cmd=$(GEN_SOCK=$LB_SOCK gen_cmd server "$dir/gen.json" --concurrency "$GEN_CONCURRENCY" \
        --duration "${DURATION}s")
    $cmd >"$dir/gen.log" 2>&1 || die "tcpterm-gen failed (see $dir/gen.log)"
    python3 "$HELPER" cpu-snapshot "$lb_pid" >"$dir/cpu-after.json"
    "${ctl_lb[@]}" /tcpterm/workers >"$dir/workers-after.json"
    "${ctl_lb[@]}" /tcpterm/vs >"$dir/vs-after.json"
    "${ctl_lb[@]}" /tcpterm/stats >"$dir/stats-after.json"
    "${ctl_lb[@]}" /tcpterm/pool,web >"$dir/pool-after.json"
    python3 "$CTL" --prefix "$BE_PREFIX" raw /tcpterm/stats >"$dir/be-stats-after.json"
    stop_pid "$lb_pid"
    stop_pid "$be_pid"
    python3 "$HELPER" proxy-engine --dir "$dir" --run "$run" --machine "$(machine_json)" \
        --command "$(shown "$cmd")" --out "$RESULTS_DIR"
}

proxy_profile() { # perf record of the load balancer during a proxied run
    command -v perf >/dev/null || {
        log "perf is not installed: no profile of the load balancer"
        return 0
    }
    local dir="$WORK/proxy-profile"
    mkdir -p "$dir"
    log "perf profile of the load balancer's worker"
    rm -f "$LB_SOCK" "$BE_SOCK"
    be_config "$dir/be.toml"
    lb_config "$dir/lb.toml"
    start_tcpterm "$dir/be.toml" "$dir/be.log"
    local be_pid=$STARTED_PID
    start_tcpterm "$dir/lb.toml" "$dir/lb.log"
    local lb_pid=$STARTED_PID
    local cmd
    cmd=$(GEN_SOCK=$LB_SOCK gen_cmd server "$dir/gen.json" --concurrency "$GEN_CONCURRENCY" \
        --duration 12s --live false)
    $cmd >"$dir/gen.log" 2>&1 &
    local gpid=$!
    PIDS+=("$gpid")
    sleep 3
    perf record -q -p "$lb_pid" -o "$dir/perf.data" -- sleep 6 >/dev/null 2>&1 ||
        die "perf record failed"
    wait "$gpid" || die "tcpterm-gen failed (see $dir/gen.log)"
    forget_pid "$gpid"
    stop_pid "$lb_pid"
    stop_pid "$be_pid"
    local out="$RESULTS_DIR/profile-proxy-lb.txt"
    {
        echo "# perf profile of the load balancer's tcpterm (all its threads; the poll-mode worker dominates)"
        echo "# during: $(shown "$cmd")"
        echo "# date: $(date -u +%Y-%m-%d), cpu: $(lscpu | sed -n 's/^Model name: *//p' | head -1)"
        echo "# proxied connections/s of this run: $(python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["cps"]))' "$dir/gen.json")"
        perf report -i "$dir/perf.data" --stdio --sort symbol --percent-limit 0.3 2>/dev/null |
            grep -v '^#' | grep -v '^$' | sed 's/ *$//'
    } >"$out"
    log "profile written to $out"
}

haproxy_tcp_config() { # DIR
    cat >"$1/haproxy.cfg" <<CONF
# HAProxy under benchmark: one thread on CPU 1, a layer-4 full proxy (mode tcp) in front of
# nginx, as tcpterm's load balancer is: every client connection gets its own server connection.
global
    nbthread 1
    cpu-map 1/1 1
    maxconn 8000
    pidfile $1/haproxy.pid
defaults
    mode tcp
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend fe
    bind 127.0.0.1:8081
    default_backend be
backend be
    server nginx 127.0.0.1:8080
CONF
}

proxy_linux_run() { # RUN
    local run=$1 dir="$WORK/proxy-haproxy-$1"
    mkdir -p "$dir/tmp"
    log "wrk -> HAProxy (TCP mode) -> nginx (Linux loopback), run $run"
    nginx_config "$dir" 01 # nginx shares CPU 0 with wrk, as the backend shares it with the generator
    nginx -p "$dir" -c "$dir/nginx.conf" -g 'daemon off;' >"$dir/nginx.log" 2>&1 &
    local npid=$!
    PIDS+=("$npid")
    wait_for_port 8080 10 || die "nginx did not start (see $dir/nginx-error.log)"
    haproxy_tcp_config "$dir"
    haproxy -f "$dir/haproxy.cfg" -db >"$dir/haproxy.log" 2>&1 &
    local hpid=$!
    PIDS+=("$hpid")
    wait_for_port 8081 10 || die "haproxy did not start (see $dir/haproxy.log)"
    local got
    got=$(wrk_body_size 8081)
    [ "$got" = 128 ] || die "HAProxy answered with a $got-byte body, not 128"
    local hdr="Connection: close"
    local cmd="taskset -c 0 wrk -t1 -c$WRK_CONNECTIONS -d${DURATION}s --latency -H '$hdr' http://127.0.0.1:8081/"
    local npids="$npid $(pgrep -P "$npid" | tr '\n' ' ' || true)"
    python3 "$HELPER" cpu-snapshot "$hpid" >"$dir/cpu-before.json"
    python3 "$HELPER" cpu-snapshot $npids >"$dir/nginx-cpu-before.json"
    taskset -c 0 wrk -t1 -c"$WRK_CONNECTIONS" -d"${DURATION}s" --latency -H "$hdr" \
        "http://127.0.0.1:8081/" >"$dir/wrk.log" 2>&1 || die "wrk failed (see $dir/wrk.log)"
    python3 "$HELPER" cpu-snapshot "$hpid" >"$dir/cpu-after.json"
    python3 "$HELPER" cpu-snapshot $npids >"$dir/nginx-cpu-after.json"
    stop_pid "$hpid"
    stop_pid "$npid"
    python3 "$HELPER" proxy-linux --dir "$dir" --run "$run" --proxy-cpu cpu1 \
        --machine "$(machine_json)" --command "$cmd" --out "$RESULTS_DIR"
}

# ---- in-process scenarios (tests/bench/scale.cpp) ---------------------------------------------------

SCALE_BIN=tests/bench/tcpterm-bench-scale

scale_run() { # NAME TIMEOUT_S ARGS...: runs tcpterm-bench-scale on CPU $SCALE_CPU, records NAME
    local name=$1 limit=$2
    shift 2
    local dir="$WORK/$name"
    mkdir -p "$dir"
    local cmd="taskset -c $SCALE_CPU $BUILD_DIR/$SCALE_BIN $* --json $dir/out.json"
    log "$name: $(shown "$cmd")"
    local t0=$SECONDS rc=0
    timeout "$limit" $cmd >"$dir/out.log" 2>&1 || rc=$?
    cat "$dir/out.log" >&2
    if [ $rc -ne 0 ]; then
        local why="exit status $rc"
        [ $rc -eq 124 ] && why="did not finish within ${limit} s"
        log "$name: $why (see $dir/out.log)"
        python3 "$HELPER" scale --name "$name" --skipped "$why" --machine "$(machine_json)" \
            --command "$(shown "$cmd")" --out "$RESULTS_DIR"
        return 0
    fi
    python3 "$HELPER" scale --name "$name" --json "$dir/out.json" --seconds $((SECONDS - t0)) \
        --machine "$(machine_json)" --command "$(shown "$cmd")" --out "$RESULTS_DIR"
}

mem_available_mib() {
    awk '/^MemAvailable/ {print int($2 / 1024)}' /proc/meminfo
}

# ---- scenarios --------------------------------------------------------------------------------------

scenario_cps() {
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true # nginx and HAProxy want many descriptors
    install_deps
    ensure_build
    hugepages
    mkdir -p "$RESULTS_DIR"
    # A run replaces the results of what it measures (RUNS=0 RAMP=1: only the ramps).
    if [ "$RUNS" -gt 0 ]; then
        rm -f "$RESULTS_DIR"/cps-tcpterm-* "$RESULTS_DIR"/cps-nginx-* "$RESULTS_DIR"/cps-haproxy-*
    fi
    [ "$RAMP" = 1 ] && rm -f "$RESULTS_DIR"/cps-ramp-*
    local closer run
    for closer in server client; do
        for ((run = 1; run <= RUNS; run++)); do
            engine_run "$closer" "$run"
            # Linux's side by side, in the same run. wrk cannot close first (it keeps
            # connections alive or waits for the server's close), so the Linux runs are
            # server-closes only.
            if [ "$LINUX" = 1 ] && [ "$closer" = server ]; then
                linux_run nginx "$closer" "$run"
                linux_run haproxy "$closer" "$run"
            fi
        done
        [ "$RAMP" = 1 ] && engine_ramp "$closer"
    done
    log "results in $RESULTS_DIR; scripts/bench.sh report writes docs/benchmarks.md"
}

scenario_profile() {
    install_deps
    ensure_build
    hugepages
    command -v perf >/dev/null || die "perf is not installed (apt-get install linux-perf)"
    mkdir -p "$RESULTS_DIR"
    local dir="$WORK/profile" closer=server
    mkdir -p "$dir"
    log "perf profile of tcpterm's worker, closer $closer"
    start_server "$closer" "$dir"
    local cmd
    cmd=$(gen_cmd "$closer" "$dir/gen.json" --concurrency "$GEN_CONCURRENCY" --duration 12s --live false)
    $cmd >"$dir/gen.log" 2>&1 &
    local gpid=$!
    PIDS+=("$gpid")
    sleep 3
    perf record -q -p "$SRV_PID" -o "$dir/perf.data" -- sleep 6 >/dev/null 2>&1 ||
        die "perf record failed"
    wait "$gpid" || die "tcpterm-gen failed (see $dir/gen.log)"
    forget_pid "$gpid"
    stop_server
    local out="$RESULTS_DIR/profile-cps-$closer.txt"
    {
        echo "# perf profile of tcpterm's worker (all its threads; the poll-mode worker dominates)"
        echo "# during: $(shown "$cmd")"
        echo "# date: $(date -u +%Y-%m-%d), cpu: $(lscpu | sed -n 's/^Model name: *//p' | head -1)"
        echo "# lifecycles/s of this run: $(python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["cps"]))' "$dir/gen.json")"
        perf report -i "$dir/perf.data" --stdio --sort symbol --percent-limit 0.3 2>/dev/null |
            grep -v '^#' | grep -v '^$' | sed 's/ *$//'
    } >"$out"
    log "profile written to $out"
}

scenario_proxy() {
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    install_deps
    ensure_build
    hugepages 384 # three DPDK processes of 256 MB each
    mkdir -p "$RESULTS_DIR"
    rm -f "$RESULTS_DIR"/proxy-*
    local run
    for ((run = 1; run <= (RUNS > 0 ? RUNS : 1); run++)); do
        proxy_engine_run "$run"
        [ "$LINUX" = 1 ] && proxy_linux_run "$run"
    done
    proxy_profile
    log "results in $RESULTS_DIR; scripts/bench.sh report writes docs/benchmarks.md"
}

scenario_memory() {
    ensure_build "$SCALE_BIN"
    mkdir -p "$RESULTS_DIR"
    rm -f "$RESULTS_DIR"/memory-*
    local state n need avail
    for state in established time_wait; do
        for n in ${MEMORY_SIZES//,/ }; do
            # Room for the control blocks (480 B) or records (64 B), the table, and 2 GiB spare.
            local per=100
            [ "$state" = established ] && per=600
            need=$((per * n / 1048576 + 2048))
            avail=$(mem_available_mib)
            if [ "$avail" -lt "$need" ]; then
                log "memory: $n $state skipped: $avail MiB available, $need MiB needed"
                python3 "$HELPER" scale --name "memory-$state-$n" --machine "$(machine_json)" \
                    --skipped "MemAvailable $avail MiB < $need MiB" --command "-" \
                    --out "$RESULTS_DIR"
                continue
            fi
            scale_run "memory-$state-$n" 300 memory --conns "$n" --state "$state"
        done
    done
}

scenario_teardown() {
    ensure_build "$SCALE_BIN"
    mkdir -p "$RESULTS_DIR"
    rm -f "$RESULTS_DIR"/teardown-* "$RESULTS_DIR"/profile-teardown-*
    local runs=$((RUNS > 0 ? RUNS : 1)) mode
    for mode in rst client-fin server-fin; do
        scale_run "teardown-$mode-offload" 600 teardown --conns "$TEARDOWN_CONNS" --mode "$mode" \
            --checksum offload --runs "$runs"
    done
    scale_run "teardown-client-fin-software" 600 teardown --conns "$TEARDOWN_CONNS" \
        --mode client-fin --checksum software --runs "$runs"
    teardown_profile client-fin
}

teardown_profile() { # MODE: perf record of the measured bursts only (perf's control fifo)
    command -v perf >/dev/null || {
        log "perf is not installed: no teardown profile"
        return 0
    }
    local mode=$1 dir="$WORK/teardown-profile"
    mkdir -p "$dir"
    mkfifo "$dir/ctl" "$dir/ack"
    local cmd="taskset -c $SCALE_CPU $BUILD_DIR/$SCALE_BIN teardown --conns $TEARDOWN_CONNS --mode $mode --checksum offload --runs 1"
    log "perf profile of the teardown bursts ($mode)"
    perf record -q -D -1 --control "fifo:$dir/ctl,$dir/ack" -o "$dir/perf.data" -- \
        $cmd --perf-ctl "$dir/ctl" --perf-ack "$dir/ack" >"$dir/out.log" 2>&1 ||
        die "perf record failed (see $dir/out.log)"
    local out="$RESULTS_DIR/profile-teardown-$mode.txt"
    {
        echo "# perf profile of TcpStack::input during the teardown bursts only (perf record -D -1 --control)"
        echo "# during: $(shown "$cmd")"
        echo "# date: $(date -u +%Y-%m-%d), cpu: $(lscpu | sed -n 's/^Model name: *//p' | head -1)"
        echo "# result of this run: $(grep '^teardown' "$dir/out.log" | tail -1)"
        perf report -i "$dir/perf.data" --stdio --sort symbol --percent-limit 0.3 2>/dev/null |
            grep -v '^#' | grep -v '^$' | sed 's/ *$//'
    } >"$out"
    log "profile written to $out"
}

scenario_timers() {
    ensure_build "$SCALE_BIN"
    mkdir -p "$RESULTS_DIR"
    rm -f "$RESULTS_DIR"/timers-*
    local run need avail
    need=$((TIMERS_TW * 100 / 1048576 + 2048))
    for ((run = 1; run <= (RUNS > 0 ? RUNS : 1); run++)); do
        avail=$(mem_available_mib)
        if [ "$avail" -lt "$need" ]; then
            python3 "$HELPER" scale --name "timers-$run" --machine "$(machine_json)" \
                --skipped "MemAvailable $avail MiB < $need MiB" --command "-" --out "$RESULTS_DIR"
            continue
        fi
        scale_run "timers-$run" 600 timers --tw "$TIMERS_TW" --spread-ms 10000 --conns 65536 \
            --per-tick 256 --baseline-ticks 2000
    done
}

scenario_synflood() {
    ensure_build "$SCALE_BIN"
    mkdir -p "$RESULTS_DIR"
    rm -f "$RESULTS_DIR"/synflood-*
    local run cookies
    for cookies in 2 1; do
        for ((run = 1; run <= (RUNS > 0 ? RUNS : 1); run++)); do
            scale_run "synflood-$cookies-$run" 600 synflood --legit "$FLOOD_LEGIT" \
                --ratio "$FLOOD_RATIO" --syncookies "$cookies"
        done
    done
}

scenario_scaling() {
    mkdir -p "$RESULTS_DIR"
    python3 "$HELPER" scaling --machine "$(machine_json)" --out "$RESULTS_DIR"
}

scenario_report() {
    command -v gnuplot >/dev/null || install_deps
    python3 "$HELPER" report --results "$RESULTS_DIR" --doc "$ROOT/docs/benchmarks.md"
}

[ $# -ge 1 ] || usage
case "$1" in
cps)
    [ "$(id -u)" -eq 0 ] || die "run as root (hugepages, apt, EAL)"
    scenario_cps
    ;;
report)
    scenario_report
    ;;
profile)
    [ "$(id -u)" -eq 0 ] || die "run as root (hugepages, apt, EAL, perf)"
    scenario_profile
    ;;
proxy | memory | teardown | timers | synflood)
    [ "$(id -u)" -eq 0 ] || die "run as root (hugepages, apt, EAL, perf)"
    "scenario_$1"
    ;;
scaling)
    scenario_scaling
    ;;
all)
    [ "$(id -u)" -eq 0 ] || die "run as root (hugepages, apt, EAL)"
    start=$SECONDS
    scenario_cps
    scenario_profile
    scenario_proxy
    scenario_memory
    scenario_teardown
    scenario_timers
    scenario_synflood
    scenario_scaling
    scenario_report
    log "all scenarios in $(((SECONDS - start) / 60)) min $(((SECONDS - start) % 60)) s"
    ;;
-h | --help | help) usage ;;
*)
    log "unknown scenario '$1'"
    usage
    ;;
esac
