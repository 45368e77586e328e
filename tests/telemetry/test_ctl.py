#!/usr/bin/env python3
"""tcpterm-ctl's formatting on canned telemetry replies (no socket, standard library only)."""
import importlib.machinery
import importlib.util
import io
import json
import os
import unittest
from unittest import mock

HERE = os.path.dirname(os.path.abspath(__file__))
CTL = os.path.join(HERE, "..", "..", "app", "tcpterm-ctl")


def load_ctl():
    loader = importlib.machinery.SourceFileLoader("tcpterm_ctl", CTL)
    spec = importlib.util.spec_from_loader("tcpterm_ctl", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


ctl = load_ctl()

STATES = {"closed": 0, "listen": 2, "syn_sent": 0, "syn_recv": 1, "established": 7,
          "fin_wait1": 0, "fin_wait2": 9, "close_wait": 4, "closing": 0, "last_ack": 0,
          "time_wait": 123}

CONNS_TW = {"state": "time_wait", "total": 3, "errors": ["worker 1: no answer"],
            "conns": ["10.0.0.1:80 10.0.0.3:40001 time_wait 0 0 0",
                      "10.0.0.1:80 192.168.100.200:65000 time_wait 5 17 0"],
            "returned": 2}

STATS = {"counters": {"segs_in": 1234, "segs_out": 0, "tw_reused": 3},
         "timers": {"timer_rtx": 0, "timer_fin_wait2": 7},
         "rst_sent": {"rst_sent_app_abort": 2},
         "rst_received": {"rst_received_established": 0},
         "drops": {"drop_out_of_window": 12},
         "net_drops": {"net_drop_bad_tcp_csum": 0},
         "transitions": {"trans_established_fin_wait1": 10},
         "worker": {"worker_rx_packets": 500, "worker_loops": 0}}

WORKERS = {"1": {"lcore": 2, "loops": 10, "busy_cycles": 300, "idle_cycles": 100,
                 "busy_percent": 75, "rx_packets": 3, "tx_packets": 0, "tx_dropped": 0,
                 "cycles_per_packet": 100},
           "0": {"lcore": 1, "loops": 5, "busy_cycles": 0, "idle_cycles": 10,
                 "busy_percent": 0, "rx_packets": 0, "tx_packets": 0, "tx_dropped": 0,
                 "cycles_per_packet": 0}}


class States(unittest.TestCase):
    def test_state_spellings(self):
        for name in ("time-wait", "time_wait", "TIME-WAIT", "timewait"):
            self.assertEqual(ctl.state_key(name), "time_wait")
        self.assertEqual(ctl.state_key("estab"), "established")
        self.assertEqual(ctl.state_key("established"), "established")
        self.assertEqual(ctl.state_key("listening"), "listen")
        self.assertEqual(ctl.state_key("fin-wait-2"), "fin_wait2")
        self.assertIsNone(ctl.state_key("bogus"))
        for key, ss in ctl.STATES:
            self.assertEqual(ctl.state_key(key), key)
            self.assertEqual(ctl.state_key(ss), key)

    def test_state_filter(self):
        self.assertEqual(ctl.state_filter("close-wait"), ["close_wait"])
        self.assertEqual(len(ctl.state_filter("all")), 11)
        self.assertNotIn("listen", ctl.state_filter("connected"))
        self.assertNotIn("syn_sent", ctl.state_filter("synchronized"))
        with self.assertRaises(ctl.CtlError):
            ctl.state_filter("nonsense")

    def test_summary(self):
        out = ctl.format_ss_summary(STATES)
        lines = out.splitlines()
        self.assertEqual(lines[0], "TCP:   146 (estab 7, closed 0, timewait 123)")
        self.assertEqual(lines[1], "")
        self.assertEqual(lines[2], "State      Count")
        self.assertEqual(len(lines), 3 + 11)
        self.assertIn("CLOSE-WAIT     4", lines)
        self.assertIn("FIN-WAIT-2     9", lines)
        self.assertIn("TIME-WAIT    123", lines)
        self.assertEqual(ctl.summary_json(STATES)["states"]["fin_wait2"], 9)
        # Missing keys read as zero.
        self.assertIn("TCP:   0 (", ctl.format_ss_summary({}))


class Conns(unittest.TestCase):
    def test_ss_state(self):
        data = ctl.conns_json([CONNS_TW])
        out = ctl.format_ss_state(data).splitlines()
        self.assertEqual(out[0], "State     Recv-Q Send-Q Local Address:Port Peer Address:Port")
        self.assertEqual(out[1], "TIME-WAIT 0      0      10.0.0.1:80        10.0.0.3:40001")
        self.assertEqual(out[2], "TIME-WAIT 17     5      10.0.0.1:80        192.168.100.200:65000")
        self.assertEqual(out[3], "(2 of 3 connections listed: a request returns a bounded sample)")
        self.assertEqual(out[4], "(worker 1: no answer)")

    def test_json(self):
        data = ctl.conns_json([CONNS_TW])
        self.assertEqual(data["total"], 3)
        self.assertEqual(data["conns"][1], {"local": "10.0.0.1:80", "peer": "192.168.100.200:65000",
                                            "state": "time_wait", "send_q": 5, "recv_q": 17,
                                            "worker": 0})
        json.dumps(data)

    def test_client_side_filter(self):
        reply = dict(CONNS_TW, conns=CONNS_TW["conns"] + ["1.2.3.4:1 5.6.7.8:2 listen 0 0 1"])
        data = ctl.conns_json([reply], {"listen"})
        self.assertEqual([c["state"] for c in data["conns"]], ["listen"])

    def test_empty(self):
        out = ctl.format_ss_state(ctl.conns_json([{"total": 0, "conns": [], "errors": [],
                                                   "returned": 0}]))
        self.assertEqual(out, "State Recv-Q Send-Q Local Address:Port Peer Address:Port")

    def test_bad_entry(self):
        with self.assertRaises(ctl.CtlError):
            ctl.parse_conn("10.0.0.1:80 garbage")


class Stats(unittest.TestCase):
    def test_non_zero_sorted_grouped(self):
        out = ctl.format_stats(STATS)
        self.assertEqual(out.splitlines(), [
            "counters:",
            "  segs_in                      1234",
            "  tw_reused                       3",
            "",
            "timers:",
            "  timer_fin_wait2                 7",
            "",
            "rst_sent:",
            "  rst_sent_app_abort              2",
            "",
            "drops:",
            "  drop_out_of_window             12",
            "",
            "transitions:",
            "  trans_established_fin_wait1    10",
            "",
            "worker:",
            "  worker_rx_packets             500",
        ])

    def test_all(self):
        data = ctl.stats_json(STATS, show_all=True)
        self.assertEqual(list(data["counters"]), ["segs_in", "segs_out", "tw_reused"])
        self.assertEqual(data["net_drops"], {"net_drop_bad_tcp_csum": 0})
        self.assertIn("segs_out", ctl.format_stats(STATS, show_all=True))

    def test_all_zero(self):
        self.assertIn("--all", ctl.format_stats({"counters": {"segs_in": 0}}))


class Workers(unittest.TestCase):
    def test_lines(self):
        out = ctl.format_workers(WORKERS).splitlines()
        self.assertEqual(out[0], "Worker Lcore Busy% Loops RX-pkts TX-pkts TX-drop Cycles/pkt")
        self.assertEqual(out[1], "     0     1     0     5       0       0       0          0")
        self.assertEqual(out[2], "     1     2    75    10       3       0       0        100")
        self.assertEqual(len(out), 3)

    def test_omitted(self):
        data = dict(WORKERS, omitted=40)
        self.assertEqual(ctl.workers_json(data)["omitted"], 40)
        self.assertIn("40 more workers", ctl.format_workers(data))


class Errors(unittest.TestCase):
    def test_error_reply(self):
        with self.assertRaises(ctl.CtlError) as e:
            ctl.reply_value({"/tcpterm/conns": None}, "/tcpterm/conns,bogus")
        self.assertIn("telemetry error reply to /tcpterm/conns,bogus", str(e.exception))
        self.assertEqual(ctl.reply_value({"/tcpterm/states": STATES}, "/tcpterm/states"), STATES)

    def test_no_socket(self):
        with mock.patch.dict(os.environ, {"RUNTIME_DIRECTORY": "/nonexistent-tcpterm"}), \
                mock.patch("sys.stderr", new_callable=io.StringIO) as err:
            self.assertEqual(ctl.main(["--prefix", "nope", "ss", "-s"]), 1)
        self.assertIn("is tcpterm running? no socket at "
                      "/nonexistent-tcpterm/dpdk/nope/dpdk_telemetry.v2", err.getvalue())

    def test_options_after_command(self):
        args = ctl.build_parser().parse_args(["stats", "--all", "--json", "--prefix", "x"])
        self.assertTrue(args.all and args.json)
        self.assertEqual(args.prefix, "x")


if __name__ == "__main__":
    unittest.main()
