// Hardening: SYN cookies (RFC 4987, Linux's encoding), PAWS (RFC 7323) on connections and in
// TIME_WAIT, and SipHash ISNs (RFC 6528).
#include "harness.hpp"

#include <catch2/catch.hpp>

#include <rte_byteorder.h>
#include <rte_mbuf.h>

#include <cstring>

using namespace tcpterm;
using namespace tcpterm::test;
using tcp::Counter;
using tcp::State;

TEST_CASE("SYN cookies always on: no state until the ACK, then a working connection",
          "[hardening]") {
    tcp::StackConfig cfg = Scenario::defaults();
    cfg.tcp.syncookies = 2;
    Scenario sc(cfg);
    sc.peer(kSyn, 1000, 0, {.mss = 1400});
    Out sa = sc.expect(kSyn | kAck, sc.e(0), 1001);
    CHECK(sa.opts.has_mss);
    CHECK_FALSE(sa.opts.has_ts);
    CHECK(sc.stack.tcb_count() == 0); // nothing kept
    CHECK(sc.stats()[Counter::syncookies_sent] == 1);
    sc.peer(kAck, 1001, sa.seq + 1);
    CHECK(sc.stats()[Counter::syncookies_validated] == 1);
    REQUIRE(sc.app.conns.size() == 1);
    tcp::Tcb* c = sc.app.conns[0];
    CHECK(c->state == State::established);
    CHECK(c->mss == 1300); // 1400 rounds down to the cookie table's 1300
    sc.peer(kAck | kPsh, 1001, sa.seq + 1, {.data = "hi"});
    CHECK(sc.app.received == "hi");
    sc.stack.send(*c, "yo", 2);
    Out d = sc.expect(kAck | kPsh, sa.seq + 1, 1003);
    CHECK(d.payload == "yo");
}

TEST_CASE("SYN cookies: a forged or stale cookie is refused with RST", "[hardening]") {
    tcp::StackConfig cfg = Scenario::defaults();
    cfg.tcp.syncookies = 2;
    Scenario sc(cfg);
    sc.peer(kSyn, 1000, 0, {.mss = 1460});
    Out sa = sc.expect(kSyn | kAck, sc.e(0), 1001);
    sc.peer(kAck, 1001, sa.seq + 12345); // forged
    sc.expect(kRst, sa.seq + 12345, 0);
    CHECK(sc.stats()[Counter::syncookies_failed] == 1);
    sc.advance(sec(64 * 3));                      // three 64 s periods later the cookie has expired
    sc.peer(kSyn, 5000, 0, {.mss = 1460}, 40001); // keep the listener's cookie window open
    (void)sc.next();
    sc.peer(kAck, 1001, sa.seq + 1);
    sc.expect(kRst, sa.seq + 1, 0);
    CHECK(sc.stats()[Counter::syncookies_failed] == 2);
    CHECK(sc.app.conns.empty());
}

TEST_CASE("SYN cookies carry window scale in the timestamp", "[hardening]") {
    tcp::StackConfig cfg = Scenario::defaults();
    cfg.tcp.syncookies = 2;
    cfg.tcp.timestamps = true;
    cfg.tcp.window_scaling = true;
    cfg.tcp.rcv_buf = 1 << 20;
    Scenario sc(cfg);
    sc.peer(kSyn, 1000, 0, {.win = 65535, .mss = 1460, .wscale = 7, .ts = true, .ts_val = 500});
    Out sa = sc.expect(kSyn | kAck, sc.e(0), 1001);
    REQUIRE(sa.opts.has_ts);
    CHECK((sa.opts.ts_val & 0xF) == 7);
    CHECK(sa.opts.ts_ecr == 500);
    CHECK(sa.opts.has_wscale);
    CHECK(sa.opts.wscale == 5); // 1 MiB receive buffer
    sc.peer(kAck, 1001, sa.seq + 1,
            {.win = 100, .ts = true, .ts_val = 501, .ts_ecr = sa.opts.ts_val});
    REQUIRE(sc.app.conns.size() == 1);
    tcp::Tcb* c = sc.app.conns[0];
    CHECK(c->ws_ok);
    CHECK(c->snd.wscale == 7);
    CHECK(c->snd.wnd == 100u << 7);
    CHECK(c->ts_ok);
    CHECK(c->mss == 1460 - 12);
    // Our later timestamps never go below the one in the SYN-ACK.
    sc.stack.send(*c, "x", 1);
    Out d = sc.next();
    CHECK(tcp::seq_geq(d.opts.ts_val, sa.opts.ts_val));
}

TEST_CASE("SYN cookies on overflow only (syncookies = 1)", "[hardening]") {
    tcp::StackConfig cfg = Scenario::defaults();
    cfg.tcp.syn_backlog = 1;
    Scenario sc(cfg);
    sc.peer(kSyn, 1000, 0, {.mss = 1460}, 40001);
    (void)sc.next();
    CHECK(sc.stack.tcb_count() == 1);
    sc.peer(kSyn, 2000, 0, {.mss = 1460}, 40002);
    Out sa2 = sc.next();
    CHECK(sc.stack.tcb_count() == 1); // the second got a cookie, no state
    CHECK(sc.stats()[Counter::syncookies_sent] == 1);
    sc.peer(kAck, 2001, sa2.seq + 1, {}, 40002);
    CHECK(sc.state(40002) == State::established);
}

namespace {
tcp::Tcb* ts_handshake(Scenario& sc) {
    sc.peer(kSyn, 1000, 0, {.mss = 1460, .ts = true, .ts_val = 1000});
    Out sa = sc.expect(kSyn | kAck, sc.e(0), 1001);
    sc.peer(kAck, 1001, sc.e(1), {.ts = true, .ts_val = 1001, .ts_ecr = sa.opts.ts_val});
    REQUIRE_FALSE(sc.app.conns.empty());
    return sc.app.conns.back();
}
tcp::StackConfig ts_cfg() {
    tcp::StackConfig cfg = Scenario::defaults();
    cfg.tcp.timestamps = true;
    return cfg;
}
} // namespace

TEST_CASE("PAWS: an old timestamp marks a duplicate: ACK, data dropped", "[hardening]") {
    Scenario sc(ts_cfg());
    ts_handshake(sc);
    sc.peer(kAck | kPsh, 1001, sc.e(1), {.ts = true, .ts_val = 1005, .data = "new"});
    CHECK(sc.app.received == "new");
    sc.advance(ms(40));
    (void)sc.next(); // delayed ACK
    sc.peer(kAck | kPsh, 1004, sc.e(1), {.ts = true, .ts_val = 900, .data = "old"});
    Out a = sc.expect(kAck, sc.e(1), 1004);
    CHECK(a.opts.ts_ecr == 1005);
    CHECK(sc.app.received == "new");
    CHECK(sc.stats().drop(tcp::TcpDrop::paws) == 1);
    // A RST with an old timestamp is still processed (RFC 7323 5.3 R1 exempts RST).
    sc.peer(kRst, 1004, 0, {.ts = true, .ts_val = 1});
    CHECK(sc.state() == State::closed);
}

TEST_CASE("PAWS in TIME_WAIT: an old duplicate is ACKed and changes nothing", "[hardening]") {
    Scenario sc(ts_cfg());
    tcp::Tcb* c = ts_handshake(sc);
    sc.stack.close(*c);
    Out fin = sc.expect(kFin | kAck, sc.e(1), 1001);
    sc.peer(kFin | kAck, 1001, sc.e(2), {.ts = true, .ts_val = 2000, .ts_ecr = fin.opts.ts_val});
    sc.expect(kAck, sc.e(2), 1002);
    REQUIRE(sc.state() == State::time_wait);
    sc.peer(kFin | kAck, 1001, sc.e(2), {.ts = true, .ts_val = 1500});
    sc.expect(kAck, sc.e(2), 1002);
    CHECK(sc.stats().drop(tcp::TcpDrop::paws) == 1);
    CHECK(sc.stats()[Counter::tw_reacked] == 0); // not a retransmitted FIN: an old duplicate
}

TEST_CASE("ISN: keyed per four-tuple and moving with the clock (RFC 6528)", "[hardening]") {
    Scenario sc;
    sc.peer(kSyn, 1000, 0, {.mss = 1460}, 40001);
    const std::uint32_t a = sc.next().seq;
    sc.peer(kSyn, 1000, 0, {.mss = 1460}, 40002);
    const std::uint32_t b = sc.next().seq;
    CHECK(a != b);
    sc.advance(sec(1));
    sc.peer(kSyn, 1000, 0, {.mss = 1460}, 40003);
    (void)sc.next();
    tcp::StackConfig other = Scenario::defaults();
    other.secret[0] ^= 1;
    Scenario sc2(other);
    sc2.peer(kSyn, 1000, 0, {.mss = 1460}, 40001);
    CHECK(sc2.next().seq != a); // another secret, another ISN for the same tuple and time
}

TEST_CASE("blind injection (RFC 5961): a sweep of spoofed RSTs and SYNs resets nothing",
          "[hardening]") {
    tcp::StackConfig cfg = Scenario::defaults();
    cfg.tcp.challenge_ack_limit = 100;
    Scenario sc(cfg);
    tcp::Tcb* c = sc.handshake();
    (void)c;
    // 4000 RSTs and 4000 SYNs spread over +-2^31 around RCV.NXT (1001), none exactly at it.
    std::size_t injected = 0;
    for (std::int64_t k = -2000; k < 2000; ++k) {
        const auto seq = static_cast<std::uint32_t>(1001 + k * 1'073'741 + 7);
        sc.peer(kRst, seq, 0);
        sc.peer(kSyn, seq, 0, {.mss = 1460});
        injected += 2;
    }
    CHECK(sc.state() == State::established);
    CHECK(sc.stats()[Counter::conn_reset] == 0);
    // Challenge ACKs within one second stay within the randomised budget (<= 1.5 x limit).
    std::size_t acks = 0;
    while (sc.pending() > 0) {
        Out o = sc.next();
        CHECK(flags_str(o.flags) == flags_str(kAck));
        ++acks;
    }
    CHECK(acks <= 150);
    CHECK(acks >= 50);
    CHECK(sc.stats()[Counter::challenge_acks] == acks);
    CHECK(sc.stats()[Counter::challenge_acks] + sc.stats()[Counter::challenge_acks_limited] +
              sc.stats().drop(tcp::TcpDrop::rst_not_exact) >=
          injected / 2);
    // The real peer can still reset it, at exactly RCV.NXT.
    sc.peer(kRst, 1001, 0);
    CHECK(sc.state() == State::closed);
}

// Regressions found by fuzz_tcp_input (inputs in tests/fuzz/crashes/fuzz_tcp_input/).

TEST_CASE("fuzz regression: a tiny peer MSS with timestamps does not wrap the send MSS",
          "[hardening][fuzz]") {
    Scenario sc(ts_cfg());
    sc.peer(kSyn, 1000, 0, {.mss = 1, .ts = true, .ts_val = 1});
    Out sa = sc.expect(kSyn | kAck, sc.e(0), 1001);
    sc.peer(kAck, 1001, sc.e(1), {.ts = true, .ts_val = 2, .ts_ecr = sa.opts.ts_val});
    REQUIRE_FALSE(sc.app.conns.empty());
    CHECK(sc.app.conns.back()->mss == 48); // Linux's tcp_min_snd_mss
}

TEST_CASE("fuzz regression: a small window with nothing in flight does not stall forever",
          "[hardening][fuzz]") {
    Scenario sc;
    tcp::Tcb* c = sc.handshake();               // max window 65535
    sc.peer(kAck, 1001, sc.e(1), {.win = 100}); // the window shrinks to 100
    sc.stack.send(*c, std::string(1000, 'd').data(), 1000);
    sc.expect_none();   // silly window avoidance holds the 100-byte sliver back...
    sc.stack.close(*c); // ...even for an orphan
    sc.advance(ms(200));
    Out o = sc.next(); // ...until the persist (override) timeout sends what fits
    CHECK(o.payload.size() == 100);
}

TEST_CASE("fuzz regression: recv_mbuf of part of a segment returns just that part",
          "[hardening][fuzz]") {
    Scenario sc;
    sc.app.auto_read = false;
    tcp::Tcb* c = sc.handshake();
    sc.peer(kAck, 1001, sc.e(1), {.data = "0123456789"});
    sc.peer(kAck, 1011, sc.e(1), {.data = "abcdefghij"});
    rte_mbuf* m = sc.stack.recv_mbuf(*c, 4);
    REQUIRE(m != nullptr);
    CHECK(rte_pktmbuf_pkt_len(m) == 4);
    CHECK(m->nb_segs == 1);
    CHECK(std::string(rte_pktmbuf_mtod(m, const char*), 4) == "0123");
    rte_pktmbuf_free(m);
    CHECK(sc.stack.readable(*c) == 16);
    char buf[32];
    const std::size_t n = sc.stack.recv(*c, buf, sizeof buf);
    CHECK(std::string(buf, n) == "456789abcdefghij");
}

TEST_CASE("fuzz regression: overlap reaching past the first segment of a chain queues no headers",
          "[hardening][fuzz]") {
    Scenario sc;
    tcp::Tcb* c = sc.handshake();
    (void)c;
    sc.peer(kAck, 1001, sc.e(1), {.data = std::string(20, 'x')});
    // The same 20 bytes again plus 90 new ones, in a chain whose first segment holds only 10.
    rte_mbuf* m1 = rte_pktmbuf_alloc(sc.pool());
    rte_mbuf* m2 = rte_pktmbuf_alloc(sc.pool());
    REQUIRE(m1);
    REQUIRE(m2);
    std::memset(rte_pktmbuf_append(m1, 10), 'x', 10);
    char* p = rte_pktmbuf_append(m2, 100);
    std::memset(p, 'x', 10);
    std::memset(p + 10, 'N', 90);
    REQUIRE(rte_pktmbuf_chain(m1, m2) == 0);
    TcpFields f;
    f.tuple.laddr = rte_cpu_to_be_32(Scenario::kPeerIp);
    f.tuple.raddr = rte_cpu_to_be_32(Scenario::kEngineIp);
    f.tuple.lport = rte_cpu_to_be_16(Scenario::kPeerPort);
    f.tuple.rport = rte_cpu_to_be_16(Scenario::kEnginePort);
    f.seq = 1001;
    f.ack = sc.e(1);
    f.flags = kAck | kPsh;
    f.window = 65535;
    REQUIRE(prepend_ipv4_tcp(m1, f, Checksum::software));
    sc.inject(m1);
    CHECK(sc.app.received == std::string(20, 'x') + std::string(90, 'N'));
}
