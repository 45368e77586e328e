// Keepalive, idle timeout, retransmission limits and the user timeout, under the fake clock.
#include "harness.hpp"

#include <catch2/catch.hpp>

#include <cerrno>

using namespace tcpterm;
using namespace tcpterm::test;
using tcp::Counter;
using tcp::State;
using tcp::TimerKind;

namespace {
tcp::StackConfig ka_config() {
    tcp::StackConfig cfg = Scenario::defaults();
    cfg.tcp.keepalive_time = sec(10);
    cfg.tcp.keepalive_intvl = sec(2);
    cfg.tcp.keepalive_probes = 3;
    return cfg;
}
} // namespace

TEST_CASE("keepalive: probes at time and intvl, abort after N with RST and ETIMEDOUT", "[timers]") {
    Scenario sc(ka_config());
    tcp::Tcb* c = sc.handshake();
    sc.stack.set_keepalive(*c, true);
    sc.advance(sec(10) - ms(1));
    sc.expect_none();
    sc.advance(ms(1));
    sc.expect(kAck, sc.e(0), 1001); // probe: SND.UNA - 1
    for (int i = 0; i < 2; ++i) {
        sc.advance(sec(2) - ms(1));
        sc.expect_none();
        sc.advance(ms(1));
        sc.expect(kAck, sc.e(0), 1001);
    }
    sc.advance(sec(2));
    sc.expect(kRst | kAck, sc.e(1), 1001);
    CHECK(sc.app.closed == 1);
    CHECK(sc.app.last_error == ETIMEDOUT);
    CHECK(sc.stats()[Counter::keepalive_probes] == 3);
    CHECK(sc.stats().rst(tcp::RstReason::keepalive_timeout) == 1);
}

TEST_CASE("keepalive: an answered probe resets the count", "[timers]") {
    Scenario sc(ka_config());
    tcp::Tcb* c = sc.handshake();
    sc.stack.set_keepalive(*c, true);
    sc.advance(sec(10));
    sc.expect(kAck, sc.e(0), 1001);
    sc.advance(sec(2));
    sc.expect(kAck, sc.e(0), 1001);
    sc.peer(kAck, 1001, sc.e(1)); // the peer is alive
    sc.advance(sec(10) - ms(1));
    sc.expect_none();
    sc.advance(ms(1));
    sc.expect(kAck, sc.e(0), 1001);
    CHECK(c->ka_probes == 1);
    CHECK(sc.state() == State::established);
}

TEST_CASE("keepalive: traffic postpones the first probe", "[timers]") {
    Scenario sc(ka_config());
    tcp::Tcb* c = sc.handshake();
    sc.stack.set_keepalive(*c, true);
    sc.advance(sec(8));
    sc.peer(kAck | kPsh, 1001, sc.e(1), {.data = "ping"});
    sc.advance(ms(40));
    sc.expect(kAck, sc.e(1), 1005);
    sc.advance(sec(10) - ms(41));
    sc.expect_none();
    sc.advance(ms(1));
    sc.expect(kAck, sc.e(0), 1005);
}

TEST_CASE("idle timeout, reset mode: RST after idle_timeout without traffic", "[timers]") {
    tcp::StackConfig cfg = Scenario::defaults();
    cfg.tcp.idle_timeout = sec(30);
    Scenario sc(cfg);
    sc.handshake();
    sc.advance(sec(20));
    sc.peer(kAck | kPsh, 1001, sc.e(1), {.data = "x"});
    sc.advance(ms(40));
    sc.expect(kAck, sc.e(1), 1002);
    sc.advance(sec(30) - ms(41));
    sc.expect_none();
    sc.advance(ms(1));
    sc.expect(kRst | kAck, sc.e(1), 1002);
    CHECK(sc.app.last_error == ETIMEDOUT);
    CHECK(sc.stats().expiry(TimerKind::idle) == 1);
    CHECK(sc.stats().rst(tcp::RstReason::idle_timeout) == 1);
}

TEST_CASE("idle timeout, silent mode: dropped without a segment", "[timers]") {
    tcp::StackConfig cfg = Scenario::defaults();
    cfg.tcp.idle_timeout = sec(30);
    cfg.tcp.reset_on_timeout = false;
    Scenario sc(cfg);
    sc.handshake();
    sc.advance(sec(30));
    sc.expect_none();
    CHECK(sc.state() == State::closed);
    CHECK(sc.app.last_error == ETIMEDOUT);
}

TEST_CASE("retransmission exhaustion aborts ESTABLISHED with RST and ETIMEDOUT", "[timers]") {
    tcp::StackConfig cfg = Scenario::defaults();
    cfg.tcp.retries2 = 3;
    Scenario sc(cfg);
    tcp::Tcb* c = sc.handshake();
    sc.stack.send(*c, "lost", 4);
    sc.expect(kAck | kPsh, sc.e(1), 1001);
    Nanos rto = ms(200);
    for (int i = 0; i < 3; ++i) {
        sc.advance(rto - ms(1));
        sc.expect_none();
        sc.advance(ms(1));
        Out r = sc.expect(kAck | kPsh, sc.e(1), 1001);
        CHECK(r.payload == "lost");
        rto *= 2;
    }
    sc.advance(rto);
    sc.expect(kRst | kAck, sc.e(5), 1001);
    CHECK(sc.app.last_error == ETIMEDOUT);
    CHECK(sc.stats()[Counter::rtx_data] == 3);
    CHECK(sc.stats().rst(tcp::RstReason::rtx_timeout) == 1);
}

TEST_CASE("RTO: the estimator follows RFC 6298 and the retransmission restores the flow",
          "[timers]") {
    Scenario sc;
    tcp::Tcb* c = sc.handshake();
    sc.stack.send(*c, "a", 1);
    sc.expect(kAck | kPsh, sc.e(1), 1001);
    sc.advance(ms(300)); // RTO 200 ms fires at 200
    sc.expect(kAck | kPsh, sc.e(1), 1001);
    sc.peer(kAck, 1001, sc.e(2));
    CHECK(c->snd.una == sc.e(2));
    CHECK_FALSE(c->rtx_timer.armed());
    // A clean RTT sample of 50 ms: SRTT 50 ms, RTTVAR 25 ms, RTO = max(200 ms, 150 ms).
    sc.stack.send(*c, "b", 1);
    sc.expect(kAck | kPsh, sc.e(2), 1001);
    sc.advance(ms(50));
    sc.peer(kAck, 1001, sc.e(3));
    CHECK(c->rto == ms(200));
}

TEST_CASE("user timeout: unacked data aborts after TCP_USER_TIMEOUT", "[timers]") {
    Scenario sc;
    tcp::Tcb* c = sc.handshake();
    sc.stack.set_user_timeout(*c, sec(1));
    sc.stack.send(*c, "lost", 4);
    sc.expect(kAck | kPsh, sc.e(1), 1001);
    int rtx = 0;
    for (int i = 0; i < 40 && sc.app.closed == 0; ++i) {
        sc.advance(ms(100));
        while (sc.pending() > 0) {
            Out o = sc.next();
            if (o.flags & kRst) {
                CHECK(sc.now() - sec(1000) >= sec(1));
            } else {
                ++rtx;
            }
        }
    }
    CHECK(sc.app.last_error == ETIMEDOUT);
    CHECK(rtx == 2); // at 200 ms and 600 ms; at 1.4 s the user timeout has passed
    CHECK(sc.stats().expiry(TimerKind::user_timeout) == 1);
}
