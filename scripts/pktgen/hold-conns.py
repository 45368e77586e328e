#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Kernel client for the "known flow" pktgen scripts (flood-known.lua, run.sh known-*).

Opens --conns connections from --src (default 198.18.2.2, the kernel side of tcpterm's tap port
pgtap0) bound to local ports --sport, --sport+1, ... to --dst:--dport (tcpterm's http service
at 198.18.2.1:80), sends one request on each and reads the response, so every connection is
ESTABLISHED with data exchanged, then prints "holding N connections" and waits. pktgen then
spoofs these four-tuples. On SIGUSR1 it checks every connection with one more request (a
connection that was reset or closed fails) and exits; SIGTERM exits without checking.
Standard library only.
"""
import argparse
import json
import signal
import socket
import sys
import time

REQUEST = b"GET / HTTP/1.1\r\nHost: tcpterm\r\n\r\n"


def read_response(s, timeout):
    """One HTTP response (headers + Content-Length body); returns its size or raises."""
    s.settimeout(timeout)
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            raise ConnectionError("closed by peer")
        buf += chunk
    head, body = buf.split(b"\r\n\r\n", 1)
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    while len(body) < length:
        chunk = s.recv(4096)
        if not chunk:
            raise ConnectionError("closed by peer")
        body += chunk
    return len(head) + 4 + length


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--conns", type=int, default=16)
    ap.add_argument("--src", default="198.18.2.2")
    ap.add_argument("--sport", type=int, default=40000)
    ap.add_argument("--dst", default="198.18.2.1")
    ap.add_argument("--dport", type=int, default=80)
    ap.add_argument("--status", help="write the final check as JSON to this file")
    args = ap.parse_args()

    socks = []
    for i in range(args.conns):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((args.src, args.sport + i))
        s.settimeout(5)
        s.connect((args.dst, args.dport))
        s.sendall(REQUEST)
        read_response(s, 5)
        socks.append(s)
    print(f"holding {len(socks)} connections {args.src}:{args.sport}-{args.sport + len(socks) - 1}"
          f" -> {args.dst}:{args.dport}", flush=True)

    check = {"requested": False}

    def on_usr1(signum, frame):
        check["requested"] = True

    def on_term(signum, frame):
        sys.exit(0)

    signal.signal(signal.SIGUSR1, on_usr1)
    signal.signal(signal.SIGTERM, on_term)
    while not check["requested"]:
        time.sleep(0.2)

    ok, failed = 0, {}
    for i, s in enumerate(socks):
        try:
            s.sendall(REQUEST)
            read_response(s, 3)
            ok += 1
        except (OSError, ConnectionError) as e:
            failed[args.sport + i] = type(e).__name__ + ": " + str(e)
    for s in socks:
        s.close()
    result = {"conns": len(socks), "still_working": ok, "failed": failed}
    print(f"check: {ok}/{len(socks)} connections still answer a request"
          + (f"; failed: {failed}" if failed else ""), flush=True)
    if args.status:
        with open(args.status, "w") as f:
            json.dump(result, f)
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
