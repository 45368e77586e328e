// TIME_WAIT (shared/TEARDOWN.md "TIME_WAIT rules"): re-ACK and 2MSL restart, RFC 1337, a new SYN
// on the four-tuple (RFC 1122 4.2.2.13, RFC 6191), max_tw_buckets, tw_reuse for active opens.
#include "harness.hpp"

#include <catch2/catch.hpp>

#include <cerrno>

using namespace tcpterm;
using namespace tcpterm::test;
using tcp::Counter;
using tcp::State;

namespace {
void to_time_wait(Scenario& sc, std::uint16_t port = Scenario::kPeerPort) {
    sc.set_iss(0);
    sc.peer(kSyn, 1000, 0, {.mss = 1460}, port);
    Out sa = sc.next();
    sc.set_iss(sa.seq);
    sc.peer(kAck, 1001, sc.e(1), {}, port);
    tcp::Tcb* c = sc.app.conns.back();
    sc.stack.close(*c);
    sc.expect(kFin | kAck, sc.e(1), 1001);
    sc.peer(kFin | kAck, 1001, sc.e(2), {}, port);
    sc.expect(kAck, sc.e(2), 1002);
    REQUIRE(sc.state(port) == State::time_wait);
}
} // namespace

TEST_CASE("TIME_WAIT: a retransmitted FIN is re-acked and 2MSL restarts", "[time_wait]") {
    Scenario sc;
    to_time_wait(sc);
    sc.advance(sec(30));
    sc.peer(kFin | kAck, 1001, sc.e(2));
    sc.expect(kAck, sc.e(2), 1002);
    CHECK(sc.stats()[Counter::tw_reacked] == 1);
    sc.advance(sec(60) - ms(1));
    CHECK(sc.state() == State::time_wait);
    sc.advance(ms(1));
    CHECK(sc.state() == State::closed);
}

TEST_CASE("TIME_WAIT: RST is ignored (RFC 1337) and counted", "[time_wait]") {
    Scenario sc;
    to_time_wait(sc);
    sc.peer(kRst, 1002, 0);
    sc.peer(kRst | kAck, 1002, sc.e(2));
    sc.expect_none();
    CHECK(sc.state() == State::time_wait);
    CHECK(sc.stats()[Counter::tw_rst_ignored] == 2);
}

TEST_CASE("TIME_WAIT: SYN above RCV.NXT opens a new incarnation", "[time_wait]") {
    Scenario sc;
    to_time_wait(sc);
    const std::uint32_t old_snd_nxt = sc.e(2);
    sc.peer(kSyn, 90000, 0, {.mss = 1460});
    Out sa = sc.expect(kSyn | kAck, old_snd_nxt + 65537, 90001);
    CHECK(sc.state() == State::syn_recv);
    CHECK(sc.stats()[Counter::tw_reused] == 1);
    CHECK(sc.tw_count() == 0);
    sc.peer(kAck, 90001, sa.seq + 1);
    CHECK(sc.state() == State::established);
}

TEST_CASE("TIME_WAIT: SYN at or below RCV.NXT gets the old ACK", "[time_wait]") {
    Scenario sc;
    to_time_wait(sc);
    sc.peer(kSyn, 500, 0, {.mss = 1460});
    sc.expect(kAck, sc.e(2), 1002);
    CHECK(sc.state() == State::time_wait);
    CHECK(sc.stats()[Counter::tw_old_ack] == 1);
}

TEST_CASE("TIME_WAIT: a SYN with a newer timestamp is accepted even below RCV.NXT (RFC 6191)",
          "[time_wait]") {
    tcp::StackConfig cfg = Scenario::defaults();
    cfg.tcp.timestamps = true;
    Scenario sc(cfg);
    sc.peer(kSyn, 1000, 0, {.mss = 1460, .ts = true, .ts_val = 100});
    Out sa = sc.expect(kSyn | kAck, sc.e(0), 1001);
    CHECK(sa.opts.has_ts);
    CHECK(sa.opts.ts_ecr == 100);
    sc.peer(kAck, 1001, sc.e(1), {.ts = true, .ts_val = 101, .ts_ecr = sa.opts.ts_val});
    sc.stack.close(*sc.app.conns.back());
    Out fin = sc.expect(kFin | kAck, sc.e(1), 1001);
    CHECK(fin.opts.ts_ecr == 101);
    sc.peer(kFin | kAck, 1001, sc.e(2), {.ts = true, .ts_val = 102, .ts_ecr = fin.opts.ts_val});
    Out ack = sc.expect(kAck, sc.e(2), 1002);
    CHECK(ack.opts.ts_ecr == 102);
    REQUIRE(sc.state() == State::time_wait);
    // Old timestamp, old sequence: the old ACK.
    sc.peer(kSyn, 900, 0, {.mss = 1460, .ts = true, .ts_val = 50});
    sc.expect(kAck, sc.e(2), 1002);
    // Newer timestamp: a new connection even though 900 < RCV.NXT.
    sc.peer(kSyn, 900, 0, {.mss = 1460, .ts = true, .ts_val = 200});
    sc.expect(kSyn | kAck, sc.e(2) + 65537, 901);
    CHECK(sc.state() == State::syn_recv);
}

TEST_CASE("TIME_WAIT: out-of-window segments are ACKed, in-window ACKs dropped", "[time_wait]") {
    Scenario sc;
    to_time_wait(sc);
    sc.peer(kAck, 1002, sc.e(2));
    sc.expect_none();
    sc.peer(kAck, 5000, sc.e(2), {.data = "x"});
    sc.expect(kAck, sc.e(2), 1002);
    CHECK(sc.state() == State::time_wait);
}

TEST_CASE("max_tw_buckets: past the cap, connections close without TIME_WAIT", "[time_wait]") {
    tcp::StackConfig cfg = Scenario::defaults();
    cfg.tcp.max_tw_buckets = 1;
    Scenario sc(cfg);
    to_time_wait(sc, 40001);
    sc.set_iss(0);
    sc.peer(kSyn, 1000, 0, {.mss = 1460}, 40002);
    Out sa = sc.next();
    sc.set_iss(sa.seq);
    sc.peer(kAck, 1001, sc.e(1), {}, 40002);
    sc.stack.close(*sc.app.conns.back());
    sc.expect(kFin | kAck, sc.e(1), 1001);
    sc.peer(kFin | kAck, 1001, sc.e(2), {}, 40002);
    sc.expect(kAck, sc.e(2), 1002);
    CHECK(sc.state(40002) == State::closed);
    CHECK(sc.state(40001) == State::time_wait);
    CHECK(sc.stats()[Counter::tw_overflow] == 1);
    CHECK(sc.tw_count() == 1);
}

TEST_CASE("tw_reuse: connect() reuses a TIME_WAIT four-tuple only with timestamps, after 1 s",
          "[time_wait]") {
    for (bool reuse : {false, true}) {
        tcp::StackConfig cfg = Scenario::defaults();
        cfg.tcp.timestamps = true;
        cfg.tcp.tw_reuse = reuse;
        Scenario sc(cfg, false);
        tcp::Tcb* c = sc.stack.connect(sc.tuple(), &sc.app, nullptr);
        Out syn = sc.expect(kSyn, sc.e(0), 0);
        sc.peer(kSyn | kAck, 5000, sc.e(1),
                {.mss = 1460, .ts = true, .ts_val = 7, .ts_ecr = syn.opts.ts_val});
        sc.expect(kAck, sc.e(1), 5001);
        sc.stack.close(*c);
        sc.expect(kFin | kAck, sc.e(1), 5001);
        sc.peer(kFin | kAck, 5001, sc.e(2), {.ts = true, .ts_val = 8});
        sc.expect(kAck, sc.e(2), 5002);
        REQUIRE(sc.state() == State::time_wait);
        int err = 0;
        CHECK(sc.stack.connect(sc.tuple(), &sc.app, &err) == nullptr); // within the first second
        CHECK(err == EADDRINUSE);
        sc.advance(sec(1));
        err = 0;
        tcp::Tcb* again = sc.stack.connect(sc.tuple(), &sc.app, &err);
        if (reuse) {
            REQUIRE(again != nullptr);
            sc.expect(kSyn, sc.e(2) + 65537, 0);
            CHECK(sc.stats()[Counter::tw_reused] == 1);
        } else {
            CHECK(again == nullptr);
            CHECK(err == EADDRINUSE);
        }
    }
}

TEST_CASE("TIME_WAIT: a new SYN the listener cannot take leaves the record in place",
          "[time_wait]") {
    Scenario sc;
    to_time_wait(sc);
    sc.stack.set_accepting(false); // backpressure
    sc.peer(kSyn, 90000, 0, {.mss = 1460});
    sc.expect(kAck, sc.e(2), 1002); // the old ACK; the old incarnation stays protected
    CHECK(sc.state() == State::time_wait);
    CHECK(sc.stats()[Counter::tw_reused] == 0);
    sc.stack.set_accepting(true);
    sc.peer(kSyn, 90000, 0, {.mss = 1460});
    sc.expect(kSyn | kAck, sc.e(2) + 65537, 90001);
}
