#!/usr/bin/env bash
# Benchmarks of issue #5, one command per scenario; results go to docs/benchmarks.md.
#
#   scripts/bench.sh cps       CPS: tcpterm (1 worker, http) vs tcpterm-gen over net_memif, then
#                              the same workload against Linux on loopback: nginx driven by wrk,
#                              and HAProxy in front of nginx. Closers: server, then client.
#   scripts/bench.sh profile   perf profile of tcpterm's worker during a CPS run (closer server):
#                              where the cycles go, as docs/bench/profile-cps-server.txt
#   scripts/bench.sh report    results -> the tables and plots in docs/benchmarks.md
#   scripts/bench.sh all       every scenario implemented so far (cps, profile), then report
#
# Each run writes a JSON result and a Markdown row under $RESULTS_DIR (default docs/bench/).
# Environment: BUILD_DIR (default build; built with meson + ninja -j$JOBS if the binaries are
# missing), RUNS (3; 0 = only the ramps), DURATION (seconds per run, 10), GEN_CONCURRENCY (512),
# WRK_CONNECTIONS (256), RAMP (1: one ramp run per closer), LINUX (1: the nginx and HAProxy runs).
#
# Cores: on a 2-core machine the server side gets CPU 1 and the client side CPU 0. tcpterm's
# worker runs on lcore 1 (EAL -l 0-1 --main-lcore 0), tcpterm-gen's on lcore 0 (--main-lcore 1);
# nginx's worker (and HAProxy's thread) are pinned to CPU 1, wrk to CPU 0.
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
    rm -f "$SOCK"
}
trap cleanup EXIT
trap 'log "failed: line $LINENO: $BASH_COMMAND"' ERR

usage() {
    sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'
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

ensure_build() {
    if [ ! -x "$BUILD_DIR/app/tcpterm" ] || [ ! -x "$BUILD_DIR/app/tcpterm-gen" ]; then
        [ -d "$BUILD_DIR" ] || meson setup "$BUILD_DIR" "$ROOT" >"$WORK/meson.log" 2>&1 ||
            die "meson setup $BUILD_DIR failed (see $WORK/meson.log)"
        log "building tcpterm and tcpterm-gen in $BUILD_DIR (ninja -j$JOBS)"
        ninja -C "$BUILD_DIR" -j"$JOBS" app/tcpterm app/tcpterm-gen >"$WORK/ninja.log" 2>&1 ||
            die "build failed (see $WORK/ninja.log)"
    fi
}

hugepages() {
    grep -q '^nodev /dev/hugepages\|hugetlbfs /dev/hugepages' /proc/mounts ||
        { mkdir -p /dev/hugepages && mount -t hugetlbfs nodev /dev/hugepages; } ||
        die "cannot mount hugetlbfs on /dev/hugepages"
    local total
    total=$(awk '/^HugePages_Total/ {print $2}' /proc/meminfo)
    if [ "$total" -lt 512 ]; then
        echo 512 >/proc/sys/vm/nr_hugepages
        total=$(awk '/^HugePages_Total/ {print $2}' /proc/meminfo)
        [ "$total" -ge 512 ] || die "only $total of 512 2 MB hugepages could be reserved"
    fi
}

machine_json() {
    local cpu commit dirty
    cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
    commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
    dirty=$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo true || echo false)
    local buildtype
    buildtype=$(meson introspect --buildoptions "$BUILD_DIR" 2>/dev/null |
        python3 -c 'import json,sys; o={x["name"]:x["value"] for x in json.load(sys.stdin)}; print(o.get("buildtype","?")+(", -march=native" if o.get("native") else ", -march=corei7 (Debian libdpdk.pc)"))' 2>/dev/null || echo unknown)
    printf '{"date": "%s", "cpu": "%s", "cpus": %s, "kernel": "%s", "commit": "%s", "dirty": %s, "build": "%s"}' \
        "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$cpu" "$(nproc)" "$(uname -r)" "$commit" "$dirty" "$buildtype"
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
        "--device net_memif0,role=client,socket=$SOCK,rsize=14 --src 198.18.0.10-198.18.0.41" \
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

nginx_config() { # DIR
    local body
    body=$(printf 'x%.0s' $(seq 128))
    cat >"$1/nginx.conf" <<CONF
# nginx under benchmark: one worker on CPU 1, a fixed 128-byte body, no logging.
worker_processes 1;
worker_cpu_affinity 10;
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
all)
    [ "$(id -u)" -eq 0 ] || die "run as root (hugepages, apt, EAL)"
    scenario_cps
    scenario_profile
    scenario_report
    ;;
-h | --help | help) usage ;;
*)
    log "unknown scenario '$1'"
    usage
    ;;
esac
