#!/usr/bin/env python3
"""Interop tests: the real tcpterm binary on a net_tap port inside a network namespace made for
the test, with the Linux kernel's TCP as the peer (Python sockets in the same namespace).

    interop.py TCPTERM_BINARY TEST_NAME

Each test creates its own namespace (tt-<test>-<pid>) and removes it at the end, even on failure.
The engine is 198.18.0.2/24, the kernel side 198.18.0.1/24 on the tap interface. Engine-side
facts come from its telemetry socket (the same JSON tcpterm-ctl reads). Standard library only.
"""
import ctypes
import hashlib
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

ENGINE_IP = "198.18.0.2"
KERNEL_IP = "198.18.0.1"
TAP = "tcpt0"


def sh(*cmd, check=True, ns=None):
    full = (["ip", "netns", "exec", ns] if ns else []) + list(cmd)
    r = subprocess.run(full, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError("command failed: %s\n%s%s" % (" ".join(full), r.stdout, r.stderr))
    return r.stdout


def enter_netns(name):
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    fd = os.open("/var/run/netns/" + name, os.O_RDONLY)
    if libc.setns(fd, 0x40000000) != 0:  # CLONE_NEWNET
        raise OSError(ctypes.get_errno(), "setns failed")
    os.close(fd)


class Engine:
    def __init__(self, binary, test, listeners, tcp=None, engine=None):
        self.binary = binary
        self.ns = "tt-%s-%d" % (test[:10], os.getpid())
        self.prefix = "tti%d" % os.getpid()
        self.listeners = listeners
        self.tcp = {"time_wait": '"2s"', "fin_timeout": '"3s"'}
        self.tcp.update(tcp or {})
        self.engine = {"drain_timeout": '"2s"', "mbufs": "8191"}
        self.engine.update(engine or {})
        self.proc = None
        self.output = []
        self.cfg = None

    impair = None

    def config_text(self):
        lines = ["[eal]",
                 'args = ["--no-huge", "-m", "256", "--no-pci", "--log-level=*:warning"]',
                 'file_prefix = "%s"' % self.prefix, "", "[engine]", "workers = 1"]
        lines += ["%s = %s" % kv for kv in self.engine.items()]
        lines += ["", "[[port]]", 'device = "net_tap0,iface=%s"' % TAP,
                  'addresses = ["%s/24"]' % ENGINE_IP, ""]
        for l in self.listeners:
            lines.append("[[listener]]")
            lines += ["%s = %s" % kv for kv in l.items()]
            lines.append("")
        lines.append("[tcp]")
        lines += ["%s = %s" % kv for kv in self.tcp.items()]
        if self.impair:
            lines += ["", "[impair]"] + ["%s = %s" % kv for kv in self.impair.items()]
        return "\n".join(lines) + "\n"

    def start(self):
        subprocess.run(["ip", "netns", "del", self.ns], capture_output=True)
        sh("ip", "netns", "add", self.ns)
        sh("ip", "link", "set", "lo", "up", ns=self.ns)
        fd, self.cfg = tempfile.mkstemp(suffix=".toml", prefix="tcpterm-interop-")
        with os.fdopen(fd, "w") as f:
            f.write(self.config_text())
        self.proc = subprocess.Popen(["ip", "netns", "exec", self.ns, self.binary, "--config", self.cfg],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        threading.Thread(target=self._reader, daemon=True).start()
        deadline = time.time() + 60
        while not any("running" in l for l in self.output):
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("tcpterm did not start:\n" + "".join(self.output))
            time.sleep(0.05)
        # net_tap gives the kernel interface the port's own MAC; a distinct one keeps ARP sane.
        sh("ip", "link", "set", TAP, "address", "02:00:00:00:00:01", ns=self.ns)
        sh("ip", "addr", "add", KERNEL_IP + "/24", "dev", TAP, ns=self.ns)
        sh("ip", "link", "set", TAP, "up", ns=self.ns)
        enter_netns(self.ns)
        # Wait until the engine answers ARP and TCP (a first connection attempt may race the link).
        deadline = time.time() + 20
        while True:
            try:
                s = socket.create_connection((ENGINE_IP, self.listeners[0]["port"]), timeout=1)
                s.close()
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.1)
        time.sleep(0.2)

    def _reader(self):
        for line in self.proc.stdout:
            self.output.append(line)

    def telemetry(self, cmd):
        path = "/var/run/dpdk/%s/dpdk_telemetry.v2" % self.prefix
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.connect(path)
        s.recv(16384)
        s.send(cmd.encode())
        data = json.loads(s.recv(1 << 20).decode())
        s.close()
        return data[cmd.split(",")[0]]

    def states(self):
        return self.telemetry("/tcpterm/states")

    def stats(self):
        """All counters flattened to one dict (nested groups merged)."""
        out = {}

        def walk(d):
            for k, v in d.items():
                if isinstance(v, dict):
                    walk(v)
                else:
                    out[k] = v
        walk(self.telemetry("/tcpterm/stats"))
        return out

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        time.sleep(0.1)
        return "".join(self.output)

    def cleanup(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        subprocess.run(["ip", "netns", "del", self.ns], capture_output=True)
        if self.cfg:
            os.unlink(self.cfg)


def wait_for(pred, timeout=10, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def expect(cond, msg):
    if not cond:
        raise AssertionError(msg)


def recv_all(s, n=None):
    chunks = []
    got = 0
    while n is None or got < n:
        b = s.recv(65536)
        if not b:
            break
        chunks.append(b)
        got += len(b)
    return b"".join(chunks)


ECHO = {"port": "7", "service": '"echo"'}
HTTP_SERVER_CLOSES = {"port": "80", "service": '"http"', "http_closer": '"server"'}


# ---- the tests ---------------------------------------------------------------------------------

def t_echo_1mib(binary):
    e = Engine(binary, "echo", [ECHO])
    try:
        e.start()
        data = os.urandom(1 << 20)
        s = socket.create_connection((ENGINE_IP, 7), timeout=10)
        t = threading.Thread(target=s.sendall, args=(data,))
        t.start()
        got = recv_all(s, len(data))
        t.join()
        expect(hashlib.sha256(got).digest() == hashlib.sha256(data).digest(), "echoed bytes differ")
        s.close()
        st = e.stats()
        expect(st.get("bytes_in", 0) >= len(data), "bytes_in %s" % st.get("bytes_in"))
    finally:
        e.stop()
        e.cleanup()


def t_concurrent_1000(binary):
    e = Engine(binary, "conc", [ECHO])
    try:
        e.start()
        socks = []
        for i in range(1000):
            socks.append(socket.create_connection((ENGINE_IP, 7), timeout=10))
        wait_for(lambda: e.states().get("established", 0) >= 1000, 10, "1000 established")
        for i, s in enumerate(socks):
            s.sendall(b"%d\n" % i)
        for i, s in enumerate(socks):
            expect(s.recv(100) == b"%d\n" % i, "echo on connection %d" % i)
        for s in socks:
            s.close()
        wait_for(lambda: e.states().get("established", 0) == 0 and e.states().get("last_ack", 0) == 0,
                 15, "all connections closed")
    finally:
        e.stop()
        e.cleanup()


def t_client_closes_first(binary):
    e = Engine(binary, "cfirst", [ECHO])
    try:
        e.start()
        s = socket.create_connection((ENGINE_IP, 7), timeout=5)
        s.sendall(b"hello")
        expect(s.recv(5) == b"hello", "echo")
        s.shutdown(socket.SHUT_WR)
        expect(s.recv(10) == b"", "engine closes after our FIN")
        s.close()
        wait_for(lambda: e.stats().get("trans_last_ack_closed", 0) >= 1, 5, "LAST_ACK -> CLOSED")
        st = e.stats()
        expect(st.get("trans_established_close_wait", 0) >= 1, "CLOSE_WAIT passed")
        expect(st.get("trans_close_wait_last_ack", 0) >= 1, "LAST_ACK passed")
        expect(e.states().get("time_wait", 0) == 0, "no TIME_WAIT on the passive closer")
        tw = subprocess.run(["ss", "-tan", "state", "time-wait"], capture_output=True, text=True).stdout
        expect(ENGINE_IP + ":7" in tw, "kernel holds TIME_WAIT:\n" + tw)
    finally:
        e.stop()
        e.cleanup()


def t_engine_closes_first(binary):
    e = Engine(binary, "efirst", [HTTP_SERVER_CLOSES])
    try:
        e.start()
        time.sleep(2.2)  # let the start-up probe's TIME_WAIT expire
        s = socket.create_connection((ENGINE_IP, 80), timeout=5)
        s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        resp = recv_all(s)
        expect(resp.startswith(b"HTTP/1.1 200 OK"), "response: %r" % resp[:40])
        mine = "%s:%d" % s.getsockname()
        s.close()
        wait_for(lambda: e.states().get("time_wait", 0) == 1, 5, "engine TIME_WAIT")
        conns = e.telemetry("/tcpterm/conns,time_wait")
        expect(conns.get("total", 0) == 1, "conns listing: %s" % conns)
        wait_for(lambda: e.states().get("time_wait", 0) == 0, 6, "TIME_WAIT gone after time_wait")
        tw = subprocess.run(["ss", "-tan", "state", "time-wait"], capture_output=True, text=True).stdout
        expect(mine not in tw, "kernel has no TIME_WAIT for %s:\n%s" % (mine, tw))
    finally:
        e.stop()
        e.cleanup()


def t_half_close(binary):
    e = Engine(binary, "half", [ECHO])
    try:
        e.start()
        s = socket.create_connection((ENGINE_IP, 7), timeout=5)
        payload = b"x" * 100000
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        got = recv_all(s)
        expect(got == payload, "echo after half-close: %d of %d bytes" % (len(got), len(payload)))
        s.close()
    finally:
        e.stop()
        e.cleanup()


def t_client_unread_rst(binary):
    e = Engine(binary, "unread", [ECHO])
    try:
        e.start()
        before = e.stats().get("conn_reset", 0)
        s = socket.create_connection((ENGINE_IP, 7), timeout=5)
        s.sendall(b"data the client will not read")
        time.sleep(0.3)  # the echo arrives and sits unread in the kernel
        s.close()        # -> the kernel sends RST (RFC 2525 2.17)
        wait_for(lambda: e.stats().get("conn_reset", 0) > before, 5, "engine counts the RST")
        expect(e.states().get("established", 0) == 0, "connection gone")
    finally:
        e.stop()
        e.cleanup()


def t_engine_unread_rst(binary):
    # A pipelining client: the request plus 20 kB the server never reads. The server closes after
    # its response with those bytes unread, so it must send RST, not FIN (RFC 2525 2.17), and the
    # kernel client's recv raises ECONNRESET.
    e = Engine(binary, "eunread", [HTTP_SERVER_CLOSES])
    try:
        e.start()
        s = socket.create_connection((ENGINE_IP, 80), timeout=5)
        s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n" + b"x" * 20000)
        reset = False
        try:
            while s.recv(65536):
                pass
        except ConnectionResetError:
            reset = True
        expect(reset, "the client's recv raises ECONNRESET")
        s.close()
        st = e.stats()
        expect(st.get("close_unread_rst", 0) >= 1, "engine counts close_unread_rst: %s" % st.get("close_unread_rst"))
        expect(st.get("rst_sent_close_unread", 0) >= 1, "RST sent for close with unread data")
    finally:
        e.stop()
        e.cleanup()


def t_client_linger0(binary):
    e = Engine(binary, "linger0", [ECHO])
    try:
        e.start()
        time.sleep(2.2)
        before = e.stats().get("conn_reset", 0)
        s = socket.create_connection((ENGINE_IP, 7), timeout=5)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        mine = "%s:%d" % s.getsockname()
        s.close()
        wait_for(lambda: e.stats().get("conn_reset", 0) > before, 5, "engine counts the RST")
        expect(e.states().get("time_wait", 0) == 0, "no TIME_WAIT on the engine")
        tw = subprocess.run(["ss", "-tan", "state", "time-wait"], capture_output=True, text=True).stdout
        expect(mine not in tw, "no TIME_WAIT on the kernel for %s:\n%s" % (mine, tw))
    finally:
        e.stop()
        e.cleanup()


def t_keepalive_answered(binary):
    l = dict(ECHO)
    l["keepalive"] = "true"
    e = Engine(binary, "ka", [l], tcp={"keepalive_time": '"1s"', "keepalive_intvl": '"1s"', "keepalive_probes": "2"})
    try:
        e.start()
        s = socket.create_connection((ENGINE_IP, 7), timeout=5)
        wait_for(lambda: e.stats().get("keepalive_probes", 0) >= 3, 10, "three keepalive probes")
        expect(e.states().get("established", 0) >= 1, "still established: the kernel answers probes")
        s.sendall(b"alive")
        expect(s.recv(5) == b"alive", "connection works")
        s.close()
    finally:
        e.stop()
        e.cleanup()


def t_silent_peer(binary):
    l = dict(ECHO)
    l["keepalive"] = "true"
    e = Engine(binary, "silent", [l], tcp={"keepalive_time": '"1s"', "keepalive_intvl": '"1s"', "keepalive_probes": "2"})
    try:
        e.start()
        s = socket.create_connection((ENGINE_IP, 7), timeout=5)
        before = e.stats().get("rst_sent_keepalive_timeout", 0)
        # The kernel side goes silent: drop everything from the engine.
        sh("nft", "add", "table", "inet", "tt")
        sh("nft", "add", "chain", "inet", "tt", "in", "{ type filter hook input priority 0 ; }")
        sh("nft", "add", "rule", "inet", "tt", "in", "ip", "saddr", ENGINE_IP, "drop")
        wait_for(lambda: e.stats().get("rst_sent_keepalive_timeout", 0) > before, 10, "keepalive abort")
        st = e.stats()
        expect(st.get("conn_timeout", 0) >= 1, "conn_timeout counted")
        expect(e.states().get("established", 0) == 0, "connection aborted")
        s.close()
    finally:
        e.stop()
        e.cleanup()


def t_impaired_echo(binary):
    # Nothing lost under faults: 1% drop, 1% duplication, 1% reordering both ways and 0.1%
    # corruption (caught by the checksums) on the engine's port; 100 connections echo 20 kB each
    # (10 at a time) and every byte comes back intact; afterwards no connection is left open.
    e = Engine(binary, "impair", [ECHO])
    e.impair = {}
    for d in ("rx", "tx"):
        e.impair.update({d + "_drop": "10000", d + "_duplicate": "10000", d + "_reorder": "10000",
                         d + "_corrupt": "1000"})
    e.impair["seed"] = "7"
    try:
        e.start()
        errors = []

        def client(k):
            for i in range(k, 100, 10):
                data = os.urandom(20000)
                try:
                    s = socket.create_connection((ENGINE_IP, 7), timeout=20)
                    t = threading.Thread(target=s.sendall, args=(data,))
                    t.start()
                    got = recv_all(s, len(data))
                    t.join()
                    s.close()
                    if got != data:
                        errors.append("connection %d: %d of %d bytes, equal=%s" % (i, len(got), len(data), got == data[:len(got)]))
                except OSError as exc:
                    errors.append("connection %d: %s" % (i, exc))
        ts = [threading.Thread(target=client, args=(k,)) for k in range(10)]
        [t.start() for t in ts]
        [t.join() for t in ts]
        expect(not errors, "transfers under impairment:\n" + "\n".join(errors[:10]))
        st = e.stats()
        expect(st.get("worker_impair_dropped", 0) > 0 and st.get("worker_impair_reordered", 0) > 0
               and st.get("worker_impair_duplicated", 0) > 0, "impairment active: %s" %
               {k: v for k, v in st.items() if k.startswith("worker_impair")})
        caught = st.get("net_drop_bad_tcp_csum", 0) + st.get("net_drop_bad_ip_csum", 0)
        expect(caught > 0 or st.get("worker_impair_corrupted", 0) == 0, "corruption caught by checksums")
        wait_for(lambda: sum(v for k, v in e.states().items() if k not in ("listen", "time_wait", "closed")) == 0,
                 30, "every connection closed")
    finally:
        e.stop()
        e.cleanup()


def t_sigterm_drain(binary):
    e = Engine(binary, "drain", [ECHO], engine={"drain_timeout": '"1s"'})
    try:
        e.start()
        socks = [socket.create_connection((ENGINE_IP, 7), timeout=5) for _ in range(5)]
        wait_for(lambda: e.states().get("established", 0) >= 5, 5, "5 established")
        # One client finishes during the drain; four stay open and are reset at the deadline.
        out = [None]

        def stop():
            out[0] = e.stop()
        t = threading.Thread(target=stop)
        t.start()
        time.sleep(0.3)
        socks[0].close()
        t.join()
        text = out[0]
        expect("stopped:" in text, "summary printed:\n" + text)
        expect("4 reset at the deadline" in text, "four reset at the deadline:\n" + text)
        resets = 0
        for s in socks[1:]:
            try:
                s.settimeout(2)
                if s.recv(10) == b"":
                    pass
            except ConnectionResetError:
                resets += 1
        expect(resets == 4, "kernel clients see ECONNRESET: %d of 4" % resets)
    finally:
        e.stop()
        e.cleanup()


def t_halfopen_on_stop(binary):
    e = Engine(binary, "halfopen", [ECHO])
    try:
        e.start()
        # Drop the kernel's final ACK so the engine keeps the connection in SYN_RECV.
        sh("nft", "add", "table", "inet", "tt")
        sh("nft", "add", "chain", "inet", "tt", "out", "{ type filter hook output priority 0 ; }")
        sh("nft", "add", "rule", "inet", "tt", "out", "ip", "daddr", ENGINE_IP, "tcp", "flags", "== ack", "drop")
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect((ENGINE_IP, 7))
        except BlockingIOError:
            pass
        wait_for(lambda: e.states().get("syn_recv", 0) >= 1, 5, "a half-open connection")
        text = e.stop()
        expect("1 half-open reset" in text, "listener close resets the half-open one:\n" + text)
        s.close()
    finally:
        e.stop()
        e.cleanup()


def t_icmp_ping(binary):
    e = Engine(binary, "ping", [ECHO])
    try:
        e.start()
        r = subprocess.run(["ping", "-c", "2", "-W", "2", ENGINE_IP], capture_output=True, text=True)
        expect(r.returncode == 0, "ping:\n" + r.stdout + r.stderr)
    finally:
        e.stop()
        e.cleanup()


TESTS = {name[2:]: fn for name, fn in globals().items() if name.startswith("t_")}


def run_main(tests, prog):
    """`prog TCPTERM_BINARY TEST_NAME`: runs one test, prints PASS or FAIL with the reason."""
    if len(sys.argv) != 3 or sys.argv[2] not in tests:
        print("usage: %s TCPTERM_BINARY {%s}" % (prog, "|".join(sorted(tests))), file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print("interop tests need root (network namespaces, tap)", file=sys.stderr)
        return 1
    try:
        tests[sys.argv[2]](sys.argv[1])
    except Exception as exc:  # noqa: BLE001 - report any failure with its message
        import traceback
        traceback.print_exc()
        print("FAIL %s: %s" % (sys.argv[2], exc))
        return 1
    print("PASS %s" % sys.argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(run_main(TESTS, "interop.py"))
