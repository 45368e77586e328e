#!/usr/bin/env python3
"""Writes the seed corpus of the libFuzzer targets (Python 3 standard library only).

    python3 tests/fuzz/gen_corpus.py            # rewrites tests/fuzz/corpus/<target>/

fuzz_parse seeds are packets (IPv4 and Ethernet frames) behind three control bytes; fuzz_tcp_input
seeds are programs in the format described in tests/fuzz/README.md (and decoded by
fuzz_tcp_input.cpp): a 4-byte configuration, then steps (peer segments, application operations,
clock steps, stack operations) that open, exchange data and close connections in different ways.
"""
import os
import shutil
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus")

PEER_IP = bytes([198, 18, 0, 1])
ENGINE_IP = bytes([198, 18, 0, 2])

FIN, SYN, RST, PSH, ACK, URG = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20


# ---- packets (fuzz_parse) -------------------------------------------------------------------------

def csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ipv4(proto: int, l4: bytes, src=PEER_IP, dst=ENGINE_IP, ip_opts=b"", ttl=64) -> bytes:
    ihl = 5 + len(ip_opts) // 4
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, ihl * 4 + len(l4), 0x1234, 0x4000, ttl,
                      proto, 0, src, dst) + ip_opts
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    if proto == 6:  # TCP checksum over the pseudo-header
        ph = src + dst + struct.pack("!BBH", 0, 6, len(l4))
        c = csum(ph + l4[:16] + b"\0\0" + l4[18:])
        l4 = l4[:16] + struct.pack("!H", c) + l4[18:]
    elif proto == 1:
        c = csum(l4[:2] + b"\0\0" + l4[4:])
        l4 = l4[:2] + struct.pack("!H", c) + l4[4:]
    return hdr + l4


def tcp(flags, seq=1000, ack=0, opts=b"", payload=b"", sport=40000, dport=80, win=65535):
    while len(opts) % 4:
        opts += b"\0"
    doff = (20 + len(opts)) // 4
    return struct.pack("!HHIIBBHHH", sport, dport, seq, ack, doff << 4, flags, win, 0, 0) + opts \
        + payload


def ether(payload: bytes, ethertype: int) -> bytes:
    return bytes([2, 0, 0x5e, 0, 0, 2]) + bytes([2, 0, 0x5e, 0, 0, 1]) + struct.pack("!H", ethertype) \
        + payload


MSS = bytes([2, 4, 0x05, 0xB4])
WS = bytes([1, 3, 3, 7])
SACKOK_TS = bytes([4, 2, 8, 10]) + struct.pack("!II", 12345, 0)
TS = bytes([1, 1, 8, 10]) + struct.pack("!II", 12345, 777)
SACK2 = bytes([1, 1, 5, 18]) + struct.pack("!IIII", 5000, 6000, 7000, 8000)


def parse_seeds():
    syn = ipv4(6, tcp(SYN, opts=MSS))
    every = ipv4(6, tcp(SYN, opts=MSS + SACKOK_TS + WS + bytes([30, 4, 0xAB, 0xCD])))
    data = ipv4(6, tcp(ACK | PSH, 1001, 5001, TS, bytes(range(100))))
    sack = ipv4(6, tcp(ACK, 1001, 5001, TS + SACK2[:2] + bytes([1, 1]) + SACK2[2:]))
    fin = ipv4(6, tcp(FIN | ACK, 1101, 5001))
    rst = ipv4(6, tcp(RST, 1101, 0))
    arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, bytes([2, 0, 0x5e, 0, 0, 1]), PEER_IP,
                      bytes(6), ENGINE_IP)
    icmp = ipv4(1, struct.pack("!BBHHH", 8, 0, 0, 0x4242, 1) + b"ping" * 8)
    ipopts = ipv4(6, tcp(SYN, opts=MSS), ip_opts=bytes([1, 1, 1, 0]))
    seeds = {
        "syn": (0x00, syn),
        "syn_every_option": (0x00, every),
        "data": (0x01, data),
        "data_3_segments": (0x02, data),
        "sack": (0x00, sack),
        "fin": (0x00, fin),
        "rst": (0x00, rst),
        "syn_ip_options": (0x00, ipopts),
        "icmp_echo": (0x00, icmp),
        "arp_request_frame": (0x00, ether(arp + bytes(18), 0x0806)),  # padded to 60 bytes
        "icmp_echo_frame": (0x01, ether(icmp, 0x0800)),
        "syn_frame": (0x00, ether(every, 0x0800)),
        "data_frame_padded": (0x02, ether(fin + bytes(6), 0x0800)),
        "data_offload_good": (0x10 | 0x04 * 1, data),
        "data_fix_checksums": (0x40, data),
    }
    out = {}
    for name, (ctrl, pkt) in seeds.items():
        out[name] = bytes([ctrl, 23, 57]) + pkt
    return out


# ---- programs (fuzz_tcp_input) --------------------------------------------------------------------
# Configuration: 4 bytes (see fuzz_tcp_input.cpp, Run::configure).

def config(ts=False, ws=False, cookies=0, quickack=False, nodelay=False, tw_reuse=False,
           small=False, rcv=0, snd=0, mss=0, backlog=0, c2=0, manual_accept=False, read=0, fin=0,
           recv_mbuf=False, send_mbuf=False):
    c0 = (ts << 0) | (ws << 1) | ({0: 0, 1: 1, 2: 2}[cookies] << 2) | (quickack << 4) \
        | (nodelay << 5) | (tw_reuse << 6) | (small << 7)
    c1 = rcv | (snd << 2) | (mss << 4) | (backlog << 6)
    c3 = manual_accept | (read << 1) | (fin << 3) | (recv_mbuf << 5) | (send_mbuf << 6)
    return bytes([c0, c1, c2, c3])


# Sequence modes (relative to the connection's RCV.NXT, or what the peer knows).
S_EXP, S_PEER, S_EXP_M1, S_EDGE, S_DELTA8, S_DELTA16, S_ABS, S_IRS = range(8)
# Acknowledgement modes (relative to SND.NXT).
A_NXT, A_UNA, A_MAX, A_DELTA8, A_UNSENT, A_OLD, A_ABS, A_ISS = range(8)

# Option bits.
O_MSS, O_WS, O_TS, O_SACKOK, O_SACK, O_RAW, O_EOL, O_BAD = (1 << i for i in range(8))


def seg(flags, port=0, seqm=S_EXP, ackm=A_NXT, win=0, chain=0, corrupt=False, opts=0,
        paylen=0, clock=0, seqx=b"", ackx=b"", winx=b"", optx=b""):
    """One peer segment. paylen: 0..127 bytes, or a length code (see len_code below)."""
    b2 = port | (chain << 3) | (0x20 if corrupt else 0) | (win << 6)
    b3 = seqm | (ackm << 3) | (0xC0 if corrupt else 0)
    return bytes([0, flags, b2, b3, opts, paylen, clock]) + seqx + ackx + winx + optx


def len_code(n):
    """Payload length code for n bytes (0..127 exact, multiples of 32 up to 2016)."""
    if n < 128:
        return n
    assert n % 32 == 0 and n <= 2016
    return 128 + n // 32


LEN_MSS = 193       # exactly the connection's MSS
LEN_4000 = 199


def app(op, port=0, arg=0):
    return bytes([150, port | (op << 3), arg])


OP_SEND, OP_RECV, OP_RECV_N, OP_PEEK, OP_RECV_MBUF, OP_SEND_MBUF, OP_CLOSE, OP_SHUT_WR, \
    OP_SHUT_RD, OP_SHUT_RDWR, OP_ABORT, OP_LINGER, OP_KEEPALIVE, OP_NODELAY, OP_IDLE, OP_USER_TO, \
    OP_CONNECT, OP_ACCEPT, OP_MODE = range(19)


def clock(code):
    return bytes([210, code])


SEC = {1: 109, 2: 119, 5: 149, 10: 199, 60: 227, 120: 255}  # clock codes


def stack(op, arg=0):
    return bytes([235, op | (arg << 3)])


ST_CLOSE_LISTENER, ST_LISTEN, ST_NOT_ACCEPTING, ST_ACCEPTING, ST_RESET_ALL, ST_HOLD, \
    ST_RELEASE, ST_BURST = range(8)

SYN_OPTS = O_MSS | O_WS | O_TS | O_SACKOK
SYN_OPTX = bytes([0, 7, 0])  # MSS 1460, wscale 7, TS (clock, echo)


def handshake(port=0, opts=0, optx=b""):
    """SYN (with opts/optx), then the ACK of the SYN-ACK (with a timestamp if the SYN had one)."""
    ack_opts = opts & O_TS
    return seg(SYN, port, S_PEER, opts=opts, optx=optx) \
        + seg(ACK, port, S_EXP, A_NXT, opts=ack_opts, optx=b"\0" if ack_opts else b"")


def programs():
    p = {}
    p["echo_then_peer_fin"] = config(fin=1) + handshake() + seg(ACK | PSH, paylen=100) \
        + seg(ACK) + seg(FIN | ACK) + seg(ACK)
    p["options_all_timestamps"] = config(ts=True, ws=True) + handshake(0, SYN_OPTS, SYN_OPTX) \
        + seg(ACK | PSH, opts=O_TS, optx=b"\0", paylen=len_code(1024)) + seg(ACK, opts=O_TS, optx=b"\0") \
        + app(OP_CLOSE) + seg(ACK, opts=O_TS, optx=b"\0") + seg(FIN | ACK, opts=O_TS, optx=b"\0") \
        + clock(SEC[60]) + clock(SEC[10])
    p["server_sends_then_closes"] = config(read=1) + handshake() + app(OP_SEND, 0, 80) \
        + seg(ACK, ackm=A_UNA) + seg(ACK) + app(OP_CLOSE) + seg(ACK) + seg(FIN | ACK) \
        + clock(SEC[60]) + clock(SEC[10])
    p["peer_rst"] = config() + handshake() + seg(ACK | PSH, paylen=10) + seg(RST)
    p["rst_in_window_challenge"] = config(c2=0x08) + handshake() + seg(RST, seqm=S_DELTA8, seqx=b"\x10") \
        + seg(SYN, seqm=S_DELTA8, seqx=b"\x05") + seg(ACK, ackm=A_OLD, ackx=b"\x01") + seg(RST)
    p["app_abort"] = config(read=2) + handshake() + seg(ACK | PSH, paylen=50) + app(OP_ABORT)
    p["close_unread_rst"] = config(read=2) + handshake() + seg(ACK | PSH, paylen=50) + app(OP_CLOSE)
    p["half_close"] = config(read=1) + handshake() + app(OP_SHUT_WR) + seg(ACK) \
        + seg(ACK | PSH, paylen=30) + app(OP_SEND, 0, 1) + seg(FIN | ACK) + clock(SEC[60]) \
        + clock(SEC[10])
    p["shutdown_rd"] = config() + handshake() + app(OP_SHUT_RD) + seg(ACK | PSH, paylen=64) \
        + app(OP_SHUT_RDWR) + seg(FIN | ACK) + seg(ACK)
    p["syncookies_always"] = config(ts=True, ws=True, cookies=2) + seg(SYN, 0, S_PEER, opts=SYN_OPTS, optx=SYN_OPTX) \
        + seg(ACK | PSH, 0, S_EXP, A_NXT, opts=O_TS, optx=b"\0", paylen=20) + seg(FIN | ACK, opts=O_TS, optx=b"\0")
    p["syncookies_overflow"] = config(cookies=1, backlog=1) + seg(SYN, 0, S_PEER, opts=O_MSS, optx=b"\1") \
        + seg(SYN, 1, S_PEER, opts=O_MSS, optx=b"\0") + seg(ACK, 1) + seg(ACK, 0)
    p["active_open"] = config(read=1) + app(OP_CONNECT, 4) + seg(SYN | ACK, 4, S_PEER, A_NXT, opts=O_MSS, optx=b"\0") \
        + app(OP_SEND, 4, 10) + seg(ACK | PSH, 4, paylen=40) + app(OP_CLOSE, 4) + seg(ACK, 4) \
        + seg(FIN | ACK, 4) + clock(SEC[60]) + clock(SEC[10])
    p["active_open_refused"] = config() + app(OP_CONNECT, 5) + seg(RST | ACK, 5, S_PEER, A_NXT)
    p["simultaneous_open"] = config() + app(OP_CONNECT, 4) + seg(SYN, 4, S_PEER) \
        + seg(SYN | ACK, 4, S_IRS, A_NXT) + seg(ACK, 4)
    p["retransmission_timeout"] = config(read=1, c2=0x80) + handshake() + app(OP_SEND, 0, 40) \
        + clock(SEC[1]) + clock(SEC[2]) + clock(SEC[5]) + clock(SEC[10]) + clock(SEC[60]) \
        + seg(ACK, ackm=A_UNA)
    p["zero_window_persist"] = config(read=1) + handshake() + seg(ACK, win=1) \
        + app(OP_SEND, 0, 40) + clock(SEC[2]) + clock(SEC[5]) + seg(ACK, win=2, winx=b"\x40") \
        + clock(SEC[10]) + seg(ACK)
    p["time_wait_reuse"] = config(ts=True, fin=1) + handshake(0, O_TS, b"\0") + seg(FIN | ACK, opts=O_TS, optx=b"\0") \
        + seg(ACK, opts=O_TS, optx=b"\0") + clock(SEC[1]) + seg(SYN, seqm=S_DELTA16, seqx=b"\x10\x00", opts=O_TS, optx=b"\0") \
        + seg(ACK, opts=O_TS, optx=b"\0")
    p["server_time_wait_then_syn"] = config(fin=2) + handshake() + seg(FIN | ACK) + seg(ACK) \
        + seg(FIN | ACK, seqm=S_EXP_M1) + seg(SYN, seqm=S_DELTA8, seqx=b"\x40") + clock(SEC[60])
    p["manual_accept_close_listener"] = config(manual_accept=True) + handshake(0) + handshake(1) \
        + app(OP_ACCEPT) + stack(ST_CLOSE_LISTENER) + seg(ACK | PSH, 1, paylen=5) + stack(ST_LISTEN) \
        + handshake(2)
    # (An overlapping retransmission in a chain is tests/fuzz/crashes/fuzz_tcp_input/
    # chain-overlap-queues-headers.)
    p["chained_segments"] = config() + handshake() + seg(ACK | PSH, chain=1, paylen=len_code(512)) \
        + seg(ACK | PSH, chain=3, paylen=LEN_4000) + seg(ACK | PSH, chain=2, paylen=60) \
        + seg(ACK | PSH, seqm=S_EXP_M1, paylen=60)
    p["window_trim_chain"] = config(rcv=1, read=2) + handshake() + seg(ACK | PSH, chain=2, paylen=LEN_4000) \
        + seg(ACK | PSH, chain=1, paylen=len_code(2016)) + app(OP_RECV) + seg(ACK | PSH, chain=2, paylen=LEN_4000)
    p["pool_exhausted"] = config(read=1) + handshake() + stack(ST_HOLD, 2) + app(OP_SEND, 0, 100) \
        + seg(ACK | PSH, paylen=100) + stack(ST_RELEASE) + clock(SEC[1]) + seg(ACK)
    p["keepalive_idle"] = config(c2=0x40 | 0x02) + handshake() + app(OP_KEEPALIVE, 0, 5) \
        + clock(SEC[10]) + clock(SEC[10]) + seg(ACK, seqm=S_EXP_M1) + clock(SEC[60])
    p["close_wait_timeout_linger"] = config(c2=0x01) + handshake() + app(OP_LINGER, 0, 20) \
        + seg(FIN | ACK) + clock(SEC[5]) + handshake(1) + app(OP_LINGER, 1, 30) + app(OP_SEND, 1, 3) \
        + app(OP_CLOSE, 1) + clock(SEC[5])
    p["closed_port_and_address"] = config() + seg(SYN, 6, S_PEER) + seg(ACK | PSH, 7, paylen=10) \
        + seg(RST, 6) + seg(FIN, 6, S_ABS, seqx=b"\x80\0\0\0")
    p["small_tables_many_syns"] = config(small=True) + b"".join(seg(SYN, i, S_PEER) for i in range(4)) \
        + b"".join(seg(ACK, i) for i in range(4)) + app(OP_CLOSE, 0) + app(OP_CLOSE, 1) \
        + seg(FIN | ACK, 0) + seg(FIN | ACK, 1) + seg(ACK, 0) + seg(ACK, 1)
    p["mbuf_api"] = config(recv_mbuf=True, send_mbuf=True) + handshake() + seg(ACK | PSH, paylen=120) \
        + seg(ACK) + app(OP_PEEK, 0, 2) + app(OP_RECV_MBUF, 0, 1) + app(OP_SEND_MBUF, 0, 100) \
        + seg(ACK) + app(OP_NODELAY, 0, 1) + app(OP_SEND, 0, 3)
    p["sack_and_dupacks"] = config(read=1) + handshake(0, O_SACKOK | O_MSS, b"\0") + app(OP_SEND, 0, 120) \
        + seg(ACK, ackm=A_UNA, opts=O_SACK, optx=b"\x01\x01\x10\x02\x10") + seg(ACK, ackm=A_UNA) \
        + seg(ACK, ackm=A_UNA) + seg(ACK, ackm=A_UNA) + seg(ACK, ackm=A_DELTA8, ackx=b"\x20") + seg(ACK)
    p["reset_all"] = config() + handshake() + handshake(1) + stack(ST_NOT_ACCEPTING) + seg(SYN, 2, S_PEER) \
        + stack(ST_ACCEPTING) + stack(ST_RESET_ALL)
    # input_burst: connections opened, reordered and closed within one burst (the table changes
    # under the burst's lookups), then an out-of-order hole filled by the next burst.
    p["bursts"] = config(fin=1) + handshake() + handshake(1) + stack(ST_BURST, 1) \
        + seg(SYN, 2, S_PEER) + seg(ACK, 2) + seg(ACK | PSH, 0, S_DELTA16, seqx=b"\x00\x10", paylen=64) \
        + seg(ACK | PSH, 1, paylen=100) + seg(FIN | ACK, 1) + seg(RST, 0, S_DELTA8, seqx=b"\x02") \
        + clock(1) + seg(ACK | PSH, 0, paylen=len_code(128)) + seg(FIN | ACK, 0) + seg(ACK, 1) \
        + stack(ST_BURST, 0) + seg(ACK, 0)
    return p


def write(target, seeds):
    d = os.path.join(OUT, target)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    total = 0
    for name, data in sorted(seeds.items()):
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
        total += len(data)
    return len(seeds), total


def main():
    n1, b1 = write("fuzz_parse", parse_seeds())
    n2, b2 = write("fuzz_tcp_input", programs())
    print(f"fuzz_parse: {n1} seeds, {b1} bytes; fuzz_tcp_input: {n2} seeds, {b2} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
