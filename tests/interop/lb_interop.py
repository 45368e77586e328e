#!/usr/bin/env python3
"""Load-balancer interop tests: the real tcpterm binary proxying kernel clients to kernel backends.

    lb_interop.py TCPTERM_BINARY TEST_NAME

Topology (one network namespace per test, made and removed by the test): tcpterm owns
198.18.0.2/24 on a net_tap port; the kernel side of the tap is 198.18.0.1/24 and is also the
gateway to the members, 198.18.1.2-4 on the namespace's loopback, where Python servers listen on
port 8080. Clients connect from 198.18.0.1 to the virtual server 198.18.0.2:80. Engine-side facts
come from telemetry (/tcpterm/vs, /tcpterm/pool). Standard library only.
"""
import hashlib
import os
import signal
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from interop import ENGINE_IP, Engine, expect, recv_all, run_main, sh, wait_for  # noqa: E402

MEMBERS = ["198.18.1.2", "198.18.1.3", "198.18.1.4"]
READY = {"port": "7", "service": '"echo"'}  # readiness probe of Engine.start()


class LbEngine(Engine):
    """An Engine whose configuration adds a pool of kernel members and a virtual server."""

    def __init__(self, binary, test, members=None, pool=None, vs=None, profiles=None, lb=None,
                 tcp=None, engine=None):
        super().__init__(binary, test, [READY], tcp=tcp, engine=engine)
        self.members = members if members is not None else ['"%s:8080"' % m for m in MEMBERS]
        self.pool = {"name": '"web"', "algorithm": '"round_robin"'}
        self.pool.update(pool or {})
        self.vs = {"name": '"web"', "address": '"%s"' % ENGINE_IP, "port": "80", "pool": '"web"',
                   "connect_timeout": '"1s"'}
        self.vs.update(vs or {})
        self.profiles = profiles or []
        self.lb = lb or {}

    def config_text(self):
        text = super().config_text()
        text = text.replace('addresses = ["%s/24"]' % ENGINE_IP,
                            'addresses = ["%s/24"]\ngateway = "198.18.0.1"' % ENGINE_IP)
        lines = []
        if self.lb:
            lines += ["[lb]"] + ["%s = %s" % kv for kv in self.lb.items()] + [""]
        lines += ["[[pool]]"] + ["%s = %s" % kv for kv in self.pool.items()]
        lines += ["members = [%s]" % ", ".join(self.members), ""]
        for p in self.profiles:
            lines += ["[[profile]]"] + ["%s = %s" % kv for kv in p.items()] + [""]
        lines += ["[[virtual_server]]"] + ["%s = %s" % kv for kv in self.vs.items()] + [""]
        return text + "\n" + "\n".join(lines)

    def start(self):
        super().start()  # now inside the namespace
        for m in MEMBERS:
            sh("ip", "addr", "add", m + "/32", "dev", "lo")

    def vs_counters(self):
        return self.telemetry("/tcpterm/vs")["web"]

    def pool_state(self):
        """Members of pool web by "ADDR:PORT"."""
        p = self.telemetry("/tcpterm/pool,web")
        return {m["address"]: m for m in p.values() if isinstance(m, dict)}


class Backend:
    """A kernel TCP server on ADDR:8080. mode: echo | http | hold (accept, keep, do nothing)."""

    def __init__(self, addr, mode="echo"):
        self.addr = addr
        self.mode = mode
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((addr, 8080))
        self.sock.listen(4096)
        self.accepted = []
        self.errors = []
        self.lock = threading.Lock()
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.accepted.append(c)
            if self.mode != "hold":
                threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        try:
            if self.mode == "echo":
                while True:
                    b = c.recv(1 << 16)
                    if not b:
                        break
                    c.sendall(b)
                c.shutdown(socket.SHUT_WR)
            elif self.mode == "http":
                req = b""
                while b"\r\n\r\n" not in req:
                    b = c.recv(4096)
                    if not b:
                        return
                    req += b
                body = self.addr.encode()
                c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
                c.close()
        except OSError as exc:
            self.errors.append(exc)

    def close(self):
        # shutdown first: close() alone leaves the listener alive while accept() blocks on it.
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def run(e, fn, backends=()):
    try:
        e.start()
        return fn()
    finally:
        for b in backends:
            b.close()
        e.stop()
        e.cleanup()


def sha(b):
    return hashlib.sha256(b).hexdigest()


def echo_through(size, timeout=60):
    data = os.urandom(size)
    s = socket.create_connection((ENGINE_IP, 80), timeout=timeout)
    t = threading.Thread(target=s.sendall, args=(data,))
    t.start()
    got = recv_all(s, size)
    t.join()
    s.close()
    expect(sha(got) == sha(data), "relayed bytes differ (%d of %d back)" % (len(got), size))


# ---- the tests -------------------------------------------------------------------------------

def t_lb_relay(binary):
    e = LbEngine(binary, "lbrelay", members=['"%s:8080"' % MEMBERS[0]])
    backends = []

    def body():
        backends.append(Backend(MEMBERS[0]))
        echo_through(1 << 20)
        echo_through(100 << 20, timeout=120)
        v = e.vs_counters()
        expect(v["bytes_in"] >= (101 << 20) and v["bytes_out"] >= (101 << 20), "counters %s" % v)
        wait_for(lambda: e.vs_counters()["active"] == 0, 10, "sessions ended")
        expect(e.vs_counters()["completed"] == 2, "completed %s" % e.vs_counters())
    run(e, body, backends)


def t_lb_half_close(binary):
    e = LbEngine(binary, "lbhalf", members=['"%s:8080"' % MEMBERS[0]])
    backends = []

    def body():
        b = Backend(MEMBERS[0], mode="hold")
        backends.append(b)
        # Client half-closes first: the backend reads to end of stream, then answers.
        s = socket.create_connection((ENGINE_IP, 80), timeout=10)
        s.sendall(b"request")
        s.shutdown(socket.SHUT_WR)
        wait_for(lambda: b.accepted, 5, "backend accept")
        c = b.accepted[-1]
        c.settimeout(10)
        expect(recv_all(c) == b"request", "backend got the request then EOF")
        c.sendall(b"response after the client's FIN")
        c.close()
        expect(recv_all(s) == b"response after the client's FIN", "client got the response")
        s.close()
        # Backend half-closes first: the client keeps sending afterwards.
        s = socket.create_connection((ENGINE_IP, 80), timeout=10)
        wait_for(lambda: len(b.accepted) == 2, 5, "second accept")
        c = b.accepted[-1]
        c.settimeout(10)
        c.sendall(b"banner")
        c.shutdown(socket.SHUT_WR)
        expect(recv_all(s) == b"banner", "client got the banner then EOF")
        s.sendall(b"still talking")
        s.shutdown(socket.SHUT_WR)
        expect(recv_all(c) == b"still talking", "backend got the client's bytes after its FIN")
        c.close()
        s.close()
        wait_for(lambda: e.vs_counters()["completed"] == 2, 10, "both sessions completed")
    run(e, body, backends)


def expect_reset(s, who, eof_ok=False):
    """The next read on `s` fails with ECONNRESET (or, with eof_ok, returns end of stream)."""
    try:
        r = s.recv(10)
    except ConnectionResetError:
        return
    expect(eof_ok and r == b"", "%s read %r instead of a reset" % (who, r))


def rst_close(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def t_lb_resets(binary):
    e = LbEngine(binary, "lbrst", members=['"%s:8080"' % MEMBERS[0]])
    backends = []

    def body():
        b = Backend(MEMBERS[0], mode="hold")
        backends.append(b)
        # Client RST -> backend leg reset.
        s = socket.create_connection((ENGINE_IP, 80), timeout=10)
        wait_for(lambda: b.accepted, 5, "backend accept")
        c = b.accepted[-1]
        c.settimeout(10)
        rst_close(s)
        expect_reset(c, "backend")
        c.close()
        # Backend RST -> client reset.
        s = socket.create_connection((ENGINE_IP, 80), timeout=10)
        wait_for(lambda: len(b.accepted) == 2, 5, "second accept")
        rst_close(b.accepted[-1])
        expect_reset(s, "client")
        s.close()
        v = e.vs_counters()
        expect(v["client_resets"] == 1 and v["server_resets"] == 1, "counters %s" % v)
    run(e, body, backends)


def t_lb_refused_retry(binary):
    e = LbEngine(binary, "lbretry", vs={"connect_retries": "2"})
    backends = []

    def body():
        backends.append(Backend(MEMBERS[2]))  # .2 and .3 have no server: the kernel refuses
        for i in range(6):
            s = socket.create_connection((ENGINE_IP, 80), timeout=10)
            s.sendall(b"hello %d" % i)
            expect(s.recv(100) == b"hello %d" % i, "echo %d after retries" % i)
            s.close()
        v = e.vs_counters()
        expect(v["connect_refused"] >= 4 and v["connect_failed"] == 0, "counters %s" % v)
        backends[0].close()  # now every member refuses: the client is reset
        try:
            s = socket.create_connection((ENGINE_IP, 80), timeout=10)
        except ConnectionResetError:
            # The RST can arrive before connect() returns to us: the kernel completed the
            # handshake, then the reset closed the socket, and connect() reports ECONNRESET.
            s = None
        if s is not None:
            expect_reset(s, "client", eof_ok=True)
        wait_for(lambda: e.vs_counters()["connect_failed"] == 1, 5, "connect_failed counted")
    run(e, body, backends)


def t_lb_idle_timeout(binary):
    e = LbEngine(binary, "lbidle", members=['"%s:8080"' % MEMBERS[0]],
                 profiles=[{"name": '"short"', "idle_timeout": '"2s"'}],
                 vs={"client_profile": '"short"'})
    backends = []

    def body():
        b = Backend(MEMBERS[0], mode="hold")
        backends.append(b)
        s = socket.create_connection((ENGINE_IP, 80), timeout=10)
        wait_for(lambda: b.accepted, 5, "backend accept")
        c = b.accepted[-1]
        c.settimeout(10)
        t0 = time.time()
        expect_reset(s, "client")
        expect(1.5 < time.time() - t0 < 6, "reset after %.1fs" % (time.time() - t0))
        expect_reset(c, "backend")
        expect(e.vs_counters()["client_timeouts"] == 1, "counters %s" % e.vs_counters())
    run(e, body, backends)


def t_lb_drain_down(binary):
    e = LbEngine(binary, "lbdrain", members=['"%s:8080"' % m for m in MEMBERS[:2]],
                 pool={"reset_on_down": "true"})
    backends = []

    def body():
        b1, b2 = Backend(MEMBERS[0], "hold"), Backend(MEMBERS[1], "hold")
        backends.extend([b1, b2])
        first = socket.create_connection((ENGINE_IP, 80), timeout=10)  # round robin: member 1
        wait_for(lambda: b1.accepted, 5, "member 1 accept")
        r = e.telemetry("/tcpterm/member,web,%s:8080,drain" % MEMBERS[0])
        expect(r.get("admin") == "drain", "drain reply %s" % r)
        others = [socket.create_connection((ENGINE_IP, 80), timeout=10) for _ in range(4)]
        wait_for(lambda: len(b2.accepted) == 4, 5, "new connections on member 2")
        expect(len(b1.accepted) == 1, "member 1 got %d" % len(b1.accepted))
        first.sendall(b"still here")
        b1.accepted[0].settimeout(5)
        expect(b1.accepted[0].recv(100) == b"still here", "drained member's session works")
        e.telemetry("/tcpterm/member,web,%s:8080,down" % MEMBERS[0])
        expect_reset(first, "client", eof_ok=True)
        m = e.pool_state()["%s:8080" % MEMBERS[0]]
        expect(m["state"] == "down" and m["resets_on_down"] == 1, "member %s" % m)
        for s in others:
            s.close()
    run(e, body, backends)


def t_lb_concurrent_1000(binary):
    e = LbEngine(binary, "lbconc", engine={"mbufs": "16383"})
    backends = []

    def body():
        backends.extend(Backend(m) for m in MEMBERS)
        socks = [socket.create_connection((ENGINE_IP, 80), timeout=20) for _ in range(1000)]
        wait_for(lambda: e.vs_counters()["active"] >= 1000, 15, "1000 sessions")
        for i, s in enumerate(socks):
            s.sendall(b"%d\n" % i)
        for i, s in enumerate(socks):
            expect(s.recv(100) == b"%d\n" % i, "echo on connection %d" % i)
        for s in socks:
            s.close()
        wait_for(lambda: e.vs_counters()["active"] == 0, 20, "all sessions ended")
        p = e.pool_state()
        totals = [p["%s:8080" % m]["total"] for m in MEMBERS]
        expect(sum(totals) == 1000 and min(totals) >= 300, "distribution %s" % totals)
    run(e, body, backends)


def t_lb_port_exhaustion(binary):
    e = LbEngine(binary, "lbports", members=['"%s:8080"' % MEMBERS[0]],
                 lb={"source_port_min": "20000", "source_port_max": "20009"})
    backends = []

    def body():
        b = Backend(MEMBERS[0], "hold")
        backends.append(b)
        socks = []
        reset = 0
        for _ in range(15):
            try:
                socks.append(socket.create_connection((ENGINE_IP, 80), timeout=10))
            except ConnectionResetError:  # the refusal's RST can beat connect()'s return
                reset += 1
        wait_for(lambda: len(b.accepted) == 10, 5, "10 backend connections")
        wait_for(lambda: e.vs_counters()["refused_no_port"] == 5, 5, "5 counted refusals")
        for s in socks:
            s.settimeout(0.5)
            try:
                if s.recv(10) == b"":
                    reset += 1
            except ConnectionResetError:
                reset += 1
            except socket.timeout:
                pass
        expect(reset == 5, "%d clients reset" % reset)
        for s in socks:
            s.close()
    run(e, body, backends)


def t_lb_health(binary):
    e = LbEngine(binary, "lbhealth", members=['"%s:8080"' % m for m in MEMBERS[:2]],
                 pool={"health_check": '"http"', "health_interval": '"300ms"',
                       "health_timeout": '"200ms"', "health_fall": "2", "health_rise": "2"})
    backends = []

    def body():
        b1, b2 = Backend(MEMBERS[0], "http"), Backend(MEMBERS[1], "http")
        backends.extend([b1, b2])
        wait_for(lambda: all(m["checks_ok"] >= 2 for m in e.pool_state().values()
                             if isinstance(m, dict)), 10, "checks passing")
        b2.close()
        wait_for(lambda: e.pool_state()["%s:8080" % MEMBERS[1]]["health"] == "down", 10,
                 "member 2 marked down")
        for _ in range(4):
            s = socket.create_connection((ENGINE_IP, 80), timeout=10)
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            expect(MEMBERS[0].encode() in recv_all(s), "answered by member 1")
            s.close()
        m2 = e.pool_state()["%s:8080" % MEMBERS[1]]
        expect(m2["last_check"] == "refused", "last check %s" % m2)
    run(e, body, backends)


def t_lb_reload(binary):
    e = LbEngine(binary, "lbreload", members=['"%s:8080"' % m for m in MEMBERS[:2]])
    backends = []

    def rewrite(members, extra=""):
        e.members = members
        with open(e.cfg, "w") as f:
            f.write(e.config_text() + extra)

    def body():
        backends.extend(Backend(m, "hold") for m in MEMBERS)
        b1, b2, b3 = backends
        s1 = socket.create_connection((ENGINE_IP, 80), timeout=10)  # member 1 (round robin)
        wait_for(lambda: b1.accepted, 5, "member 1 accept")
        # Reload: member 1 removed, member 3 added. The open session must survive.
        rewrite(['"%s:8080"' % m for m in MEMBERS[1:]])
        e.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: any("reloaded pools" in l for l in e.output), 10, "reload message")
        expect(any("1 member(s) added, 1 removed" in l for l in e.output), "".join(e.output))
        s1.sendall(b"after reload")
        b1.accepted[0].settimeout(5)
        expect(b1.accepted[0].recv(100) == b"after reload", "session of the removed member")
        socks = [socket.create_connection((ENGINE_IP, 80), timeout=10) for _ in range(4)]
        wait_for(lambda: len(b2.accepted) + len(b3.accepted) == 4, 5, "new sessions placed")
        expect(len(b1.accepted) == 1 and len(b2.accepted) == 2 and len(b3.accepted) == 2,
               "placement %d %d %d" % (len(b1.accepted), len(b2.accepted), len(b3.accepted)))
        members = {m["address"] for m in e.pool_state().values()}
        expect(members == {"%s:8080" % m for m in MEMBERS[1:]}, "members %s" % members)
        # A bad file is rejected with its location, and nothing changes.
        rewrite(['"%s:8080 weight=0"' % MEMBERS[0]])
        e.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: any("rejected" in l for l in e.output), 10, "rejection message")
        expect(any('"weight=0" is out of range' in l and ".toml:" in l for l in e.output),
               "error with file:line: " + "".join(e.output[-5:]))
        more = [socket.create_connection((ENGINE_IP, 80), timeout=10) for _ in range(2)]
        wait_for(lambda: len(b2.accepted) + len(b3.accepted) == 6, 5, "old config in force")
        expect(len(b1.accepted) == 1, "removed member got %d" % len(b1.accepted))
        for s in socks + more + [s1]:
            s.close()
    run(e, body, backends)


def t_lb_impaired(binary):
    # Nothing lost through the balancer with the Linux kernel at both ends: 1% drop, 1%
    # duplication, 1% reordering and 0.1% corruption both ways on the engine's port (both hops
    # cross it), SACK negotiated with the kernels. 40 connections echo 256 kB each (8 at a time)
    # through three kernel backends; every byte comes back (sha256), every session completes.
    e = LbEngine(binary, "lbimpair", vs={"connect_timeout": '"10s"'})
    e.impair = {}
    for d in ("rx", "tx"):
        e.impair.update({d + "_drop": "10000", d + "_duplicate": "10000", d + "_reorder": "10000",
                         d + "_corrupt": "1000"})
    e.impair["seed"] = "11"
    backends = []

    def body():
        for m in MEMBERS:
            backends.append(Backend(m))
        errors = []

        def client(k):
            for i in range(k, 40, 8):
                data = os.urandom(256 << 10)
                try:
                    s = socket.create_connection((ENGINE_IP, 80), timeout=60)
                    t = threading.Thread(target=s.sendall, args=(data,))
                    t.start()
                    got = recv_all(s, len(data))
                    t.join()
                    s.close()
                    if sha(got) != sha(data):
                        errors.append("connection %d: %d of %d bytes back" % (i, len(got), len(data)))
                except OSError as exc:
                    errors.append("connection %d: %s" % (i, exc))
        ts = [threading.Thread(target=client, args=(k,)) for k in range(8)]
        [t.start() for t in ts]
        [t.join() for t in ts]
        expect(not errors, "transfers through the impaired balancer:\n" + "\n".join(errors[:10]))
        wait_for(lambda: e.vs_counters()["active"] == 0, 30, "sessions ended")
        v = e.vs_counters()
        expect(v["completed"] == 40 and v["client_resets"] == 0 and v["server_resets"] == 0
               and v["connect_failed"] == 0, "counters %s" % v)
        st = e.stats()
        expect(st.get("worker_impair_dropped", 0) > 0 and st.get("worker_impair_reordered", 0) > 0,
               "impairment active")
        # The loss recovery of this work was used: segments held out of order, SACK blocks taken.
        expect(st.get("ooo_queued", 0) > 0 and st.get("sack_blocks_in", 0) > 0,
               "out-of-order queue and SACK used: %s" %
               {k: st.get(k) for k in ("ooo_queued", "sack_blocks_in", "sack_recoveries",
                                       "fast_retransmits", "rtx_data")})
        print("lb_impaired: %s" % {k: st.get(k, 0) for k in (
            "worker_impair_dropped", "worker_impair_duplicated", "worker_impair_reordered",
            "worker_impair_corrupted", "ooo_queued", "sack_blocks_in", "sack_recoveries", "sack_rtx",
            "fast_retransmits", "limited_transmits", "rtx_data")})
    run(e, body, backends)


TESTS = {name[2:]: fn for name, fn in globals().items() if name.startswith("t_")}


if __name__ == "__main__":
    sys.exit(run_main(TESTS, "lb_interop.py"))
