#!/usr/bin/env bash
# The main job: tcpterm terminating real Linux TCP clients. It builds tcpterm, creates a network
# namespace, starts tcpterm in it on a net_tap port with config/http.toml (engine 198.18.0.2/24,
# kernel side 198.18.0.1/24, the benchmarking range of RFC 2544), runs curl and a burst of short
# connections against it, shows the connection states before and after (tcpterm-ctl ss -s), stops
# it with SIGTERM (graceful drain) and cleans up. Needs root; works on a fresh Debian 12.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
    echo "demo: run as root (network namespaces and a tap device)" >&2
    exit 1
fi
scripts/setup-deps.sh
if [ ! -f build/build.ninja ]; then
    meson setup build --buildtype=debugoptimized >/dev/null
fi
ninja -C build app/tcpterm >/dev/null

NS=tcpterm-demo
CFG=config/http.toml
LOG=$(mktemp /tmp/tcpterm-demo.XXXXXX.log)
PID=""
CTL="python3 app/tcpterm-ctl --prefix tcpterm"
cleanup() {
    if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
        kill -TERM "$PID" 2>/dev/null || true
        sleep 3
        kill -KILL "$PID" 2>/dev/null || true
    fi
    ip netns del "$NS" 2>/dev/null || true
    rm -f "$LOG"
}
trap cleanup EXIT

ip netns del "$NS" 2>/dev/null || true
ip netns add "$NS"
ip netns exec "$NS" ip link set lo up

echo "== starting tcpterm (config $CFG) in namespace $NS"
ip netns exec "$NS" build/app/tcpterm --config "$CFG" >"$LOG" 2>&1 &
PID=$!
for _ in $(seq 200); do
    grep -q "running" "$LOG" && break
    if ! kill -0 "$PID" 2>/dev/null; then
        cat "$LOG"
        echo "demo: tcpterm exited" >&2
        exit 1
    fi
    sleep 0.1
done
cat "$LOG"
ip netns exec "$NS" ip link set tcpterm0 address 02:00:00:00:00:01 # net_tap reuses the port's MAC
ip netns exec "$NS" ip addr add 198.18.0.1/24 dev tcpterm0
ip netns exec "$NS" ip link set tcpterm0 up
sleep 0.5

echo
echo "== before: tcpterm-ctl ss -s"
$CTL ss -s

echo
echo "== curl http://198.18.0.2/ (from the kernel side)"
ip netns exec "$NS" curl -sS -m 5 -D - -o /dev/null http://198.18.0.2/

echo
echo "== a burst of 2000 short connections (20 threads, connect / GET / read / close)"
ip netns exec "$NS" python3 - <<'PY'
import socket, threading, time
N, T = 2000, 20
ok = [0] * T
def worker(k):
    for i in range(k, N, T):
        s = socket.create_connection(("198.18.0.2", 80), timeout=5)
        s.sendall(b"GET / HTTP/1.1\r\nHost: demo\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            b = s.recv(4096)
            if not b:
                break
            data += b
        s.close()
        ok[k] += data.startswith(b"HTTP/1.1 200 OK")
t0 = time.time()
ts = [threading.Thread(target=worker, args=(k,)) for k in range(T)]
[t.start() for t in ts]
[t.join() for t in ts]
dt = time.time() - t0
print("%d of %d requests answered in %.2f s (%.0f connections/s, limited by the Python clients)" % (sum(ok), N, dt, N / dt))
PY

echo
echo "== after: tcpterm-ctl ss -s (the server closed first: TIME_WAIT is on the engine)"
$CTL ss -s
echo
echo "== tcpterm-ctl ss state time-wait (first lines)"
$CTL ss state time-wait | head -n 6
echo
echo "== kernel side: ss -s"
ip netns exec "$NS" ss -s | head -n 3

echo
echo "== stopping with SIGTERM (graceful drain)"
kill -TERM "$PID"
wait "$PID" || true
PID=""
grep -E "stopping|stopped" "$LOG" || true
echo "demo: done"
