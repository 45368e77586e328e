#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""What tcpterm did during a pktgen run, from its own telemetry.

  tcpterm-delta.py snapshot --prefix P FILE      save /tcpterm/stats, /tcpterm/workers, /tcpterm/conns
  tcpterm-delta.py diff BEFORE AFTER [--json]    counters that changed, grouped as tcpterm-ctl stats

Uses app/tcpterm-ctl (raw telemetry commands), so it needs only Python's standard library.
"""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CTL = os.path.join(HERE, "..", "..", "app", "tcpterm-ctl")
COMMANDS = ["/tcpterm/stats", "/tcpterm/workers", "/tcpterm/conns"]


def raw(prefix, cmd):
    out = subprocess.run([sys.executable, CTL, "--prefix", prefix, "raw", cmd],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)[cmd]


def snapshot(args):
    snap = {cmd: raw(args.prefix, cmd) for cmd in COMMANDS}
    with open(args.file, "w") as f:
        json.dump(snap, f)


def flatten(prefix, v, out):
    if isinstance(v, dict):
        for k, x in v.items():
            flatten(f"{prefix}.{k}" if prefix else k, x, out)
    elif isinstance(v, (int, float)) and not isinstance(v, bool):
        out[prefix] = v


def diff(args):
    with open(args.before) as f:
        before = json.load(f)
    with open(args.after) as f:
        after = json.load(f)
    b, a = {}, {}
    for cmd in COMMANDS:
        name = cmd.rsplit("/", 1)[1]
        flatten(name, before.get(cmd, {}), b)
        flatten(name, after.get(cmd, {}), a)
    gauges = ("conns.", "workers.0.lcore", "busy_percent", "cycles_per_packet")
    changed = {}
    for k, v in a.items():
        if k.startswith(gauges) or k.endswith(gauges):
            if v:
                changed[k] = v  # a gauge: its value after the run
            continue
        d = v - b.get(k, 0)
        if d:
            changed[k] = d
    if args.json:
        json.dump(changed, sys.stdout, indent=1, sort_keys=True)
        print()
        return
    for k in sorted(changed):
        print(f"  {k:60s} {changed[k]:>14,}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("snapshot")
    s.add_argument("--prefix", default="pgterm")
    s.add_argument("file")
    s.set_defaults(func=snapshot)
    d = sub.add_parser("diff")
    d.add_argument("before")
    d.add_argument("after")
    d.add_argument("--json", action="store_true")
    d.set_defaults(func=diff)
    args = p.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
