// Loss and reordering: the receiver's out-of-order queue and SACK blocks (RFC 2018), the
// sender's SACK recovery (RFC 6675), the RTO's effect on both, CUBIC (RFC 9438), and the loss
// state pool running dry. Exact segments, time advanced by hand.
#include "harness.hpp"

#include <catch2/catch.hpp>

#include <cmath>

using namespace tcpterm;
using namespace tcpterm::test;

namespace {

/// The peer's byte at sequence number s (so reassembly errors show as wrong bytes).
char byte_at(std::uint32_t s) {
    return static_cast<char>('a' + s % 26);
}
std::string bytes(std::uint32_t from, std::uint32_t to) {
    std::string out;
    for (std::uint32_t s = from; s < to; ++s) {
        out += byte_at(s);
    }
    return out;
}
/// The peer sends [from, to) of its stream (ISN 1000, so byte 1001 is the first).
void send_range(Scenario& sc, std::uint32_t from, std::uint32_t to, std::uint8_t extra = 0) {
    sc.peer(kAck | extra, from, sc.e(1), {.data = bytes(from, to)});
}
void check_sack(const Out& o, std::vector<SackBlock> want) {
    INFO(o.str());
    REQUIRE(o.opts.sack_count == want.size());
    for (std::size_t i = 0; i < want.size(); ++i) {
        CHECK(o.opts.sack[i].left == want[i].left);
        CHECK(o.opts.sack[i].right == want[i].right);
    }
}

tcp::Tcb* sack_handshake(Scenario& sc) {
    tcp::Tcb* c = sc.handshake(1000, {.mss = 1000, .sack_perm = true});
    REQUIRE(c->sack_ok);
    return c;
}

} // namespace

TEST_CASE("ooo: segments beyond RCV.NXT are held and SACKed newest first; filling the hole "
          "delivers them at once with one ACK",
          "[sack]") {
    Scenario sc;
    sack_handshake(sc);
    send_range(sc, 1101, 1201);
    check_sack(sc.expect(kAck, sc.e(1), 1001), {{1101, 1201}}); // at once (RFC 5681 4.2)
    send_range(sc, 1301, 1401);
    check_sack(sc.expect(kAck, sc.e(1), 1001), {{1301, 1401}, {1101, 1201}});
    send_range(sc, 1201, 1301); // joins both blocks
    check_sack(sc.expect(kAck, sc.e(1), 1001), {{1101, 1401}});
    CHECK(sc.app.received.empty());
    send_range(sc, 1001, 1101, kPsh);
    check_sack(sc.expect(kAck, sc.e(1), 1401), {}); // immediate, nothing held any more
    sc.expect_none();
    CHECK(sc.app.received == bytes(1001, 1401));
    CHECK(sc.stats()[tcp::Counter::ooo_queued] == 3);
    CHECK(sc.stats()[tcp::Counter::ooo_bytes] == 300);
    CHECK(sc.stats()[tcp::Counter::bytes_in] == 400);
    CHECK(sc.stats().drop(tcp::TcpDrop::out_of_order) == 0);
}

TEST_CASE("ooo: a FIN held out of order is taken when the hole fills", "[sack]") {
    Scenario sc;
    tcp::Tcb* c = sack_handshake(sc);
    send_range(sc, 1101, 1201, kFin);
    check_sack(sc.expect(kAck, sc.e(1), 1001), {{1101, 1202}}); // the FIN is SACKed too
    CHECK(c->state == State::established);
    CHECK(sc.app.peer_fins == 0);
    send_range(sc, 1001, 1101);
    check_sack(sc.expect(kAck, sc.e(1), 1202), {});
    sc.expect_none();
    CHECK(c->state == State::close_wait);
    CHECK(sc.app.peer_fins == 1);
    CHECK(sc.app.received == bytes(1001, 1201));
}

TEST_CASE("ooo: held without SACK too (no blocks sent); a retransmission of held bytes is "
          "trimmed",
          "[sack]") {
    Scenario sc;
    tcp::Tcb* c = sc.handshake(1000, {.mss = 1000});
    REQUIRE_FALSE(c->sack_ok);
    send_range(sc, 1101, 1201);
    check_sack(sc.expect(kAck, sc.e(1), 1001), {});
    // The sender resends from 1001 through 1201: the held part is not delivered twice.
    send_range(sc, 1001, 1201);
    sc.expect(kAck, sc.e(1), 1201);
    CHECK(sc.app.received == bytes(1001, 1201));
}

TEST_CASE("ooo: overlapping segments merge, duplicates are dropped, a ninth hole is not held",
          "[sack]") {
    Scenario sc;
    sack_handshake(sc);
    // Eight blocks of 10 bytes with 10-byte holes: [1011,1021), [1031,1041), ... [1151,1161).
    for (std::uint32_t k = 0; k < 8; ++k) {
        send_range(sc, 1011 + 20 * k, 1021 + 20 * k);
        Out a = sc.expect(kAck, sc.e(1), 1001);
        REQUIRE(a.opts.sack_count == std::min<std::uint32_t>(k + 1, 4)); // 4 fit without TS
        CHECK(a.opts.sack[0].left == 1011 + 20 * k);
    }
    // A ninth: no block left for it; dropped and counted, the ACK still reports the newest.
    send_range(sc, 1171, 1181);
    Out a = sc.expect(kAck, sc.e(1), 1001);
    CHECK(a.opts.sack[0].left == 1151);
    CHECK(sc.stats().drop(tcp::TcpDrop::out_of_order) == 1);
    // A duplicate of a held block: nothing new, but it is the newest for the first SACK block.
    send_range(sc, 1031, 1041);
    CHECK(sc.expect(kAck, sc.e(1), 1001).opts.sack[0].left == 1031);
    // [1005, 1035) covers the first block and reaches into the second: one block [1005,1041).
    send_range(sc, 1005, 1035);
    CHECK(sc.expect(kAck, sc.e(1), 1001).opts.sack[0].left == 1005);
    sc.expect_none();
    send_range(sc, 1001, 1005);
    a = sc.expect(kAck, sc.e(1), 1041);
    CHECK(a.opts.sack_count == 4);
    CHECK(sc.app.received == bytes(1001, 1041));
    // Everything else in one segment, the dropped ninth block's bytes included.
    send_range(sc, 1041, 1181);
    check_sack(sc.expect(kAck, sc.e(1), 1181), {});
    CHECK(sc.app.received == bytes(1001, 1181));
    sc.expect_none();
    CHECK(sc.mbufs_in_use() == 0);
}

TEST_CASE("sack recovery: two holes; the head by three duplicates, the second by rule 3, no "
          "go-back-N; cwnd ends at ssthresh (CUBIC: 0.7 of the flight)",
          "[sack]") {
    Scenario sc;
    tcp::Tcb* c = sack_handshake(sc);
    const std::string data(10'000, 'x');
    REQUIRE(sc.stack.send(*c, data.data(), data.size()) == 10'000);
    for (std::uint32_t k = 0; k < 10; ++k) {
        sc.expect(k == 9 ? (kAck | kPsh) : kAck, sc.e(1 + 1000 * k), 1001);
    }
    sc.expect_none();
    // Segments 1 and 5 (e(1), e(4001)) are lost. Segments 2-4 arrive: three duplicates.
    for (std::uint32_t n = 1; n <= 3; ++n) {
        sc.peer(kAck, 1001, sc.e(1), {.sack = {{sc.e(1001), sc.e(1001 + 1000 * n)}}});
        if (n < 3) {
            sc.expect_none();
        }
    }
    // Recovery: ssthresh = cwnd = 0.7 * 10000; the head is resent; pipe (7000) leaves no room.
    CHECK(sc.expect(kAck, sc.e(1), 1001).payload.size() == 1000);
    sc.expect_none();
    CHECK(c->in_recovery);
    CHECK(c->sack_recovery);
    CHECK(c->ssthresh == 7000);
    CHECK(c->cwnd == 7000);
    // Segment 6 arrives: the hole at e(4001) is below a SACK (rule 3), and pipe now allows one.
    sc.peer(kAck, 1001, sc.e(1), {.sack = {{sc.e(5001), sc.e(6001)}, {sc.e(1001), sc.e(4001)}}});
    CHECK(sc.expect(kAck, sc.e(4001), 1001).payload.size() == 1000);
    sc.expect_none();
    // Segments 7-10: nothing is missing above HighRxt, nothing to send.
    for (std::uint32_t n = 7; n <= 10; ++n) {
        sc.peer(kAck, 1001, sc.e(1),
                {.sack = {{sc.e(5001), sc.e(1 + 1000 * n)}, {sc.e(1001), sc.e(4001)}}});
        sc.expect_none();
    }
    // The resent head arrives: a partial ACK; e(4001) was resent already.
    sc.peer(kAck, 1001, sc.e(4001), {.sack = {{sc.e(5001), sc.e(10001)}}});
    sc.expect_none();
    CHECK(c->in_recovery);
    sc.peer(kAck, 1001, sc.e(10001));
    sc.expect_none();
    CHECK_FALSE(c->in_recovery);
    CHECK(c->cwnd == 7000);
    CHECK(sc.stats()[tcp::Counter::fast_retransmits] == 1);
    CHECK(sc.stats()[tcp::Counter::sack_recoveries] == 1);
    CHECK(sc.stats()[tcp::Counter::sack_rtx] == 2);
    CHECK(sc.stats()[tcp::Counter::rtx_data] == 0);
    // Congestion avoidance from 7000: seven segments go out.
    REQUIRE(sc.stack.send(*c, data.data(), data.size()) == 10'000);
    for (std::uint32_t k = 0; k < 7; ++k) {
        sc.expect(kAck, sc.e(10001 + 1000 * k), 1001);
    }
    sc.expect_none();
}

TEST_CASE("sack recovery: a partial ACK resends the new head when too little is SACKed above it",
          "[sack]") {
    Scenario sc;
    tcp::Tcb* c = sack_handshake(sc);
    const std::string data(6000, 'x');
    REQUIRE(sc.stack.send(*c, data.data(), data.size()) == 6000);
    for (std::uint32_t k = 0; k < 6; ++k) {
        sc.expect(k == 5 ? (kAck | kPsh) : kAck, sc.e(1 + 1000 * k), 1001);
    }
    // Segments 1 and 5 lost; 2, 3, 4 SACKed: recovery resends the head.
    for (std::uint32_t n = 1; n <= 3; ++n) {
        sc.peer(kAck, 1001, sc.e(1), {.sack = {{sc.e(1001), sc.e(1001 + 1000 * n)}}});
    }
    sc.expect(kAck, sc.e(1), 1001);
    sc.expect_none();
    // The head arrives: the ACK moves to e(4001), the hole; segment 6 is SACKed: only 1000 bytes
    // above the hole, not "lost" by RFC 6675, but a partial ACK resends it (as NewReno does).
    sc.peer(kAck, 1001, sc.e(4001), {.sack = {{sc.e(5001), sc.e(6001)}}});
    CHECK(sc.expect(kAck, sc.e(4001), 1001).payload.size() == 1000);
    sc.expect_none();
    sc.peer(kAck, 1001, sc.e(6001));
    CHECK_FALSE(c->in_recovery);
    sc.expect_none();
}

TEST_CASE("sack recovery: an RTO forgets the scoreboard and blocks fast retransmit until what "
          "it found outstanding is acknowledged",
          "[sack]") {
    Scenario sc;
    tcp::Tcb* c = sack_handshake(sc);
    const std::string data(5000, 'x');
    REQUIRE(sc.stack.send(*c, data.data(), data.size()) == 5000);
    for (std::uint32_t k = 0; k < 5; ++k) {
        sc.next();
    }
    sc.peer(kAck, 1001, sc.e(1), {.sack = {{sc.e(2001), sc.e(3001)}}});
    REQUIRE(c->loss != nullptr);
    CHECK(c->loss->sacked_count == 1);
    sc.expect_none();
    sc.advance(c->rto);
    CHECK(sc.expect(kAck, sc.e(1), 1001).payload.size() == 1000); // go-back-N from SND.UNA
    CHECK(c->loss->sacked_count == 0);
    CHECK(c->cwnd == 1000);
    // Duplicates, even with SACK blocks, start no fast retransmit now.
    for (int n = 0; n < 4; ++n) {
        sc.peer(kAck, 1001, sc.e(1), {.sack = {{sc.e(2001), sc.e(5001)}}});
    }
    sc.expect_none();
    CHECK_FALSE(c->in_recovery);
    CHECK(c->rto_guard);
    // The resent head is acked: slow start resends what follows (go-back-N, SACKed or not).
    sc.peer(kAck, 1001, sc.e(1001));
    sc.expect(kAck, sc.e(1001), 1001);
    sc.expect(kAck, sc.e(2001), 1001);
    sc.expect_none();
    sc.peer(kAck, 1001, sc.e(5001));
    CHECK_FALSE(c->rto_guard);
    sc.expect_none();
}

TEST_CASE("cubic: ssthresh 0.7 of the window; concave back to W_max around K, convex beyond; "
          "NewReno halves and adds one segment per RTT",
          "[sack][cubic]") {
    for (const auto cc : {tcp::CongestionControl::cubic, tcp::CongestionControl::newreno}) {
        tcp::StackConfig cfg = Scenario::defaults();
        cfg.tcp.congestion_control = cc;
        Scenario sc(cfg);
        tcp::Tcb* c = sack_handshake(sc);
        // A window of 100 segments in flight when the loss is detected.
        c->cwnd = 100'000;
        c->snd.nxt = c->snd.max = c->snd.una + 100'000;
        c->ssthresh = sc.stack.cc_on_congestion(*c);
        c->cwnd = c->ssthresh;
        c->snd.nxt = c->snd.max = c->snd.una; // the flight is not needed any more
        c->srtt = ms(100);
        // One RTT = one window of ACKs of one segment each.
        const auto rtt = [&] {
            const std::uint32_t acks = c->cwnd / 1000;
            for (std::uint32_t i = 0; i < acks; ++i) {
                sc.stack.cc_on_ack(*c, 1000);
            }
            sc.advance(ms(100));
        };
        if (cc == tcp::CongestionControl::cubic) {
            CHECK(c->ssthresh == 70'000);
            const double k = std::cbrt((100.0 - 70.0) / 0.4); // 4.22 s
            const int k_rtts = static_cast<int>(k * 10);
            for (int i = 0; i < k_rtts / 2; ++i) {
                rtt();
            }
            INFO("cwnd at K/2: " << c->cwnd);
            CHECK(c->cwnd > 90'000); // concave: most of the way after half the time
            CHECK(c->cwnd < 100'000);
            for (int i = k_rtts / 2; i < k_rtts; ++i) {
                rtt();
            }
            INFO("cwnd at K: " << c->cwnd);
            CHECK(c->cwnd >= 98'000);
            CHECK(c->cwnd <= 103'000);
            for (int i = k_rtts; i < 2 * k_rtts; ++i) {
                rtt();
            }
            // W(2K) = 0.4 * K^3 + 100 = 130 segments.
            INFO("cwnd at 2K: " << c->cwnd);
            CHECK(c->cwnd >= 120'000);
            CHECK(c->cwnd <= 140'000);
        } else {
            CHECK(c->ssthresh == 50'000);
            for (int i = 0; i < 42; ++i) {
                rtt();
            }
            CHECK(c->cwnd >= 88'000); // 50 + 42 segments, less the integer division's rounding
            CHECK(c->cwnd <= 92'000);
        }
    }
}

TEST_CASE("loss state pool empty: the connection falls back (out-of-order dropped, no SACK "
          "blocks), counted, and still completes",
          "[sack]") {
    tcp::StackConfig cfg = Scenario::defaults();
    cfg.max_loss_states = 1;
    Scenario sc(cfg);
    tcp::Tcb* first = sack_handshake(sc);
    send_range(sc, 1101, 1201); // takes the only loss state
    check_sack(sc.expect(kAck, sc.e(1), 1001), {{1101, 1201}});
    REQUIRE(first->loss != nullptr);
    // A second connection on another port meets reordering too.
    constexpr std::uint16_t kPort2 = 40001;
    sc.peer(kSyn, 5000, 0, {.mss = 1000, .sack_perm = true}, kPort2);
    const Out sa = sc.next();
    REQUIRE(sa.flags == (kSyn | kAck));
    sc.peer(kAck, 5001, sa.seq + 1, {}, kPort2);
    REQUIRE(sc.app.conns.size() == 2);
    tcp::Tcb* second = sc.app.conns[1];
    sc.peer(kAck, 5101, sa.seq + 1, {.data = std::string(100, 'q')}, kPort2);
    check_sack(sc.expect(kAck, sa.seq + 1, 5001), {});
    CHECK(second->loss == nullptr);
    CHECK(sc.stats()[tcp::Counter::loss_state_exhausted] == 1);
    CHECK(sc.stats().drop(tcp::TcpDrop::out_of_order) == 1);
    // Both complete: the second by retransmission.
    sc.peer(kAck, 5001, sa.seq + 1, {.data = std::string(200, 'q')}, kPort2);
    sc.expect_none(); // in order, nothing held: an ordinary delayed ACK
    sc.advance(ms(40));
    sc.expect(kAck, sa.seq + 1, 5201);
    send_range(sc, 1001, 1101);
    sc.expect(kAck, sc.e(1), 1201);
    CHECK(sc.stack.loss_state_count() == 1);
    sc.stack.abort(*first);
    sc.next();
    CHECK(sc.stack.loss_state_count() == 0); // returned with its control block
}

TEST_CASE("limited transmit (RFC 3042): the first two duplicate ACKs each let one new segment "
          "out beyond cwnd; the third starts recovery",
          "[sack]") {
    Scenario sc;
    tcp::Tcb* c = sack_handshake(sc);
    const std::string data(13'000, 'x');
    REQUIRE(sc.stack.send(*c, data.data(), data.size()) == 13'000);
    for (std::uint32_t k = 0; k < 10; ++k) { // cwnd: 10 segments
        sc.expect(kAck, sc.e(1 + 1000 * k), 1001);
    }
    sc.expect_none();
    // The first segment is lost.
    sc.peer(kAck, 1001, sc.e(1), {.sack = {{sc.e(1001), sc.e(2001)}}});
    sc.expect(kAck, sc.e(10001), 1001);
    sc.expect_none();
    sc.peer(kAck, 1001, sc.e(1), {.sack = {{sc.e(1001), sc.e(3001)}}});
    sc.expect(kAck, sc.e(11001), 1001);
    sc.expect_none();
    CHECK(c->cwnd == 10'000); // unchanged
    CHECK(sc.stats()[tcp::Counter::limited_transmits] == 2);
    sc.peer(kAck, 1001, sc.e(1), {.sack = {{sc.e(1001), sc.e(4001)}}});
    CHECK(sc.expect(kAck, sc.e(1), 1001).payload.size() == 1000);
    sc.expect_none(); // cwnd 7000 < pipe
    CHECK(c->in_recovery);
}

TEST_CASE("prr (RFC 6937): above ssthresh, recovery sends in proportion to what is delivered "
          "(0.7 with CUBIC), one segment at a time, never a burst",
          "[sack]") {
    Scenario sc;
    tcp::Tcb* c = sack_handshake(sc);
    c->cwnd = 20'000; // 20 segments in flight when the loss is found
    const std::string data(40'000, 'x');
    REQUIRE(sc.stack.send(*c, data.data(), data.size()) == 40'000);
    for (std::uint32_t k = 0; k < 20; ++k) {
        sc.next();
    }
    sc.expect_none();
    // Segment 1 lost; the others arrive one by one and are SACKed.
    std::uint32_t sacked_to = 1001;
    const auto dup = [&] {
        sacked_to += 1000;
        sc.peer(kAck, 1001, sc.e(1), {.sack = {{sc.e(1001), sc.e(sacked_to)}}});
    };
    dup(); // limited transmit: one new segment each for the first two
    sc.expect(kAck, sc.e(20001), 1001);
    dup();
    sc.expect(kAck, sc.e(21001), 1001);
    dup();
    CHECK(sc.expect(kAck, sc.e(1), 1001).payload.size() == 1000); // the head, at once
    sc.expect_none();
    REQUIRE(c->sack_recovery);
    CHECK(c->ssthresh == 14'000);         // 0.7 x cwnd
    CHECK(c->loss->recover_fs == 22'000); // the flight, limited transmit's two included
    // While pipe stays above ssthresh: after n duplicates (n - 2 segments delivered in the
    // recovery) ceil(delivered x 14000 / 22000) bytes may have been sent, head included.
    std::uint32_t sent = 1;
    // (At n = 12 the pipe comes down to ssthresh, 26000 sent - 12000 SACKed, and the slow start
    // reduction bound takes over.)
    for (std::uint32_t n = 4; n <= 11; ++n) {
        dup();
        std::uint32_t now_sent = 0;
        while (sc.pending() > 0) {
            CHECK(sc.next().payload.size() == 1000);
            ++now_sent;
        }
        CHECK(now_sent <= 1); // at most one segment per ACK: no burst
        sent += now_sent;
        const std::uint32_t due = ((n - 2) * 1000 * 14'000 + 21'999) / 22'000;
        INFO("after " << n << " duplicates: " << sent << " segments sent in the recovery");
        CHECK(sent == std::max<std::uint32_t>(1, due / 1000));
    }
    CHECK(sent == 5);
    CHECK(c->in_recovery);
}
