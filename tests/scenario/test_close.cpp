// Closing (shared/TEARDOWN.md): active, passive and simultaneous close, the orphan timers and
// retry limits, half-close, shutdown(RD), abortive closes (unread data, linger 0), linger with a
// timeout, CLOSE_WAIT timeout, data around the FIN.
#include "harness.hpp"

#include <catch2/catch.hpp>

#include <cerrno>

using namespace tcpterm;
using namespace tcpterm::test;
using tcp::Counter;
using tcp::State;
using tcp::TimerKind;

TEST_CASE("active close: FIN_WAIT1 -> FIN_WAIT2 -> TIME_WAIT -> CLOSED at exactly 2MSL",
          "[close]") {
    Scenario sc;
    tcp::Tcb* c = sc.handshake();
    sc.stack.close(*c);
    sc.expect(kFin | kAck, sc.e(1), 1001);
    CHECK(sc.state() == State::fin_wait1);
    sc.peer(kAck, 1001, sc.e(2));
    CHECK(sc.state() == State::fin_wait2);
    sc.peer(kFin | kAck, 1001, sc.e(2));
    sc.expect(kAck, sc.e(2), 1002);
    CHECK(sc.state() == State::time_wait);
    CHECK(sc.tw_count() == 1);
    CHECK(sc.stack.tcb_count() == 0); // the control block is gone, the record remains
    CHECK(sc.stats().in_state(State::time_wait) == 1);
    sc.advance(sec(60) - ms(1));
    CHECK(sc.state() == State::time_wait);
    sc.advance(ms(1));
    CHECK(sc.state() == State::closed);
    CHECK(sc.tw_count() == 0);
    CHECK(sc.stats().expiry(TimerKind::time_wait) == 1);
    CHECK(sc.stats().transition(State::fin_wait2, State::time_wait) == 1);
    CHECK(sc.stats().transition(State::time_wait, State::closed) == 1);
    sc.expect_none();
}

TEST_CASE("FIN+ACK in FIN_WAIT1 goes straight to TIME_WAIT", "[close]") {
    Scenario sc;
    tcp::Tcb* c = sc.handshake();
    sc.stack.close(*c);
    sc.expect(kFin | kAck, sc.e(1), 1001);
    sc.peer(kFin | kAck, 1001, sc.e(2));
    sc.expect(kAck, sc.e(2), 1002);
    CHECK(sc.state() == State::time_wait);
    CHECK(sc.stats().transition(State::fin_wait1, State::time_wait) == 1);
}

TEST_CASE("simultaneous close: FIN crosses FIN -> CLOSING -> TIME_WAIT", "[close]") {
    Scenario sc;
    tcp::Tcb* c = sc.handshake();
    sc.stack.close(*c);
    sc.expect(kFin | kAck, sc.e(1), 1001);
    sc.peer(kFin | kAck, 1001, sc.e(1)); // their FIN, not acking ours
    sc.expect(kAck, sc.e(2), 1002);
    CHECK(sc.state() == State::closing);
    sc.peer(kAck, 1002, sc.e(2));
    CHECK(sc.state() == State::time_wait);
    CHECK(sc.stats().transition(State::closing, State::time_wait) == 1);
}

TEST_CASE("passive close: CLOSE_WAIT -> LAST_ACK -> CLOSED, no TIME_WAIT", "[close]") {
    Scenario sc;
    tcp::Tcb* c = sc.handshake();
    sc.peer(kFin | kAck, 1001, sc.e(1));
    sc.expect(kAck, sc.e(1), 1002);
    CHECK(sc.state() == State::close_wait);
    CHECK(sc.app.peer_fins == 1);
    CHECK(sc.stack.peer_closed(*c));
    char buf[8];
    CHECK(sc.stack.recv(*c, buf, sizeof buf) == 0); // end of stream
    sc.stack.close(*c);
    sc.expect(kFin | kAck, sc.e(1), 1002);
    CHECK(sc.state() == State::last_ack);
    sc.peer(kAck, 1002, sc.e(2));
    CHECK(sc.state() == State::closed);
    CHECK(sc.tw_count() == 0);
    CHECK(sc.app.closed == 0); // an orphan is not called back
    sc.expect_none();
}

TEST_CASE("passive close by shutdown(WR): the application is told the close completed", "[close]") {
    Scenario sc;
    tcp::Tcb* c = sc.handshake();
    sc.peer(kFin | kAck, 1001, sc.e(1));
    sc.expect(kAck, sc.e(1), 1002);
    sc.stack.shutdown(*c, tcp::Shutdown::wr);
    sc.expect(kFin | kAck, sc.e(1), 1002);
    sc.peer(kAck, 1002, sc.e(2));
    CHECK(sc.app.closed == 1);
    CHECK(sc.app.last_error == 0);
}

namespace {
// Expects `n` retransmissions of the same segment with RTO back-off starting at `rto`.
Nanos expect_backoff(Scenario& sc, int n, Nanos rto, std::uint8_t flags, std::uint32_t seq,
                     std::uint32_t ack) {
    for (int i = 0; i < n; ++i) {
        sc.advance(rto - ms(1));
        sc.expect_none();
        sc.advance(ms(1));
        sc.expect(flags, seq, ack);
        rto *= 2;
    }
    return rto;
}
} // namespace

TEST_CASE("LAST_ACK with the ACK lost: FIN retransmitted, closed after the orphan retries",
          "[close]") {
    Scenario sc;
    tcp::Tcb* c = sc.handshake();
    sc.peer(kFin | kAck, 1001, sc.e(1));
    sc.expect(kAck, sc.e(1), 1002);
    sc.stack.close(*c);
    sc.expect(kFin | kAck, sc.e(1), 1002);
    // RTO after the handshake's RTT sample is the 200 ms minimum.
    const Nanos last = expect_backoff(sc, 8, ms(200), kFin | kAck, sc.e(1), 1002);
    sc.advance(last);
    sc.expect_none();
    CHECK(sc.state() == State::closed);
    CHECK(sc.stats()[Counter::rtx_fin] == 8);
    CHECK(sc.stats()[Counter::orphans_closed] == 1);
    CHECK(sc.stats().transition(State::last_ack, State::closed) == 1);
}

TEST_CASE("FIN_WAIT1 with the ACK lost: FIN back-off, CLOSED after orphan_retries", "[close]") {
    tcp::StackConfig cfg = Scenario::defaults();
    cfg.tcp.orphan_retries = 3;
    Scenario sc(cfg);
    tcp::Tcb* c = sc.handshake();
    sc.stack.close(*c);
    sc.expect(kFin | kAck, sc.e(1), 1001);
    const Nanos last = expect_backoff(sc, 3, ms(200), kFin | kAck, sc.e(1), 1001);
    sc.advance(last);
    sc.expect_none(); // given up without a RST, as Linux
    CHECK(sc.state() == State::closed);
    CHECK(sc.stats().transition(State::fin_wait1, State::closed) == 1);
}

TEST_CASE("FIN_WAIT2 timeout for an orphan (fin_timeout)", "[close]") {
    Scenario sc;
    tcp::Tcb* c = sc.handshake();
    sc.stack.close(*c);
    sc.expect(kFin | kAck, sc.e(1), 1001);
    sc.peer(kAck, 1001, sc.e(2));
    CHECK(sc.state() == State::fin_wait2);
    sc.advance(sec(60) - ms(1));
    CHECK(sc.state() == State::fin_wait2);
    sc.advance(ms(1));
    CHECK(sc.state() == State::closed);
    CHECK(sc.stats().expiry(TimerKind::fin_wait2) == 1);
    sc.expect_none();
}

TEST_CASE("no FIN_WAIT2 timeout after shutdown(WR) while the application owns it", "[close]") {
    Scenario sc;
    tcp::Tcb* c = sc.handshake();
    sc.stack.shutdown(*c, tcp::Shutdown::wr);
    sc.expect(kFin | kAck, sc.e(1), 1001);
    sc.peer(kAck, 1001, sc.e(2));
    CHECK(sc.state() == State::fin_wait2);
    sc.advance(sec(600));
    CHECK(sc.state() == State::fin_wait2);
    CHECK(sc.stats().expiry(TimerKind::fin_wait2) == 0);
    // Once the application closes, it is an orphan and fin_timeout applies.
    sc.stack.close(*c);
    sc.advance(sec(60));
    CHECK(sc.state() == State::closed);
    CHECK(sc.stats().expiry(TimerKind::fin_wait2) == 1);
}

TEST_CASE("half-close: shutdown(WR), then keep receiving until the peer's FIN", "[close]") {
    Scenario sc;
    tcp::Tcb* c = sc.handshake();
    sc.stack.send(*c, "request", 7);
    sc.expect(kAck | kPsh, sc.e(1), 1001);
    CHECK(sc.stack.shutdown(*c, tcp::Shutdown::wr) == 0);
    sc.expect(kFin | kAck, sc.e(8), 1001);
    CHECK(sc.stack.send(*c, "x", 1) == -EPIPE);
    sc.peer(kAck, 1001, sc.e(9));
    sc.peer(kAck | kPsh, 1001, sc.e(9), {.data = "response"});
    CHECK(sc.app.received == "response");
    sc.peer(kFin | kAck, 1009, sc.e(9));
    sc.expect(kAck, sc.e(9), 1010);
    CHECK(sc.state() == State::time_wait);
    CHECK(sc.app.closed == 1);
    CHECK(sc.app.last_error == 0);
}

TEST_CASE("shutdown(RD): later data is acknowledged and discarded", "[close]") {
    Scenario sc;
    tcp::Tcb* c = sc.handshake();
    sc.stack.shutdown(*c, tcp::Shutdown::rd);
    sc.peer(kAck, 1001, sc.e(1), {.data = "ignored"});
    sc.peer(kAck, 1008, sc.e(1), {.data = "too"});
    sc.expect(kAck, sc.e(1), 1011);
    CHECK(sc.app.received.empty());
    CHECK(sc.app.readable == 0);
    CHECK(sc.stats()[Counter::rd_discarded_bytes] == 10);
    CHECK(sc.state() == State::established);
}

TEST_CASE("close with unread data sends RST, not FIN (RFC 2525 2.17)", "[close]") {
    Scenario sc;
    sc.app.auto_read = false;
    tcp::Tcb* c = sc.handshake();
    sc.peer(kAck | kPsh, 1001, sc.e(1), {.data = "unread"});
    sc.stack.close(*c);
    sc.expect(kRst | kAck, sc.e(1), 1007);
    sc.expect_none();
    CHECK(sc.state() == State::closed);
    CHECK(sc.tw_count() == 0);
    CHECK(sc.stats()[Counter::close_unread_rst] == 1);
    CHECK(sc.stats().rst(tcp::RstReason::close_unread) == 1);
}

TEST_CASE("linger 0: RST at once, send queue discarded, no TIME_WAIT", "[close]") {
    Scenario sc;
    tcp::Tcb* c = sc.handshake(1000, {.win = 0, .mss = 1460});
    sc.stack.send(*c, "queued", 6); // window 0: stays queued
    sc.stack.set_linger(*c, true, 0);
    sc.stack.close(*c);
    sc.expect(kRst | kAck, sc.e(1), 1001);
    sc.expect_none();
    CHECK(sc.state() == State::closed);
    CHECK(sc.tw_count() == 0);
    CHECK(sc.stats()[Counter::conn_aborted] == 1);
    sc.advance(sec(10));
    sc.expect_none();
}

TEST_CASE("linger T with data unacked: RST after T, application told ETIMEDOUT", "[close]") {
    Scenario sc;
    tcp::Tcb* c = sc.handshake();
    sc.stack.set_linger(*c, true, sec(5));
    sc.stack.send(*c, "x", 1);
    sc.expect(kAck | kPsh, sc.e(1), 1001);
    sc.stack.close(*c);
    sc.expect(kFin | kAck, sc.e(2), 1001);
    Out last;
    for (int i = 0; i < 50 && sc.app.closed == 0; ++i) {
        sc.advance(ms(100));
        while (sc.pending() > 0) {
            last = sc.next();
        }
    }
    CHECK(flags_str(last.flags) == flags_str(kRst | kAck));
    CHECK(sc.app.closed == 1);
    CHECK(sc.app.last_error == ETIMEDOUT);
    CHECK(sc.now() - sec(1000) == sec(5));
    CHECK(sc.stats().rst(tcp::RstReason::linger_timeout) == 1);
}

TEST_CASE("linger T acked in time: normal FIN close, application told 0", "[close]") {
    Scenario sc;
    tcp::Tcb* c = sc.handshake();
    sc.stack.set_linger(*c, true, sec(5));
    sc.stack.close(*c);
    sc.expect(kFin | kAck, sc.e(1), 1001);
    sc.peer(kAck, 1001, sc.e(2));
    CHECK(sc.app.closed == 1);
    CHECK(sc.app.last_error == 0);
    sc.advance(sec(6));
    sc.expect_none(); // no RST: linger timer cancelled
}

TEST_CASE("FIN with data: bytes delivered, then end of stream", "[close]") {
    Scenario sc;
    sc.handshake();
    sc.peer(kFin | kAck | kPsh, 1001, sc.e(1), {.data = "bye"});
    sc.expect(kAck, sc.e(1), 1005);
    CHECK(sc.app.received == "bye");
    CHECK(sc.app.peer_fins == 1);
    CHECK(sc.state() == State::close_wait);
}

TEST_CASE("data after the peer's FIN is ignored", "[close]") {
    Scenario sc;
    sc.handshake();
    sc.peer(kFin | kAck, 1001, sc.e(1));
    sc.expect(kAck, sc.e(1), 1002);
    sc.peer(kAck, 1002, sc.e(1), {.data = "late"});
    CHECK(sc.app.received.empty());
    CHECK(sc.stats().drop(tcp::TcpDrop::data_after_fin) == 1);
}

TEST_CASE("data for an orphan (after close) is answered with RST", "[close]") {
    Scenario sc;
    tcp::Tcb* c = sc.handshake();
    sc.stack.close(*c);
    sc.expect(kFin | kAck, sc.e(1), 1001);
    sc.peer(kAck, 1001, sc.e(2), {.data = "more"});
    sc.expect(kRst | kAck, sc.e(2), 1001);
    CHECK(sc.state() == State::closed);
    CHECK(sc.stats().rst(tcp::RstReason::data_after_close) == 1);
}

TEST_CASE("CLOSE_WAIT timeout when configured: RST and ETIMEDOUT", "[close]") {
    tcp::StackConfig cfg = Scenario::defaults();
    cfg.tcp.close_wait_timeout = sec(5);
    Scenario sc(cfg);
    sc.handshake();
    sc.peer(kFin | kAck, 1001, sc.e(1));
    sc.expect(kAck, sc.e(1), 1002);
    sc.advance(sec(5) - ms(1));
    sc.expect_none();
    sc.advance(ms(1));
    sc.expect(kRst | kAck, sc.e(1), 1002);
    CHECK(sc.app.last_error == ETIMEDOUT);
    CHECK(sc.stats().expiry(TimerKind::close_wait) == 1);
}

TEST_CASE("CLOSE_WAIT has no timeout by default", "[close]") {
    Scenario sc;
    sc.handshake();
    sc.peer(kFin | kAck, 1001, sc.e(1));
    sc.expect(kAck, sc.e(1), 1002);
    sc.advance(sec(3600));
    sc.expect_none();
    CHECK(sc.state() == State::close_wait);
    CHECK(sc.stats().in_state(State::close_wait) == 1);
}

TEST_CASE("queued data goes out before the FIN", "[close]") {
    Scenario sc;
    tcp::Tcb* c = sc.handshake(1000, {.win = 10, .mss = 1460});
    sc.stack.send(*c, "0123456789abcdef", 16);
    sc.expect(kAck, sc.e(1), 1001); // 10 bytes fit
    sc.stack.close(*c);
    sc.expect_none(); // 6 bytes and the FIN wait for the window
    sc.peer(kAck, 1001, sc.e(11), {.win = 100});
    Out d = sc.expect(kFin | kAck | kPsh, sc.e(11), 1001); // FIN rides on the last byte
    CHECK(d.payload == "abcdef");
    sc.expect_none();
}

TEST_CASE("half-closed: data and FIN arriving in FIN_WAIT2 reach the application before TIME_WAIT",
          "[close]") {
    Scenario sc;
    tcp::Tcb* c = sc.handshake();
    sc.stack.shutdown(*c, tcp::Shutdown::wr);
    sc.expect(kFin | kAck, sc.e(1), 1001);
    sc.peer(kAck, 1001, sc.e(2));
    sc.peer(kFin | kAck | kPsh, 1001, sc.e(2), {.data = "last words"});
    sc.expect(kAck, sc.e(2), 1012);
    CHECK(sc.app.received == "last words");
    CHECK(sc.app.peer_fins == 1);
    CHECK(sc.app.closed == 1);
    CHECK(sc.state() == State::time_wait);
}

TEST_CASE("linger T with unread data: still an abortive close, no callback", "[close]") {
    Scenario sc;
    sc.app.auto_read = false;
    tcp::Tcb* c = sc.handshake();
    sc.stack.set_linger(*c, true, sec(5));
    sc.peer(kAck | kPsh, 1001, sc.e(1), {.data = "unread"});
    sc.stack.close(*c);
    sc.expect(kRst | kAck, sc.e(1), 1007);
    CHECK(sc.app.closed == 0);
    CHECK(sc.state() == State::closed);
}
