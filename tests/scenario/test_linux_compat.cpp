// The Linux-compatibility knobs of TcpConfig (issue 6): sack_permitted, push_policy = linux_like
// and quickack_start. Each is off by default and changes nothing then; with it on, the segments
// are those Linux sends (the packetdrill adapter's profile).
#include "harness.hpp"

#include <catch2/catch.hpp>

#include <rte_byteorder.h>
#include <rte_mbuf.h>

#include <cstring>
#include <string>

using namespace tcpterm;
using namespace tcpterm::test;
using tcp::State;

namespace {

/// The peer sends a segment with any options (the harness's PeerOpts has no SACK).
void peer_raw(Scenario& sc, std::uint8_t flags, std::uint32_t seq, std::uint32_t ack,
              const TcpOptions& opts, std::uint16_t win = 65535, const std::string& data = "") {
    rte_mbuf* m = rte_pktmbuf_alloc(sc.pool());
    REQUIRE(m != nullptr);
    if (!data.empty()) {
        char* p = rte_pktmbuf_append(m, static_cast<std::uint16_t>(data.size()));
        REQUIRE(p != nullptr);
        std::memcpy(p, data.data(), data.size());
    }
    TcpFields f;
    f.tuple.laddr = rte_cpu_to_be_32(Scenario::kPeerIp);
    f.tuple.raddr = rte_cpu_to_be_32(Scenario::kEngineIp);
    f.tuple.lport = rte_cpu_to_be_16(Scenario::kPeerPort);
    f.tuple.rport = rte_cpu_to_be_16(Scenario::kEnginePort);
    f.seq = seq;
    f.ack = ack;
    f.flags = flags;
    f.window = win;
    f.syn_options = flags & kSyn;
    f.opts = opts;
    REQUIRE(prepend_ipv4_tcp(m, f, Checksum::software));
    sc.inject(m);
}

/// A SYN's options: MSS, and SACK-permitted and timestamps as asked.
TcpOptions syn_opts(std::uint16_t mss, bool sack, bool ts = false) {
    TcpOptions o;
    o.has_mss = true;
    o.mss = mss;
    o.sack_permitted = sack;
    if (ts) {
        o.has_ts = true;
        o.ts_val = 100;
    }
    return o;
}

tcp::StackConfig linux_cfg(bool sack, bool push, bool quick) {
    tcp::StackConfig cfg = Scenario::defaults();
    cfg.tcp.sack_permitted = sack;
    cfg.tcp.push_policy = push ? tcp::PushPolicy::linux_like : tcp::PushPolicy::queue_empty;
    cfg.tcp.quickack_start = quick;
    return cfg;
}

/// Passive open with the peer's MSS and window (no window scaling: the scenario default).
tcp::Tcb* open_with(Scenario& sc, std::uint16_t mss, std::uint16_t win) {
    sc.peer(kSyn, 1000, 0, {.win = win, .mss = mss});
    sc.expect(kSyn | kAck, sc.e(0), 1001);
    sc.peer(kAck, 1001, sc.e(1), {.win = win});
    REQUIRE(sc.app.conns.size() == 1);
    return sc.app.conns[0];
}

} // namespace

TEST_CASE("linux compat: by default sackOK, PSH when the queue empties, delayed ACK",
          "[linux_compat]") {
    Scenario sc;
    peer_raw(sc, kSyn, 1000, 0, syn_opts(1000, true));
    Out sa = sc.expect(kSyn | kAck, sc.e(0), 1001);
    CHECK(sa.opts.has_mss);
    CHECK(sa.opts.sack_permitted);
    sc.peer(kAck, 1001, sc.e(1), {.win = 3000});
    tcp::Tcb* c = sc.app.conns.at(0);
    CHECK(c->sack_ok);
    // A lone first segment waits for the delayed-ACK timer.
    sc.peer(kAck | kPsh, 1001, sc.e(1), {.win = 3000, .data = "hello"});
    sc.expect_none();
    sc.advance(ms(40));
    sc.expect(kAck, sc.e(1), 1006);
    // 5000 bytes into a 3000-byte window: PSH only on the segment that empties the queue.
    const std::string big(5000, 'z');
    CHECK(sc.stack.send(*c, big.data(), big.size()) == 5000);
    sc.expect(kAck, sc.e(1), 1006);
    sc.expect(kAck, sc.e(1001), 1006);
    sc.expect(kAck, sc.e(2001), 1006);
    sc.expect_none();
    sc.peer(kAck, 1006, sc.e(3001), {.win = 3000});
    sc.expect(kAck, sc.e(3001), 1006);
    sc.expect(kAck | kPsh, sc.e(4001), 1006);
    sc.expect_none();
}

TEST_CASE("sack_permitted: the SYN-ACK offers sackOK back only when the SYN had it",
          "[linux_compat]") {
    tcp::StackConfig cfg = linux_cfg(true, false, false);
    cfg.tcp.timestamps = true;
    SECTION("with timestamps: <mss 1460, sackOK, TS val X ecr 100>") {
        Scenario sc(cfg);
        peer_raw(sc, kSyn, 1000, 0, syn_opts(1460, true, true));
        Out sa = sc.expect(kSyn | kAck, sc.e(0), 1001);
        CHECK(sa.opts.has_mss);
        CHECK(sa.opts.mss == 1460);
        CHECK(sa.opts.sack_permitted);
        CHECK(sa.opts.has_ts);
        CHECK(sa.opts.ts_ecr == 100);
        CHECK_FALSE(sa.opts.has_wscale);
        sc.peer(kAck, 1001, sc.e(1), {.ts = true, .ts_val = 101, .ts_ecr = sa.opts.ts_val});
        REQUIRE(sc.app.conns.size() == 1);
        CHECK(sc.app.conns[0]->sack_ok);
    }
    SECTION("without timestamps: <mss 1460, nop, nop, sackOK>") {
        Scenario sc(cfg);
        peer_raw(sc, kSyn, 1000, 0, syn_opts(1460, true));
        Out sa = sc.expect(kSyn | kAck, sc.e(0), 1001);
        CHECK(sa.opts.sack_permitted);
        CHECK_FALSE(sa.opts.has_ts);
    }
    SECTION("the SYN did not offer it: no sackOK") {
        Scenario sc(cfg);
        peer_raw(sc, kSyn, 1000, 0, syn_opts(1460, false, true));
        Out sa = sc.expect(kSyn | kAck, sc.e(0), 1001);
        CHECK_FALSE(sa.opts.sack_permitted);
        CHECK(sa.opts.has_ts);
    }
    SECTION("a retransmitted SYN-ACK offers it again") {
        Scenario sc(cfg);
        peer_raw(sc, kSyn, 1000, 0, syn_opts(1460, true));
        CHECK(sc.expect(kSyn | kAck, sc.e(0), 1001).opts.sack_permitted);
        sc.advance(sec(1));
        CHECK(sc.expect(kSyn | kAck, sc.e(0), 1001).opts.sack_permitted);
    }
}

TEST_CASE("sack_permitted: an active open offers it; the SYN-ACK decides", "[linux_compat]") {
    for (const bool peer_sack : {true, false}) {
        Scenario sc(linux_cfg(true, false, false), false);
        tcp::Tcb* c = sc.stack.connect(sc.tuple(), &sc.app, nullptr);
        REQUIRE(c != nullptr);
        Out syn = sc.expect(kSyn, sc.e(0), 0);
        CHECK(syn.opts.sack_permitted);
        peer_raw(sc, kSyn | kAck, 7000, sc.e(1), syn_opts(1460, peer_sack));
        sc.expect(kAck, sc.e(1), 7001);
        CHECK(c->state == State::established);
        CHECK(c->sack_ok == peer_sack);
    }
    // Not offered with sack_permitted = false.
    Scenario sc(linux_cfg(false, false, false), false);
    tcp::Tcb* c = sc.stack.connect(sc.tuple(), &sc.app, nullptr);
    REQUIRE(c != nullptr);
    CHECK_FALSE(sc.expect(kSyn, sc.e(0), 0).opts.sack_permitted);
}

TEST_CASE("sack_permitted: the scoreboard marks the head lost only past DupThresh; the third "
          "duplicate ACK resends it alone",
          "[linux_compat]") {
    Scenario sc(linux_cfg(true, false, false));
    peer_raw(sc, kSyn, 1000, 0, syn_opts(1000, true));
    CHECK(sc.expect(kSyn | kAck, sc.e(0), 1001).opts.sack_permitted);
    sc.peer(kAck, 1001, sc.e(1));
    tcp::Tcb* c = sc.app.conns.at(0);
    REQUIRE(c->sack_ok);
    const std::string data(4000, 'd');
    CHECK(sc.stack.send(*c, data.data(), data.size()) == 4000);
    sc.expect(kAck, sc.e(1), 1001);
    sc.expect(kAck, sc.e(1001), 1001);
    sc.expect(kAck, sc.e(2001), 1001);
    sc.expect(kAck | kPsh, sc.e(3001), 1001);
    // The first segment is lost: three duplicate ACKs whose SACK blocks cover the rest.
    for (std::uint32_t n = 1; n <= 3; ++n) {
        TcpOptions o;
        o.sack_count = 1;
        o.sack[0] = {sc.e(1001), sc.e(1001 + 1000 * n)};
        peer_raw(sc, kAck, 1001, sc.e(1), o);
        if (n < 3) {
            sc.expect_none(); // 1000 and 2000 bytes SACKed: not more than 2 * SMSS, not lost
        }
    }
    // The third: 3000 bytes SACKed above the head, and three duplicates. Only the head is
    // missing and cwnd (ssthresh: 0.7 * 4000) less pipe (the resent head) leaves no room.
    Out r = sc.expect(kAck, sc.e(1), 1001);
    CHECK(r.payload.size() == 1000);
    sc.expect_none();
    sc.peer(kAck, 1001, sc.e(4001));
    sc.expect_none();
    CHECK(c->snd.una == sc.e(4001));
}

TEST_CASE("sack_permitted: a SYN-cookie SYN-ACK keeps SACK in the TSval, as Linux does",
          "[linux_compat]") {
    tcp::StackConfig cfg = linux_cfg(true, false, false);
    cfg.tcp.syncookies = 2;
    cfg.tcp.timestamps = true;
    SECTION("without timestamps there is no room for it") {
        Scenario sc(cfg);
        peer_raw(sc, kSyn, 1000, 0, syn_opts(1460, true));
        Out sa = sc.expect(kSyn | kAck, sc.e(0), 1001);
        CHECK(sa.opts.has_mss);
        CHECK_FALSE(sa.opts.sack_permitted);
        sc.peer(kAck, 1001, sa.seq + 1);
        REQUIRE(sc.app.conns.size() == 1);
        CHECK_FALSE(sc.app.conns[0]->sack_ok);
    }
    for (const bool offered : {true, false}) {
        DYNAMIC_SECTION("with timestamps, SACK offered: " << offered) {
            Scenario sc(cfg);
            peer_raw(sc, kSyn, 1000, 0, syn_opts(1460, offered, true));
            Out sa = sc.expect(kSyn | kAck, sc.e(0), 1001);
            CHECK(sa.opts.sack_permitted == offered);
            CHECK(((sa.opts.ts_val & 0x10) != 0) == offered);
            sc.peer(kAck, 1001, sa.seq + 1, {.ts = true, .ts_val = 101, .ts_ecr = sa.opts.ts_val});
            REQUIRE(sc.app.conns.size() == 1);
            CHECK(sc.stats()[tcp::Counter::syncookies_validated] == 1);
            CHECK(sc.app.conns[0]->sack_ok == offered);
        }
    }
}

TEST_CASE("push linux: a small window makes one-segment skbs, forced push every half window",
          "[linux_compat]") {
    // Linux: size_goal is one segment (half of the 3000-byte window is under two); the second
    // skb takes write_seq past pushed_seq + 1500 (forced_push), the fourth past 2001 + 1500, and
    // the call's last skb is marked by tcp_push.
    Scenario sc(linux_cfg(false, true, false));
    tcp::Tcb* c = open_with(sc, 1000, 3000);
    const std::string big(5000, 'z');
    CHECK(sc.stack.send(*c, big.data(), big.size()) == 5000);
    sc.expect(kAck, sc.e(1), 1001);
    sc.expect(kAck | kPsh, sc.e(1001), 1001);
    sc.expect(kAck, sc.e(2001), 1001);
    sc.expect_none();
    sc.peer(kAck, 1001, sc.e(3001), {.win = 3000});
    sc.expect(kAck | kPsh, sc.e(3001), 1001);
    sc.expect(kAck | kPsh, sc.e(4001), 1001);
    sc.expect_none();
}

TEST_CASE("push linux: PSH on the last segment of each TSO-sized piece of a burst",
          "[linux_compat]") {
    // An 8000-byte window: size_goal 4000. Linux queues two 4000-byte skbs, sends each as a TSO
    // packet (PSH forced on a packet of several segments) and the second is the call's end.
    Scenario sc(linux_cfg(false, true, false));
    tcp::Tcb* c = open_with(sc, 1000, 8000);
    const std::string data(8000, 'p');
    CHECK(sc.stack.send(*c, data.data(), data.size()) == 8000);
    for (std::uint32_t i = 0; i < 8; ++i) {
        const bool psh = i == 3 || i == 7;
        sc.expect(kAck | (psh ? kPsh : 0), sc.e(1 + 1000 * i), 1001);
    }
    sc.expect_none();

    // The same write under the default policy: PSH only where the queue empties.
    Scenario dflt;
    tcp::Tcb* d = open_with(dflt, 1000, 8000);
    CHECK(dflt.stack.send(*d, data.data(), data.size()) == 8000);
    for (std::uint32_t i = 0; i < 8; ++i) {
        dflt.expect(kAck | (i == 7 ? kPsh : 0), dflt.e(1 + 1000 * i), 1001);
    }
}

TEST_CASE("push linux: a burst cut by the congestion window ends with PSH", "[linux_compat]") {
    // 15000 bytes, the initial window of 10 segments: Linux sends 1:10001 as one TSO packet (PSH
    // forced), the rest (marked by tcp_push) after the ACK. Single segments get no PSH.
    Scenario sc(linux_cfg(false, true, false));
    tcp::Tcb* c = open_with(sc, 1000, 65535);
    const std::string data(15000, 'q');
    CHECK(sc.stack.send(*c, data.data(), data.size()) == 15000);
    for (std::uint32_t i = 0; i < 10; ++i) {
        sc.expect(kAck | (i == 9 ? kPsh : 0), sc.e(1 + 1000 * i), 1001);
    }
    sc.expect_none();
    sc.peer(kAck, 1001, sc.e(1001)); // one segment acked: room for two
    sc.expect(kAck, sc.e(10001), 1001);
    sc.expect(kAck | kPsh, sc.e(11001), 1001);
    sc.expect_none();
    sc.peer(kAck, 1001, sc.e(2001)); // two more (slow start: cwnd 12 segments)
    sc.expect(kAck, sc.e(12001), 1001);
    sc.expect(kAck | kPsh, sc.e(13001), 1001);
    sc.expect_none();
    sc.peer(kAck, 1001, sc.e(3001));
    sc.expect(kAck | kPsh, sc.e(14001), 1001); // the end of the call
    sc.expect_none();
}

TEST_CASE("push linux: small writes behind Nagle carry PSH at the end of the latest write",
          "[linux_compat]") {
    Scenario sc(linux_cfg(false, true, false));
    tcp::Tcb* c = open_with(sc, 1000, 65535);
    sc.stack.send(*c, "a", 1);
    sc.expect(kAck | kPsh, sc.e(1), 1001);
    sc.stack.send(*c, "b", 1);
    sc.stack.send(*c, "c", 1);
    sc.expect_none(); // Nagle: "a" is unacked
    sc.peer(kAck, 1001, sc.e(2));
    Out o = sc.expect(kAck | kPsh, sc.e(2), 1001);
    CHECK(o.payload == "bc");
    sc.expect_none();
}

TEST_CASE("quickack_start: min(window / (2 * segment), 16) ACKs at once, then delayed",
          "[linux_compat]") {
    SECTION("a 4800-byte window and 600-byte segments: four quick ACKs") {
        tcp::StackConfig cfg = linux_cfg(false, false, true);
        cfg.tcp.rcv_buf = 4800;
        Scenario sc(cfg);
        sc.peer(kSyn, 1000, 0, {.mss = 1000});
        Out sa = sc.expect(kSyn | kAck, sc.e(0), 1001);
        CHECK(sa.window == 4800);
        sc.peer(kAck, 1001, sc.e(1));
        tcp::Tcb* c = sc.app.conns.at(0);
        const std::string seg(600, 'x');
        std::uint32_t seq = 1001;
        for (int i = 1; i <= 4; ++i) {
            sc.peer(kAck | kPsh, seq, sc.e(1), {.data = seg});
            seq += 600;
            sc.expect(kAck, sc.e(1), seq); // 4800 / (2 * 600) = 4 at once
            CHECK(c->quick_acks == 4 - i);
        }
        sc.peer(kAck | kPsh, seq, sc.e(1), {.data = seg});
        sc.expect_none(); // quick-ACK mode is over: the delayed ACK
        sc.advance(ms(40));
        sc.expect(kAck, sc.e(1), seq + 600);
    }
    SECTION("a 64 KB window: sixteen, whatever the segments' size") {
        Scenario sc(linux_cfg(false, false, true));
        sc.handshake();
        std::uint32_t seq = 1001;
        for (int i = 0; i < 16; ++i) {
            sc.peer(kAck | kPsh, seq, sc.e(1), {.data = "0123456789"});
            seq += 10;
            sc.expect(kAck, sc.e(1), seq);
        }
        sc.peer(kAck | kPsh, seq, sc.e(1), {.data = "0123456789"});
        sc.expect_none();
        sc.advance(ms(40));
        sc.expect(kAck, sc.e(1), seq + 10);
    }
    SECTION("ACKs riding on data do not use the count") {
        Scenario sc(linux_cfg(false, false, true));
        tcp::Tcb* c = sc.handshake();
        sc.peer(kAck | kPsh, 1001, sc.e(1), {.data = "ping"});
        sc.expect(kAck, sc.e(1), 1005);
        CHECK(c->quick_acks == 15);
        sc.stack.send(*c, "pong", 4);
        sc.expect(kAck | kPsh, sc.e(1), 1005); // no ACK was owed
        CHECK(c->quick_acks == 15);
    }
}

// Found by the corpus run (ioctl/ioctl-siocinq-fin.pkt): with a receive buffer larger than the
// unscaled window field, every read announced a "window update" whose window had not changed.
TEST_CASE("window update: none for a buffer beyond what the window field carries",
          "[linux_compat]") {
    tcp::StackConfig cfg = Scenario::defaults(); // no window scaling
    cfg.tcp.rcv_buf = 200'000;
    Scenario sc(cfg);
    sc.handshake();
    sc.peer(kAck | kPsh, 1001, sc.e(1), {.data = "hello"});
    CHECK(sc.app.received == "hello");
    sc.expect_none(); // the read frees 5 bytes; the window stays 65535: no ACK for that
    sc.advance(ms(40));
    Out a = sc.expect(kAck, sc.e(1), 1006);
    CHECK(a.window == 65535);
}
