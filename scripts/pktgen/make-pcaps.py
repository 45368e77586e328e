#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""pcap files for pktgen-dpdk's replay (replay.lua, `pktgen ... -s 0:FILE`), written with scapy.

Run with Debian's /usr/bin/python3 (python3-scapy); a pyenv python3 on PATH lacks it.

  make-pcaps.py synth --conns N --out DIR
      N complete HTTP lifecycles toward tcpterm (scripts/pktgen/tcpterm.toml: 198.18.0.1:80, the
      http service, 128-byte body, the client closes), one four-tuple each, 10.1.x.y:20000+i:
        DIR/lifecycles.pcap  both directions, consistent sequence numbers: SYN, SYN-ACK, ACK,
                             request, response, ACK, FIN, FIN-ACK, ACK (the "recording"; the
                             server's ISNs in it are made up: ISN_i = 0x5e000000 + i * 0x10000)
        DIR/client.pcap      its client side only (6 segments per lifecycle), for a blind replay
        DIR/syns.pcap        its SYNs only (phase 1 of replay)
      The segments are ordered step by step across the N connections (every SYN, then every
      SYN-ACK, ...), as a capture of N concurrent clients would be. DIR/*.count = packets.

  make-pcaps.py rewrite --conns N --capture CAP --out DIR
      The rest of each lifecycle (ACK, request, ACK of the response, FIN, ACK of the server's
      FIN) acknowledging the ISN tcpterm actually chose, read from the SYN-ACKs in CAP (pktgen's
      capture of phase 1) -> DIR/rest.pcap. Works once per four-tuple set: every new SYN gets a
      new ISN, so the file is stale as soon as those connections are closed.

  make-pcaps.py rst-sweep --conns N [--stride S] --out FILE
      Blind in-window RST search on N known four-tuples (198.18.2.2:40000+i -> 198.18.2.1:80,
      the connections hold-conns.py keeps): RSTs with sequence numbers 0, S, 2S, ... (2^32 / S
      of them per connection), so that every receive window of at least S bytes is hit
      (RFC 5961 3: tcpterm must answer an in-window RST with a challenge ACK, not reset).

  make-pcaps.py syns --count N --out FILE
      N SYNs with distinct four-tuples (10.2.0.0/16, source ports from 1024), for a SYN flood of
      N truly distinct flows (pktgen's range mode repeats a few dozen, see README.md).
"""
import argparse
import ipaddress
import os
import struct
import sys

try:
    from scapy.all import Ether, IP, TCP, Raw, RawPcapWriter, rdpcap, wrpcap
except ImportError:
    sys.exit("make-pcaps.py: scapy missing: run with Debian's /usr/bin/python3 (apt install python3-scapy)")

PKTGEN_MAC = "02:00:00:00:00:02"   # run.sh: pktgen's memif port
TCPTERM_MAC = "02:00:00:00:00:01"  # tcpterm.toml: tcpterm's memif port
SERVER = "198.18.0.1"
DPORT = 80
CLIENT_NET = ipaddress.ip_address("10.1.0.1")
SPORT = 20000
MSS = 1460
RESPONSE_SIZE = 128
REQUEST = (b"GET / HTTP/1.1\r\nHost: 198.18.0.1\r\nUser-Agent: pktgen-replay\r\n\r\n")


def response(size):
    head = ("HTTP/1.1 200 OK\r\nServer: tcpterm\r\nContent-Type: text/plain\r\n"
            f"Content-Length: {size}\r\n\r\n").encode()
    return head + b"x" * size  # lib/engine/services.cpp


def client(i):
    return str(CLIENT_NET + i), SPORT + i


def client_isn(i):
    return (0x1000_0000 + i * 0x0100_0000 + i * 7) & 0xFFFF_FFFF


def c2s(i, flags, seq, ack, payload=b"", opts=None):
    ip, sport = client(i)
    p = (Ether(src=PKTGEN_MAC, dst=TCPTERM_MAC) / IP(src=ip, dst=SERVER, ttl=64, id=i & 0xFFFF) /
         TCP(sport=sport, dport=DPORT, flags=flags, seq=seq, ack=ack, window=65535,
             options=opts or []))
    return p / Raw(payload) if payload else p


def s2c(i, flags, seq, ack, payload=b"", opts=None):
    ip, sport = client(i)
    p = (Ether(src=TCPTERM_MAC, dst=PKTGEN_MAC) / IP(src=SERVER, dst=ip, ttl=64) /
         TCP(sport=DPORT, dport=sport, flags=flags, seq=seq, ack=ack, window=65535,
             options=opts or []))
    return p / Raw(payload) if payload else p


def lifecycle_steps(i, s_isn, resp_len):
    """The nine segments of lifecycle i, as (sender, packet); s_isn = the server's ISN."""
    c = client_isn(i)
    req = len(REQUEST)
    resp = response(RESPONSE_SIZE)
    assert len(resp) == resp_len
    m = lambda x: x & 0xFFFF_FFFF  # noqa: E731
    return [
        ("c", c2s(i, "S", c, 0, opts=[("MSS", MSS)])),
        ("s", s2c(i, "SA", s_isn, m(c + 1), opts=[("MSS", MSS)])),
        ("c", c2s(i, "A", m(c + 1), m(s_isn + 1))),
        ("c", c2s(i, "PA", m(c + 1), m(s_isn + 1), REQUEST)),
        ("s", s2c(i, "PA", m(s_isn + 1), m(c + 1 + req), resp)),
        ("c", c2s(i, "A", m(c + 1 + req), m(s_isn + 1 + resp_len))),
        ("c", c2s(i, "FA", m(c + 1 + req), m(s_isn + 1 + resp_len))),
        ("s", s2c(i, "FA", m(s_isn + 1 + resp_len), m(c + 2 + req))),
        ("c", c2s(i, "A", m(c + 2 + req), m(s_isn + 2 + resp_len))),
    ]


def interleave(n, isns, resp_len, keep):
    """Step by step across the connections; keep(step_index, sender) selects segments."""
    steps = [lifecycle_steps(i, isns[i], resp_len) for i in range(n)]
    out = []
    for k in range(len(steps[0])):
        for i in range(n):
            who, p = steps[i][k]
            if keep(k, who):
                out.append(p)
    return out


def write(path, pkts):
    # Timestamps 10 us apart (pktgen ignores them; they keep Wireshark's view in order).
    for j, p in enumerate(pkts):
        p.time = 1_700_000_000 + j * 0.00001
    wrpcap(path, pkts)
    with open(os.path.splitext(path)[0] + ".count", "w") as f:
        f.write(f"{len(pkts)}\n")
    print(f"make-pcaps.py: {path}: {len(pkts)} packets")


def synth(args):
    resp_len = len(response(RESPONSE_SIZE))
    isns = [(0x5E00_0000 + i * 0x1_0000) & 0xFFFF_FFFF for i in range(args.conns)]
    os.makedirs(args.out, exist_ok=True)
    write(os.path.join(args.out, "lifecycles.pcap"), interleave(args.conns, isns, resp_len, lambda k, w: True))
    write(os.path.join(args.out, "client.pcap"), interleave(args.conns, isns, resp_len, lambda k, w: w == "c"))
    write(os.path.join(args.out, "syns.pcap"), interleave(args.conns, isns, resp_len, lambda k, w: k == 0))


def rewrite(args):
    resp_len = len(response(RESPONSE_SIZE))
    want = {client(i): i for i in range(args.conns)}
    isns = [None] * args.conns
    synacks = 0
    for p in rdpcap(args.capture):
        if IP in p and TCP in p and p[IP].src == SERVER and p[TCP].sport == DPORT:
            t = p[TCP]
            if (t.flags & 0x12) == 0x12:  # SYN+ACK
                synacks += 1
                i = want.get((p[IP].dst, t.dport))
                if i is not None and t.ack == (client_isn(i) + 1) & 0xFFFF_FFFF:
                    isns[i] = t.seq
    found = sum(x is not None for x in isns)
    print(f"make-pcaps.py: {args.capture}: {synacks} SYN-ACKs, ISNs of {found}/{args.conns} lifecycles")
    if found == 0:
        sys.exit("make-pcaps.py: no SYN-ACK for these four-tuples in the capture")
    kept = [i for i in range(args.conns) if isns[i] is not None]
    steps = {i: lifecycle_steps(i, isns[i], resp_len) for i in kept}
    pkts = []
    for k in range(9):
        for i in kept:
            who, p = steps[i][k]
            if who == "c" and k > 0:
                pkts.append(p)
    write(os.path.join(args.out, "rest.pcap"), pkts)


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def raw_writer(out, tmpl_pkt, variants):
    """Writes one frame per (src, sport, dst, seq) of `variants`, patched into tmpl_pkt's bytes
    (scapy builds the template once; building every packet with scapy is too slow)."""
    tmpl = bytearray(bytes(tmpl_pkt))
    ip_off, tcp_off = 14, 34
    w = RawPcapWriter(out, linktype=1)
    n = 0
    for j, (src, sport, dst, seq) in enumerate(variants):
        b = bytearray(tmpl)
        struct.pack_into("!H", b, ip_off + 4, j & 0xFFFF)  # IP id
        struct.pack_into("!I", b, ip_off + 12, src)
        struct.pack_into("!I", b, ip_off + 16, dst)
        struct.pack_into("!H", b, ip_off + 10, 0)
        struct.pack_into("!H", b, ip_off + 10, csum(bytes(b[ip_off:tcp_off])))
        struct.pack_into("!H", b, tcp_off, sport)
        struct.pack_into("!I", b, tcp_off + 4, seq)
        struct.pack_into("!H", b, tcp_off + 16, 0)
        tcp = bytes(b[tcp_off:])
        pseudo = struct.pack("!IIBBH", src, dst, 0, 6, len(tcp))
        struct.pack_into("!H", b, tcp_off + 16, csum(pseudo + tcp))
        w.write(bytes(b))
        n += 1
    w.close()
    with open(os.path.splitext(out)[0] + ".count", "w") as f:
        f.write(f"{n}\n")
    return n


def syns(args):
    base = int(ipaddress.ip_address("10.2.0.1"))
    dst = int(ipaddress.ip_address(SERVER))
    tmpl = (Ether(src=PKTGEN_MAC, dst=TCPTERM_MAC) / IP(src="10.2.0.1", dst=SERVER, ttl=64) /
            TCP(sport=1024, dport=DPORT, flags="S", seq=0, window=65535, options=[("MSS", MSS)]))
    n = raw_writer(args.out, tmpl, ((base + j % 16384, 1024 + j // 16384, dst,
                                     (j * 2654435761) & 0xFFFF_FFFF) for j in range(args.count)))
    print(f"make-pcaps.py: {args.out}: {n} SYNs, distinct four-tuples")


def rst_sweep(args):
    src = int(ipaddress.ip_address(args.src))
    dst = int(ipaddress.ip_address(args.dst))
    tmpl = (Ether(src=PKTGEN_MAC, dst=TCPTERM_MAC) / IP(src=args.src, dst=args.dst, ttl=64) /
            TCP(sport=args.sport, dport=args.dport, flags="R", seq=0, window=0))
    steps = (1 << 32) // args.stride
    # Sequence numbers in the outer loop, connections in the inner one: every connection sees
    # the whole sweep, interleaved.
    n = raw_writer(args.out, tmpl, ((src, args.sport + i, dst, (k * args.stride) & 0xFFFF_FFFF)
                                    for k in range(steps) for i in range(args.conns)))
    print(f"make-pcaps.py: {args.out}: {n} RSTs, {steps} sequence numbers {args.stride} apart "
          f"x {args.conns} connections")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("synth")
    s.add_argument("--conns", type=int, default=64)
    s.add_argument("--out", required=True)
    s.set_defaults(func=synth)
    r = sub.add_parser("rewrite")
    r.add_argument("--conns", type=int, default=64)
    r.add_argument("--capture", required=True)
    r.add_argument("--out", required=True)
    r.set_defaults(func=rewrite)
    y = sub.add_parser("syns")
    y.add_argument("--count", type=int, default=65536)
    y.add_argument("--out", required=True)
    y.set_defaults(func=syns)
    w = sub.add_parser("rst-sweep")
    w.add_argument("--conns", type=int, default=4)
    w.add_argument("--src", default="198.18.2.2")
    w.add_argument("--sport", type=int, default=40000)
    w.add_argument("--dst", default="198.18.2.1")
    w.add_argument("--dport", type=int, default=80)
    w.add_argument("--stride", type=int, default=65536)
    w.add_argument("--out", required=True)
    w.set_defaults(func=rst_sweep)
    args = ap.parse_args()
    if getattr(args, "conns", 1) < 1 or getattr(args, "conns", 1) > 65000:
        sys.exit("make-pcaps.py: --conns must be 1..65000")
    args.func(args)


if __name__ == "__main__":
    main()
