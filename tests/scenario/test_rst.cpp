// RST sent and received in every state, RFC 5961 (exact RST, challenge ACKs and their limit),
// out-of-window segments in the closing states, segments for no connection, listener close, and
// a run that visits all eleven states.
#include "harness.hpp"

#include <catch2/catch.hpp>

#include <cerrno>

using namespace tcpterm;
using namespace tcpterm::test;
using tcp::Counter;
using tcp::State;

namespace {

// Brings a fresh connection (peer ISN 1000) to `s`; returns the RCV.NXT the engine has.
std::uint32_t reach(Scenario& sc, State s) {
    if (s == State::syn_recv) {
        sc.peer(kSyn, 1000, 0, {.mss = 1460});
        sc.expect(kSyn | kAck, sc.e(0), 1001);
        return 1001;
    }
    tcp::Tcb* c = sc.handshake();
    switch (s) {
    case State::established:
        return 1001;
    case State::fin_wait1:
        sc.stack.shutdown(*c, tcp::Shutdown::wr);
        sc.expect(kFin | kAck, sc.e(1), 1001);
        return 1001;
    case State::fin_wait2:
        sc.stack.shutdown(*c, tcp::Shutdown::wr);
        sc.expect(kFin | kAck, sc.e(1), 1001);
        sc.peer(kAck, 1001, sc.e(2));
        return 1001;
    case State::close_wait:
        sc.peer(kFin | kAck, 1001, sc.e(1));
        sc.expect(kAck, sc.e(1), 1002);
        return 1002;
    case State::closing:
        sc.stack.shutdown(*c, tcp::Shutdown::wr);
        sc.expect(kFin | kAck, sc.e(1), 1001);
        sc.peer(kFin | kAck, 1001, sc.e(1));
        sc.expect(kAck, sc.e(2), 1002);
        return 1002;
    case State::last_ack:
        sc.peer(kFin | kAck, 1001, sc.e(1));
        sc.expect(kAck, sc.e(1), 1002);
        sc.stack.shutdown(*c, tcp::Shutdown::wr);
        sc.expect(kFin | kAck, sc.e(1), 1002);
        return 1002;
    default:
        FAIL("reach: unsupported state");
        return 0;
    }
}

} // namespace

TEST_CASE("RST at RCV.NXT in each synchronized state closes the connection", "[rst]") {
    for (State s : {State::syn_recv, State::established, State::fin_wait1, State::fin_wait2,
                    State::close_wait, State::closing, State::last_ack}) {
        DYNAMIC_SECTION("state " << tcp::state_name(s)) {
            Scenario sc;
            const std::uint32_t rcv_nxt = reach(sc, s);
            REQUIRE(sc.state() == s);
            sc.peer(kRst, rcv_nxt, 0);
            sc.expect_none();
            CHECK(sc.state() == State::closed);
            CHECK(sc.stats().rst_received[static_cast<std::size_t>(s)] == 1);
            if (s == State::syn_recv) {
                CHECK(sc.app.closed == 0); // never accepted: back to LISTEN quietly
                CHECK(sc.listener->syn_queue.empty());
            } else {
                CHECK(sc.app.closed == 1);
                CHECK(sc.app.last_error == ECONNRESET);
            }
        }
    }
}

TEST_CASE("RST in window but not at RCV.NXT gets a challenge ACK (RFC 5961)", "[rst]") {
    Scenario sc;
    sc.handshake();
    sc.peer(kRst, 1500, 0);
    sc.expect(kAck, sc.e(1), 1001);
    CHECK(sc.state() == State::established);
    CHECK(sc.stats()[Counter::challenge_acks] == 1);
    sc.peer(kRst, 900000, 0); // outside the window: dropped silently
    sc.expect_none();
    CHECK(sc.state() == State::established);
}

TEST_CASE("SYN on an established connection gets a challenge ACK, no reset", "[rst]") {
    Scenario sc;
    sc.handshake();
    sc.peer(kSyn, 1001, 0, {.mss = 1460});
    sc.expect(kAck, sc.e(1), 1001);
    CHECK(sc.state() == State::established);
    CHECK(sc.stats().drop(tcp::TcpDrop::syn_in_window) == 1);
}

TEST_CASE("challenge ACKs are limited per second, with a randomised budget", "[rst]") {
    tcp::StackConfig cfg = Scenario::defaults();
    cfg.tcp.challenge_ack_limit = 2;
    Scenario sc(cfg);
    sc.handshake();
    for (int i = 0; i < 6; ++i) {
        sc.peer(kRst, 1500, 0);
    }
    // The budget of a second is limit/2 .. 3*limit/2 (CVE-2016-5696), here 1..3.
    const std::size_t acks = sc.pending();
    CHECK(acks >= 1);
    CHECK(acks <= 3);
    for (std::size_t i = 0; i < acks; ++i) {
        sc.expect(kAck, sc.e(1), 1001);
    }
    CHECK(sc.stats()[Counter::challenge_acks_limited] == 6 - acks);
    sc.advance(sec(1));
    sc.peer(kRst, 1500, 0);
    sc.expect(kAck, sc.e(1), 1001);
}

TEST_CASE("out-of-window segments in each closing state are answered with an ACK", "[rst]") {
    for (State s :
         {State::fin_wait1, State::fin_wait2, State::close_wait, State::closing, State::last_ack}) {
        DYNAMIC_SECTION("state " << tcp::state_name(s)) {
            tcp::StackConfig cfg = Scenario::defaults();
            cfg.tcp.invalid_ratelimit = 0; // answer every one (the limit has its own test)
            Scenario sc(cfg);
            const std::uint32_t rcv_nxt = reach(sc, s);
            const std::uint32_t our_nxt = (s == State::close_wait) ? sc.e(1) : sc.e(2);
            sc.peer(kAck, rcv_nxt + 200000, sc.e(1), {.data = "zz"});
            sc.expect(kAck, our_nxt, rcv_nxt);
            sc.peer(kAck, rcv_nxt - 5000, sc.e(1), {.data = "old"});
            sc.expect(kAck, our_nxt, rcv_nxt);
            CHECK(sc.state() == s);
            CHECK(sc.stats().drop(tcp::TcpDrop::out_of_window) == 2);
        }
    }
}

TEST_CASE("listener: an ACK without SYN gets RST <SEQ=SEG.ACK>", "[rst]") {
    Scenario sc;
    sc.peer(kAck, 1000, 2000, {}, 40000);
    sc.expect(kRst, 2000, 0);
    CHECK(sc.stats().drop(tcp::TcpDrop::listen_not_syn) == 1);
}

TEST_CASE("closed port: SYN gets RST+ACK, ACK gets RST, RST gets nothing", "[rst]") {
    Scenario sc(Scenario::defaults(), false);
    sc.peer(kSyn, 1000, 0, {.mss = 1460});
    sc.expect(kRst | kAck, 0, 1001);
    sc.peer(kAck, 1000, 777);
    sc.expect(kRst, 777, 0);
    sc.peer(kRst, 1000, 0);
    sc.expect_none();
    CHECK(sc.stats().rst(tcp::RstReason::no_connection) == 2);
    CHECK(sc.stats().drop(tcp::TcpDrop::no_listener_rst_in) == 1);
}

TEST_CASE("listener close resets SYN_RECV and accept-queue connections, not accepted ones",
          "[rst]") {
    Scenario sc;
    sc.app.auto_accept = false;
    // One accepted, one waiting in the accept queue, one half-open.
    sc.peer(kSyn, 1000, 0, {.mss = 1460}, 40001);
    Out a1 = sc.next();
    sc.peer(kAck, 1001, a1.seq + 1, {}, 40001);
    tcp::Tcb* accepted = sc.stack.accept(*sc.listener, &sc.app);
    REQUIRE(accepted);
    sc.peer(kSyn, 2000, 0, {.mss = 1460}, 40002);
    Out a2 = sc.next();
    sc.peer(kAck, 2001, a2.seq + 1, {}, 40002);
    sc.peer(kSyn, 3000, 0, {.mss = 1460}, 40003);
    Out a3 = sc.next();
    CHECK(sc.listener->accept_queue.size() == 1);
    CHECK(sc.listener->syn_queue.size() == 1);
    sc.stack.close_listener(*sc.listener);
    sc.listener = nullptr;
    Out r1 = sc.next();
    Out r2 = sc.next();
    sc.expect_none();
    CHECK((r1.flags & kRst));
    CHECK((r2.flags & kRst));
    CHECK(sc.stats()[Counter::listener_resets] == 2);
    CHECK(sc.stats().rst(tcp::RstReason::listener_closed) == 2);
    CHECK(sc.state(40001) == State::established);
    CHECK(sc.state(40002) == State::closed);
    CHECK(sc.state(40003) == State::closed);
    CHECK(sc.stats().in_state(State::listen) == 0);
    (void)a3;
}

TEST_CASE("all eleven states are reached and counted", "[rst][states]") {
    Scenario sc;
    // Passive side: ESTABLISHED, CLOSE_WAIT, LAST_ACK, CLOSED.
    tcp::Tcb* c = sc.handshake();
    sc.peer(kFin | kAck, 1001, sc.e(1));
    sc.expect(kAck, sc.e(1), 1002);
    sc.stack.close(*c);
    sc.expect(kFin | kAck, sc.e(1), 1002);
    sc.peer(kAck, 1002, sc.e(2));
    // Active close: FIN_WAIT1, FIN_WAIT2, TIME_WAIT.
    sc.set_iss(0);
    c = sc.handshake(5000);
    sc.stack.close(*c);
    sc.expect(kFin | kAck, sc.e(1), 5001);
    sc.peer(kAck, 5001, sc.e(2));
    sc.peer(kFin | kAck, 5001, sc.e(2));
    sc.expect(kAck, sc.e(2), 5002);
    // Simultaneous close: CLOSING (on another port).
    sc.set_iss(0);
    sc.peer(kSyn, 7000, 0, {.mss = 1460}, 40009);
    Out sa = sc.next();
    sc.set_iss(sa.seq);
    sc.peer(kAck, 7001, sc.e(1), {}, 40009);
    sc.stack.close(*sc.app.conns.back());
    sc.expect(kFin | kAck, sc.e(1), 7001);
    sc.peer(kFin | kAck, 7001, sc.e(1), {}, 40009);
    sc.expect(kAck, sc.e(2), 7002);
    // SYN_SENT.
    sc.set_iss(0);
    sc.stack.connect(sc.tuple(41000, 50000), &sc.app, nullptr);
    (void)sc.next();
    const auto& st = sc.stats();
    std::uint64_t into[tcp::kStateCount] = {};
    for (std::size_t a = 0; a < tcp::kStateCount; ++a) {
        for (std::size_t b = 0; b < tcp::kStateCount; ++b) {
            into[b] += st.transitions[a][b];
        }
    }
    for (std::size_t s = 0; s < tcp::kStateCount; ++s) {
        INFO("state " << tcp::state_name(static_cast<State>(s)));
        CHECK(into[s] >= 1);
    }
}

TEST_CASE("ACKs for out-of-window segments are rate limited per connection (invalid_ratelimit)",
          "[rst]") {
    Scenario sc; // default 500 ms, as Linux
    sc.handshake();
    for (int i = 0; i < 10; ++i) {
        sc.peer(kAck, 900000 + static_cast<std::uint32_t>(i), sc.e(1), {.data = "x"});
    }
    sc.expect(kAck, sc.e(1), 1001);
    sc.expect_none();
    CHECK(sc.stats()[Counter::oow_acks_limited] == 9);
    sc.advance(ms(500));
    sc.peer(kAck, 900000, sc.e(1), {.data = "x"});
    sc.expect(kAck, sc.e(1), 1001);
}
