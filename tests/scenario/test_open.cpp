// Opening: passive and active open, the handshake under loss, SYN_RECV and SYN_SENT retries,
// refusal, simultaneous open, listener limits, data transfer basics (delayed ACK, Nagle,
// windows, zero-window persist).
#include "harness.hpp"

#include <catch2/catch.hpp>

#include <rte_byteorder.h>

#include <cerrno>

using namespace tcpterm;
using namespace tcpterm::test;
using tcp::Counter;
using tcp::State;

TEST_CASE("passive open: SYN, SYN-ACK with our options, ACK, accepted", "[open]") {
    Scenario sc;
    sc.peer(kSyn, 1000, 0, {.win = 29200, .mss = 1400});
    CHECK(sc.state() == State::syn_recv);
    Out sa = sc.expect(kSyn | kAck, sc.e(0), 1001);
    CHECK(sa.opts.has_mss);
    CHECK(sa.opts.mss == 1460);
    CHECK_FALSE(sa.opts.has_ts); // not offered by the peer
    CHECK(sa.window == 65535);
    CHECK(sc.stats().in_state(State::syn_recv) == 1);
    sc.peer(kAck, 1001, sc.e(1), {.win = 29200});
    sc.expect_none();
    CHECK(sc.state() == State::established);
    REQUIRE(sc.app.conns.size() == 1);
    tcp::Tcb* c = sc.app.conns[0];
    CHECK(c->mss == 1400);
    CHECK(c->snd.wnd == 29200);
    CHECK(sc.stats()[Counter::passive_opens] == 1);
    CHECK(sc.stats()[Counter::accepted] == 1);
    CHECK(sc.stats().in_state(State::established) == 1);
    CHECK(sc.stats().in_state(State::syn_recv) == 0);
    CHECK(sc.stats().in_state(State::listen) == 1);
}

TEST_CASE("active open: SYN, SYN-ACK, ACK, on_connected, data both ways", "[open]") {
    Scenario sc(Scenario::defaults(), false);
    int err = 0;
    tcp::Tcb* c = sc.stack.connect(sc.tuple(), &sc.app, &err);
    REQUIRE(c);
    sc.expect(kSyn, sc.e(0), 0);
    sc.peer(kSyn | kAck, 5000, sc.e(1), {.mss = 1200});
    sc.expect(kAck, sc.e(1), 5001);
    CHECK(c->state == State::established);
    CHECK(sc.app.connected == 1);
    CHECK(c->mss == 1200);
    // Data both ways.
    REQUIRE(sc.stack.send(*c, "hello", 5) == 5);
    Out d = sc.expect(kAck | kPsh, sc.e(1), 5001);
    CHECK(d.payload == "hello");
    sc.peer(kAck | kPsh, 5001, sc.e(6), {.data = "world"});
    sc.expect_none(); // delayed ACK
    CHECK(sc.app.received == "world");
    sc.advance(ms(40));
    sc.expect(kAck, sc.e(6), 5006);
    CHECK(sc.stats()[Counter::delayed_acks] == 1);
}

TEST_CASE("3WHS with lost SYN-ACK: retransmitted after the RTO, then completes", "[open]") {
    Scenario sc;
    sc.peer(kSyn, 1000, 0, {.mss = 1460});
    sc.expect(kSyn | kAck, sc.e(0), 1001); // lost on the wire
    sc.advance(ms(999));
    sc.expect_none();
    sc.advance(ms(1));
    sc.expect(kSyn | kAck, sc.e(0), 1001);
    CHECK(sc.stats()[Counter::rtx_synack] == 1);
    // The peer's own SYN retransmission also brings our SYN-ACK back.
    sc.peer(kSyn, 1000, 0, {.mss = 1460});
    sc.expect(kSyn | kAck, sc.e(0), 1001);
    sc.peer(kAck, 1001, sc.e(1));
    CHECK(sc.state() == State::established);
    CHECK(sc.app.conns.size() == 1);
}

TEST_CASE("SYN_RECV: copies of the SYN get one SYN-ACK per invalid_ratelimit, not one each",
          "[open]") {
    Scenario sc;
    sc.peer(kSyn, 1000, 0, {.mss = 1460});
    sc.expect(kSyn | kAck, sc.e(0), 1001);
    // A flood of the same SYN (a replay, or a peer's SYN retransmissions): the first copy is
    // answered, the rest within 500 ms are not.
    sc.peer(kSyn, 1000, 0, {.mss = 1460});
    sc.expect(kSyn | kAck, sc.e(0), 1001);
    for (int i = 0; i < 50; ++i) {
        sc.peer(kSyn, 1000, 0, {.mss = 1460});
    }
    sc.expect_none();
    CHECK(sc.stats()[Counter::synack_rtx_limited] == 50);
    sc.advance(ms(499));
    sc.expect_none();
    sc.peer(kSyn, 1000, 0, {.mss = 1460});
    sc.expect_none();
    sc.advance(ms(1));
    sc.peer(kSyn, 1000, 0, {.mss = 1460}); // 500 ms after the last answered copy
    sc.expect(kSyn | kAck, sc.e(0), 1001);
    sc.advance(ms(500)); // the SYN-ACK retransmission timer (1 s) is not rate-limited
    sc.expect(kSyn | kAck, sc.e(0), 1001);
    CHECK(sc.stats()[Counter::synack_rtx_limited] == 51);
    sc.peer(kAck, 1001, sc.e(1));
    CHECK(sc.state() == State::established);
}

TEST_CASE("SYN_RECV: SYN-ACK retried synack_retries times with back-off, then dropped", "[open]") {
    Scenario sc;
    sc.peer(kSyn, 1000, 0, {.mss = 1460});
    sc.expect(kSyn | kAck, sc.e(0), 1001);
    Nanos wait = sec(1);
    for (int i = 0; i < 5; ++i) {
        sc.advance(wait - ms(1));
        sc.expect_none();
        sc.advance(ms(1));
        sc.expect(kSyn | kAck, sc.e(0), 1001);
        wait *= 2;
    }
    sc.advance(wait);
    sc.expect_none(); // given up silently: back to LISTEN, no RST
    CHECK(sc.state() == State::closed);
    CHECK(sc.stats()[Counter::rtx_synack] == 5);
    CHECK(sc.stats().transition(State::syn_recv, State::closed) == 1);
    CHECK(sc.listener->syn_queue.empty());
}

TEST_CASE("SYN_SENT refused: RST answers our SYN -> ECONNREFUSED", "[open]") {
    Scenario sc(Scenario::defaults(), false);
    tcp::Tcb* c = sc.stack.connect(sc.tuple(), &sc.app, nullptr);
    REQUIRE(c);
    sc.expect(kSyn, sc.e(0), 0);
    sc.peer(kRst | kAck, 0, sc.e(1));
    sc.expect_none();
    CHECK(sc.app.closed == 1);
    CHECK(sc.app.last_error == ECONNREFUSED);
    CHECK(sc.stats()[Counter::conn_refused] == 1);
    CHECK(sc.state() == State::closed);
}

TEST_CASE("SYN_SENT: a RST without an acceptable ACK is ignored", "[open]") {
    Scenario sc(Scenario::defaults(), false);
    tcp::Tcb* c = sc.stack.connect(sc.tuple(), &sc.app, nullptr);
    sc.expect(kSyn, sc.e(0), 0);
    sc.peer(kRst | kAck, 0, sc.e(5)); // ACK not of our SYN: dropped (no RST for a RST)
    sc.expect_none();
    CHECK(c->state == State::syn_sent);
    sc.peer(kAck, 0, sc.e(7)); // bad ACK without RST: answered with RST <SEQ=SEG.ACK>
    sc.expect(kRst, sc.e(7), 0);
    CHECK(c->state == State::syn_sent);
}

TEST_CASE("SYN_SENT: SYN retries exhausted -> ETIMEDOUT", "[open]") {
    tcp::StackConfig cfg = Scenario::defaults();
    cfg.tcp.syn_retries = 2;
    Scenario sc(cfg, false);
    sc.stack.connect(sc.tuple(), &sc.app, nullptr);
    sc.expect(kSyn, sc.e(0), 0);
    sc.advance(sec(1));
    sc.expect(kSyn, sc.e(0), 0);
    sc.advance(sec(2));
    sc.expect(kSyn, sc.e(0), 0);
    sc.advance(sec(4));
    sc.expect_none();
    CHECK(sc.app.closed == 1);
    CHECK(sc.app.last_error == ETIMEDOUT);
    CHECK(sc.stats()[Counter::rtx_syn] == 2);
}

TEST_CASE("simultaneous open: SYN crossing our SYN -> SYN_RECV -> ESTABLISHED", "[open]") {
    Scenario sc(Scenario::defaults(), false);
    tcp::Tcb* c = sc.stack.connect(sc.tuple(), &sc.app, nullptr);
    sc.expect(kSyn, sc.e(0), 0);
    sc.peer(kSyn, 7000, 0, {.mss = 1460});
    CHECK(c->state == State::syn_recv);
    sc.expect(kSyn | kAck, sc.e(0), 7001);
    sc.peer(kSyn | kAck, 7000, sc.e(1), {.mss = 1460});
    // Their SYN-ACK: the SYN is a duplicate of what we have (challenge), the ACK completes.
    (void)sc.next();
    sc.peer(kAck, 7001, sc.e(1));
    CHECK(c->state == State::established);
    CHECK(sc.app.connected == 1);
}

TEST_CASE("listener: SYN queue limit drops and counts (syncookies off)", "[open]") {
    tcp::StackConfig cfg = Scenario::defaults();
    cfg.tcp.syn_backlog = 2;
    cfg.tcp.syncookies = 0;
    Scenario sc(cfg);
    for (std::uint16_t p = 1; p <= 3; ++p) {
        sc.peer(kSyn, 1000, 0, {.mss = 1460}, static_cast<std::uint16_t>(40000 + p));
    }
    (void)sc.next();
    (void)sc.next();
    sc.expect_none();
    CHECK(sc.stats()[Counter::backlog_overflow] == 1);
    CHECK(sc.listener->syn_queue.size() == 2);
}

TEST_CASE("listener: accept queue full -> final ACK ignored, SYN-ACK retried", "[open]") {
    Scenario sc;
    sc.app.auto_accept = false;
    sc.stack.close_listener(*sc.listener);
    sc.listener = sc.stack.listen(rte_cpu_to_be_32(Scenario::kEngineIp), rte_cpu_to_be_16(80),
                                  &sc.app, 1, nullptr);
    REQUIRE(sc.listener);
    sc.peer(kSyn, 1000, 0, {.mss = 1460}, 40001);
    sc.expect(kSyn | kAck, sc.e(0), 1001);
    sc.peer(kAck, 1001, sc.e(1), {}, 40001);
    CHECK(sc.listener->accept_queue.size() == 1);
    sc.set_iss(0);
    sc.peer(kSyn, 2000, 0, {.mss = 1460}, 40002);
    // Accept queue full: the new SYN is dropped.
    sc.expect_none();
    CHECK(sc.stats()[Counter::accept_overflow] == 1);
    tcp::Tcb* c = sc.stack.accept(*sc.listener, &sc.app);
    REQUIRE(c != nullptr);
    CHECK(sc.stack.accept(*sc.listener, &sc.app) == nullptr);
}

TEST_CASE("table full: a new SYN is refused and counted", "[open]") {
    tcp::StackConfig cfg = Scenario::defaults();
    cfg.max_connections = 2;
    cfg.max_time_wait = 1;
    Scenario sc(cfg);
    for (std::uint16_t p = 1; p <= 3; ++p) {
        sc.peer(kSyn, 1000, 0, {.mss = 1460}, static_cast<std::uint16_t>(40000 + p));
    }
    (void)sc.next();
    (void)sc.next();
    sc.expect_none();
    CHECK(sc.stats().drop(tcp::TcpDrop::pool_empty) == 1);
    CHECK(sc.stats()[Counter::pool_exhausted] == 1);
}

TEST_CASE("delayed ACK: every second segment at once, a single one after delayed_ack", "[open]") {
    Scenario sc;
    sc.handshake();
    sc.peer(kAck, 1001, sc.e(1), {.data = std::string(100, 'a')});
    sc.expect_none();
    sc.peer(kAck, 1101, sc.e(1), {.data = std::string(100, 'b')});
    sc.expect(kAck, sc.e(1), 1201);
    sc.peer(kAck | kPsh, 1201, sc.e(1), {.data = "c"});
    sc.advance(ms(39));
    sc.expect_none();
    sc.advance(ms(1));
    sc.expect(kAck, sc.e(1), 1202);
    CHECK(sc.app.received.size() == 201);
}

TEST_CASE("quickack: every segment acknowledged at once", "[open]") {
    tcp::StackConfig cfg = Scenario::defaults();
    cfg.tcp.quickack = true;
    Scenario sc(cfg);
    sc.handshake();
    sc.peer(kAck, 1001, sc.e(1), {.data = "x"});
    sc.expect(kAck, sc.e(1), 1002);
}

TEST_CASE("Nagle: a small segment waits for the ACK of the previous one; nodelay sends", "[open]") {
    Scenario sc;
    tcp::Tcb* c = sc.handshake();
    sc.stack.send(*c, "a", 1);
    sc.expect(kAck | kPsh, sc.e(1), 1001);
    sc.stack.send(*c, "b", 1);
    sc.expect_none(); // held: "a" is unacked
    sc.peer(kAck, 1001, sc.e(2));
    Out o = sc.expect(kAck | kPsh, sc.e(2), 1001);
    CHECK(o.payload == "b");
    sc.stack.set_nodelay(*c, true);
    sc.stack.send(*c, "c", 1);
    sc.expect(kAck | kPsh, sc.e(3), 1001);
    sc.stack.send(*c, "d", 1);
    sc.expect(kAck | kPsh, sc.e(4), 1001);
}

TEST_CASE("send window: only what the peer's window allows, rest on the ACK", "[open]") {
    Scenario sc;
    sc.peer(kSyn, 1000, 0, {.win = 3000, .mss = 1000});
    sc.expect(kSyn | kAck, sc.e(0), 1001);
    sc.peer(kAck, 1001, sc.e(1), {.win = 3000});
    tcp::Tcb* c = sc.app.conns.at(0);
    std::string big(5000, 'z');
    CHECK(sc.stack.send(*c, big.data(), big.size()) == 5000);
    sc.expect(kAck, sc.e(1), 1001);
    sc.expect(kAck, sc.e(1001), 1001);
    sc.expect(kAck, sc.e(2001), 1001);
    sc.expect_none();
    sc.peer(kAck, 1001, sc.e(3001), {.win = 3000});
    sc.expect(kAck, sc.e(3001), 1001);
    sc.expect(kAck | kPsh, sc.e(4001), 1001);
    sc.expect_none();
}

TEST_CASE("zero window: persist probes with back-off, window opens, data flows", "[open]") {
    Scenario sc;
    tcp::Tcb* c = sc.handshake(1000, {.win = 0, .mss = 1460});
    sc.stack.send(*c, "data", 4);
    sc.expect_none(); // window 0
    sc.advance(sec(1));
    sc.expect(kAck, sc.e(0), 1001); // probe: SND.UNA - 1, no data
    sc.advance(sec(2));
    sc.expect(kAck, sc.e(0), 1001);
    CHECK(sc.stats()[Counter::zero_window_probes] == 2);
    sc.peer(kAck, 1001, sc.e(1), {.win = 1000});
    Out o = sc.expect(kAck | kPsh, sc.e(1), 1001);
    CHECK(o.payload == "data");
}

TEST_CASE("zero window: persist timeout aborts with RST and ETIMEDOUT", "[open]") {
    tcp::StackConfig cfg = Scenario::defaults();
    cfg.tcp.zero_window_timeout = sec(5);
    Scenario sc(cfg);
    tcp::Tcb* c = sc.handshake(1000, {.win = 0, .mss = 1460});
    sc.stack.send(*c, "data", 4);
    sc.advance(sec(1));
    sc.expect(kAck, sc.e(0), 1001);
    sc.advance(sec(2));
    sc.expect(kAck, sc.e(0), 1001);
    sc.advance(sec(4));
    sc.expect(kRst | kAck, sc.e(1), 1001);
    CHECK(sc.app.last_error == ETIMEDOUT);
    CHECK(sc.stats().rst(tcp::RstReason::persist_timeout) == 1);
}

TEST_CASE("receive window: filling the buffer closes the window; reading reopens it", "[open]") {
    tcp::StackConfig cfg = Scenario::defaults();
    cfg.tcp.rcv_buf = 4000;
    Scenario sc(cfg);
    sc.app.auto_read = false;
    tcp::Tcb* c = sc.handshake();
    sc.peer(kAck, 1001, sc.e(1), {.data = std::string(1460, 'a')});
    sc.peer(kAck, 2461, sc.e(1), {.data = std::string(1460, 'b')});
    Out a = sc.expect(kAck, sc.e(1), 3921);
    CHECK(a.window == 1080); // what is left of the window already promised: never shrunk
    sc.peer(kAck, 3921, sc.e(1), {.data = std::string(1080, 'c')});
    sc.advance(ms(40));
    Out full = sc.expect(kAck, sc.e(1), 5001);
    CHECK(full.window == 0);
    sc.peer(kAck, 5001, sc.e(1), {.data = std::string(100, 'd')});
    Out z = sc.expect(kAck, sc.e(1), 5001); // zero window: not accepted, answered with the window
    CHECK(z.window == 0);
    char buf[4096];
    CHECK(sc.stack.recv(*c, buf, sizeof buf) == 4000);
    Out u = sc.expect(kAck, sc.e(1), 5001);
    CHECK(u.window == 4000);
    CHECK(sc.stats()[Counter::window_updates] == 1);
}

TEST_CASE("zero window: retries2 unanswered probes abort the connection", "[open]") {
    tcp::StackConfig cfg = Scenario::defaults();
    cfg.tcp.retries2 = 3;
    Scenario sc(cfg);
    tcp::Tcb* c = sc.handshake(1000, {.win = 0, .mss = 1460});
    sc.stack.send(*c, "data", 4);
    int probes = 0;
    for (int i = 0; i < 200 && sc.app.closed == 0; ++i) {
        sc.advance(ms(100));
        while (sc.pending() > 0) {
            Out o = sc.next();
            if (!(o.flags & kRst)) {
                ++probes;
            }
        }
    }
    CHECK(probes == 3);
    CHECK(sc.app.last_error == ETIMEDOUT);
}

TEST_CASE("zero window: answered probes keep the connection alive", "[open]") {
    tcp::StackConfig cfg = Scenario::defaults();
    cfg.tcp.retries2 = 3;
    Scenario sc(cfg);
    tcp::Tcb* c = sc.handshake(1000, {.win = 0, .mss = 1460});
    sc.stack.send(*c, "data", 4);
    for (int i = 0; i < 10; ++i) {
        sc.advance(sec(130));
        while (sc.pending() > 0) {
            Out o = sc.next();
            REQUIRE_FALSE((o.flags & kRst));
            sc.peer(kAck, 1001, sc.e(1), {.win = 0}); // alive, window still closed
        }
    }
    CHECK(sc.app.closed == 0);
    CHECK(sc.stats()[Counter::zero_window_probes] >= 5);
}
