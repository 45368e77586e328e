#!/usr/bin/env bash
# The main job: tcpterm as a load-balancer front end between real Linux clients and real web
# servers. It builds tcpterm and makes three network namespaces:
#   tcpterm-demo-client    the kernel clients (curl, wrk, Python), 198.18.0.1/24
#   tcpterm-demo-lb        tcpterm, with a net_tap port toward each side (config/lb-demo.toml)
#   tcpterm-demo-backends  three web servers (Python http.server) on 198.18.1.2-4:8080
# Then it sends bursts of requests to the virtual server 198.18.0.2:80 and shows how they spread
# over the members, takes one member down by command and stops another's server (the health
# check notices), prints `tcpterm-ctl lb` and `tcpterm-ctl ss -s`, stops tcpterm with SIGTERM
# (graceful drain) and cleans up. Needs root; works on a fresh Debian 12.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
    echo "demo: run as root (network namespaces and tap devices)" >&2
    exit 1
fi
scripts/setup-deps.sh
if [ ! -f build/build.ninja ]; then
    meson setup build --buildtype=debugoptimized >/dev/null
fi
ninja -C build app/tcpterm >/dev/null

CLIENT=tcpterm-demo-client
LB=tcpterm-demo-lb
BACK=tcpterm-demo-backends
CFG=config/lb-demo.toml
WORK=$(mktemp -d /tmp/tcpterm-demo.XXXXXX)
LOG=$WORK/tcpterm.log
PID=""
CTL="python3 app/tcpterm-ctl --prefix tcpterm-demo"
MEMBERS="198.18.1.2 198.18.1.3 198.18.1.4"
cleanup() {
    if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
        kill -TERM "$PID" 2>/dev/null || true
        sleep 4
        kill -KILL "$PID" 2>/dev/null || true
    fi
    for ns in "$CLIENT" "$BACK" "$LB"; do
        ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
        ip netns del "$ns" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

for ns in "$CLIENT" "$LB" "$BACK"; do
    ip netns del "$ns" 2>/dev/null || true
    ip netns add "$ns"
    ip netns exec "$ns" ip link set lo up
done

echo "== starting tcpterm (config $CFG) in namespace $LB"
ip netns exec "$LB" build/app/tcpterm --config "$CFG" >"$LOG" 2>&1 &
PID=$!
for _ in $(seq 300); do
    grep -q "running" "$LOG" && break
    if ! kill -0 "$PID" 2>/dev/null; then
        cat "$LOG"
        echo "demo: tcpterm exited" >&2
        exit 1
    fi
    sleep 0.1
done
grep -v -e qdisc -e "rte flow" "$LOG" || true

# Each tap's kernel end goes to its side's namespace (net_tap gives it the port's own MAC: a
# distinct one keeps ARP sane).
ip netns exec "$LB" ip link set tcpterm0 netns "$CLIENT"
ip netns exec "$LB" ip link set tcpterm1 netns "$BACK"
ip netns exec "$CLIENT" ip link set tcpterm0 address 02:00:00:00:00:01
ip netns exec "$CLIENT" ip addr add 198.18.0.1/24 dev tcpterm0
ip netns exec "$CLIENT" ip link set tcpterm0 up
ip netns exec "$BACK" ip link set tcpterm1 address 02:00:00:00:00:02
for m in $MEMBERS; do
    ip netns exec "$BACK" ip addr add "$m/24" dev tcpterm1
done
ip netns exec "$BACK" ip link set tcpterm1 up

echo
echo "== three web servers in namespace $BACK (Python's http.server), each saying who it is"
cat >"$WORK/web.py" <<'PY'
import http.server, sys
class Server(http.server.ThreadingHTTPServer):
    request_queue_size = 1024  # http.server's default of 5 drops SYNs under a burst
    daemon_threads = True
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("member %s\n" % sys.argv[1]).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
Server((sys.argv[1], 8080), Handler).serve_forever()
PY
for m in $MEMBERS; do
    ip netns exec "$BACK" python3 "$WORK/web.py" "$m" >"$WORK/$m.log" 2>&1 &
    echo "$!" >"$WORK/$m.pid"
done
echo "waiting for the health checks to see them..."
for _ in $(seq 100); do
    if $CTL lb --json 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
ms = [m for m in d["pools"]["web"].values() if isinstance(m, dict)]
sys.exit(0 if ms and all(m["checks_ok"] >= 1 for m in ms) else 1)'; then
        break
    fi
    sleep 0.2
done

echo
echo "== curl http://198.18.0.2/ (from namespace $CLIENT, through tcpterm)"
ip netns exec "$CLIENT" curl -sS -m 5 -D - http://198.18.0.2/

burst() {
    ip netns exec "$CLIENT" python3 - "$1" <<'PY'
import collections, socket, sys, threading
N, T = int(sys.argv[1]), 10
seen = collections.Counter()
lock = threading.Lock()
def worker(k):
    for i in range(k, N, T):
        try:
            s = socket.create_connection(("198.18.0.2", 80), timeout=5)
            s.sendall(b"GET / HTTP/1.0\r\nHost: demo\r\n\r\n")
            data = b""
            while True:
                b = s.recv(4096)
                if not b:
                    break
                data += b
            s.close()
            who = data.rsplit(b"member ", 1)[-1].strip().decode() if b"member " in data else "error"
        except OSError as e:
            who = "error: %s" % e.__class__.__name__
        with lock:
            seen[who] += 1
ts = [threading.Thread(target=worker, args=(k,)) for k in range(T)]
[t.start() for t in ts]
[t.join() for t in ts]
for who, n in sorted(seen.items()):
    print("  %-16s %4d requests" % (who, n))
PY
}

echo
echo "== a burst of 300 requests: how round robin spread them"
burst 300

if command -v wrk >/dev/null; then
    echo
    echo "== wrk, 3 s, 20 connections, a new connection per request (Connection: close)"
    ip netns exec "$CLIENT" wrk -t2 -c20 -d3s -H "Connection: close" http://198.18.0.2/ |
        grep -E "Requests/sec|requests in|Socket errors|Non-2xx" || true
fi

echo
echo "== tcpterm-ctl lb"
$CTL lb

echo
echo "== taking member 198.18.1.3 down by command: tcpterm-ctl lb set web 198.18.1.3:8080 down"
$CTL lb set web 198.18.1.3:8080 down
burst 300

echo
echo "== stopping the web server of 198.18.1.4: the health check marks it down"
kill "$(cat "$WORK/198.18.1.4.pid")"
for _ in $(seq 100); do
    $CTL lb --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
ms = {m["address"]: m for m in d["pools"]["web"].values() if isinstance(m, dict)}
sys.exit(0 if ms["198.18.1.4:8080"]["health"] == "down" else 1)' && break
    sleep 0.1
done
burst 300

echo
echo "== tcpterm-ctl lb"
$CTL lb

echo
echo "== tcpterm-ctl ss -s (the members close first; tcpterm relays their FIN to the clients"
echo "   before the clients close, so its client legs end in TIME_WAIT)"
$CTL ss -s

echo
echo "== stopping with SIGTERM (graceful drain)"
kill -TERM "$PID"
wait "$PID" || true
PID=""
grep -E "stopping|stopped" "$LOG" || true
echo "demo: done"
