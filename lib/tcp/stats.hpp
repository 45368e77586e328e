// Per-core TCP counters, each list defined once (X-macros, as VPP does): the enum, the names
// (used as telemetry keys and by tcpterm-ctl) and the one-line descriptions (used in the docs)
// all come from these lists. A worker increments plain integers; telemetry reads them without
// locks (aligned 64-bit loads are atomic on the platforms DPDK supports).
#pragma once

#include "net/drop.hpp"
#include "tcp/state.hpp"

#include <array>
#include <cstdint>
#include <string_view>

namespace tcpterm::tcp {

#define TCPTERM_TCP_COUNTERS(X)                                                                    \
    X(segs_in, "valid TCP segments received")                                                      \
    X(segs_out, "TCP segments sent")                                                               \
    X(bytes_in, "payload bytes accepted in order")                                                 \
    X(bytes_out, "payload bytes sent (first transmissions)")                                       \
    X(active_opens, "connections opened with connect()")                                           \
    X(passive_opens, "connections that completed the handshake on a listener")                     \
    X(accepted, "connections handed to the application by accept()")                               \
    X(established_total, "connections that reached ESTABLISHED")                                   \
    X(rtx_data, "data segments retransmitted after an RTO")                                        \
    X(rtx_syn, "SYNs retransmitted")                                                               \
    X(rtx_synack, "SYN-ACKs retransmitted")                                                        \
    X(rtx_fin, "FINs retransmitted")                                                               \
    X(fast_retransmits, "fast retransmits: loss recoveries entered on duplicate ACKs or SACKs")     \
    X(limited_transmits, "new segments sent on the first two duplicate ACKs (RFC 3042)")          \
    X(sack_recoveries, "loss recoveries driven by the SACK scoreboard (RFC 6675)")                 \
    X(sack_rtx, "segments retransmitted by SACK recovery (lost, or below the highest SACK)")       \
    X(sack_blocks_in, "SACK blocks received that added to the scoreboard")                         \
    X(ooo_queued, "segments held out of order (beyond RCV.NXT) until the hole filled")             \
    X(ooo_bytes, "bytes delivered in order from the out-of-order queue")                           \
    X(loss_state_exhausted, "loss state needed with its pool empty (no OOO queue/SACK/CUBIC)")     \
    X(dup_acks_in, "duplicate ACKs received")                                                      \
    X(delayed_acks, "ACKs sent by the delayed-ACK timer")                                          \
    X(window_updates, "window updates sent after the application read")                            \
    X(keepalive_probes, "keepalive probes sent")                                                   \
    X(zero_window_probes, "zero-window probes sent")                                               \
    X(challenge_acks, "challenge ACKs sent (RFC 5961)")                                            \
    X(challenge_acks_limited, "challenge ACKs suppressed by challenge_ack_limit")                  \
    X(oow_acks_limited, "ACKs for unacceptable segments suppressed by invalid_ratelimit")          \
    X(synack_rtx_limited, "repeated SYNs in SYN_RECV not answered: invalid_ratelimit")             \
    X(tw_created, "connections that entered TIME_WAIT (compact record)")                           \
    X(tw_reused, "SYNs that opened a new connection on a TIME_WAIT four-tuple")                    \
    X(tw_overflow, "connections closed without TIME_WAIT because max_tw_buckets was reached")      \
    X(tw_reacked, "retransmitted FINs re-acked in TIME_WAIT (2MSL restarted)")                     \
    X(tw_old_ack, "SYNs in TIME_WAIT answered with the old ACK")                                   \
    X(tw_rst_ignored, "RSTs ignored in TIME_WAIT (RFC 1337)")                                      \
    X(close_unread_rst, "close() with unread data: RST instead of FIN (RFC 2525 2.17)")            \
    X(rd_discarded_bytes, "bytes acked and discarded after shutdown(RD)")                          \
    X(listener_resets, "connections reset because their listener closed")                          \
    X(backlog_overflow, "SYNs dropped: SYN queue full")                                            \
    X(accept_overflow, "handshakes dropped: accept queue full")                                    \
    X(conn_refused, "connect() ended by RST (ECONNREFUSED)")                                       \
    X(conn_reset, "connections reset by the peer (ECONNRESET)")                                    \
    X(conn_timeout, "connections aborted by a timeout (ETIMEDOUT)")                                \
    X(conn_aborted, "connections aborted by the application (abort, linger 0)")                    \
    X(orphans_closed, "orphaned connections closed by a retry limit or timeout")                   \
    X(pool_exhausted, "control blocks or TIME_WAIT records refused: pool empty")                   \
    X(syn_backpressure, "SYNs refused because the mbuf pool or the table is nearly full")          \
    X(syn_gate_dropped, "SYNs dropped: the application closed the listener's gate (a limit)")      \
    X(syn_gate_reset, "SYNs answered with RST: the application closed the listener's gate")        \
    X(syncookies_sent, "SYN-ACKs sent with a SYN cookie (no state kept)")                          \
    X(syncookies_validated, "connections created from a valid SYN cookie")                         \
    X(syncookies_failed, "ACKs whose SYN cookie did not validate")                                 \
    X(mbuf_exhausted, "segments not built: mbuf pool empty")

#define TCPTERM_TIMER_KINDS(X)                                                                     \
    X(rtx, "retransmission (data, SYN, SYN-ACK, FIN)")                                             \
    X(persist, "zero-window persist probe")                                                        \
    X(delack, "delayed ACK")                                                                       \
    X(keepalive, "keepalive probe or abort")                                                       \
    X(idle, "idle timeout")                                                                        \
    X(fin_wait2, "FIN_WAIT2 timeout of an orphan (fin_timeout)")                                   \
    X(time_wait, "TIME_WAIT ended (2MSL)")                                                         \
    X(close_wait, "CLOSE_WAIT timeout")                                                            \
    X(linger, "linger timeout")                                                                    \
    X(user_timeout, "user timeout (TCP_USER_TIMEOUT) abort")

#define TCPTERM_RST_REASONS(X)                                                                     \
    X(no_connection, "segment for no connection and no listener")                                  \
    X(bad_ack, "unacceptable ACK (LISTEN, SYN_SENT, SYN_RECV)")                                    \
    X(app_abort, "application abort or linger 0")                                                  \
    X(close_unread, "close() with unread received data")                                           \
    X(data_after_close, "data arrived for a closed (orphaned) connection")                         \
    X(linger_timeout, "linger timeout expired with data unacked")                                  \
    X(rtx_timeout, "retransmission limit reached")                                                 \
    X(keepalive_timeout, "keepalive probes unanswered")                                            \
    X(idle_timeout, "idle timeout (reset_on_timeout)")                                             \
    X(close_wait_timeout, "CLOSE_WAIT timeout")                                                    \
    X(user_timeout, "user timeout")                                                                \
    X(persist_timeout, "zero window timeout")                                                      \
    X(listener_closed, "listener closed with pending connections")                                 \
    X(listener_gate, "SYN refused by the listener's gate (an application limit)")                  \
    X(stack_stop, "engine stopping")

#define TCPTERM_TCP_DROPS(X)                                                                       \
    X(no_listener_rst, "segment for no connection (answered with RST)")                            \
    X(no_listener_rst_in, "RST for no connection")                                                 \
    X(listen_not_syn, "segment without SYN to a listener")                                         \
    X(out_of_window, "segment outside the receive window (answered with ACK)")                     \
    X(no_ack_flag, "segment without ACK in a synchronized state")                                  \
    X(ack_too_old, "ACK below SND.UNA - MAX.SND.WND")                                              \
    X(ack_unsent, "ACK for data not sent yet (answered with ACK)")                                 \
    X(rst_not_exact, "RST in window but not at RCV.NXT (challenge ACK, RFC 5961)")                 \
    X(syn_in_window, "SYN in a synchronized state (challenge ACK, RFC 5961)")                      \
    X(out_of_order, "segment beyond RCV.NXT not held: no loss state, queue full (dup ACK sent)")   \
    X(data_after_fin, "data after the peer's FIN")                                                 \
    X(syn_sent_bad, "segment unacceptable in SYN_SENT")                                            \
    X(syn_recv_bad_ack, "unacceptable ACK in SYN_RECV")                                            \
    X(tw_segment, "segment for a TIME_WAIT record consumed")                                       \
    X(table_full, "new connection refused: connection table full")                                 \
    X(pool_empty, "new connection refused: control block pool empty")                              \
    X(backlog_full, "SYN refused: SYN queue full")                                                 \
    X(urgent_ignored, "URG data treated as normal data")                                           \
    X(paws, "segment with a timestamp older than TS.Recent (RFC 7323 PAWS; ACK sent)")             \
    X(syncookie_bad, "ACK to a listener that is not a valid SYN cookie (RST sent)")

#define TCPTERM_ENUM_OF(n, d) n,
enum class Counter : std::uint16_t { TCPTERM_TCP_COUNTERS(TCPTERM_ENUM_OF) count };
enum class TimerKind : std::uint8_t { TCPTERM_TIMER_KINDS(TCPTERM_ENUM_OF) count };
enum class RstReason : std::uint8_t { TCPTERM_RST_REASONS(TCPTERM_ENUM_OF) count };
enum class TcpDrop : std::uint8_t { TCPTERM_TCP_DROPS(TCPTERM_ENUM_OF) count };
#undef TCPTERM_ENUM_OF

template <class E>
constexpr std::size_t count_of() {
    return static_cast<std::size_t>(E::count);
}

#define TCPTERM_NAME_OF(n, d) #n,
#define TCPTERM_DESC_OF(n, d) d,
inline constexpr std::array<std::string_view, count_of<Counter>()> kCounterNames{
    TCPTERM_TCP_COUNTERS(TCPTERM_NAME_OF)};
inline constexpr std::array<std::string_view, count_of<Counter>()> kCounterDescs{
    TCPTERM_TCP_COUNTERS(TCPTERM_DESC_OF)};
inline constexpr std::array<std::string_view, count_of<TimerKind>()> kTimerNames{
    TCPTERM_TIMER_KINDS(TCPTERM_NAME_OF)};
inline constexpr std::array<std::string_view, count_of<TimerKind>()> kTimerDescs{
    TCPTERM_TIMER_KINDS(TCPTERM_DESC_OF)};
inline constexpr std::array<std::string_view, count_of<RstReason>()> kRstNames{
    TCPTERM_RST_REASONS(TCPTERM_NAME_OF)};
inline constexpr std::array<std::string_view, count_of<RstReason>()> kRstDescs{
    TCPTERM_RST_REASONS(TCPTERM_DESC_OF)};
inline constexpr std::array<std::string_view, count_of<TcpDrop>()> kDropNames{
    TCPTERM_TCP_DROPS(TCPTERM_NAME_OF)};
inline constexpr std::array<std::string_view, count_of<TcpDrop>()> kDropDescs{
    TCPTERM_TCP_DROPS(TCPTERM_DESC_OF)};
#undef TCPTERM_NAME_OF
#undef TCPTERM_DESC_OF

/// One worker's TCP statistics.
struct TcpStats {
    std::array<std::uint64_t, count_of<Counter>()> counters{};
    std::array<std::uint64_t, count_of<TimerKind>()> timer_expiries{};
    std::array<std::uint64_t, count_of<RstReason>()> rst_sent{};
    std::array<std::uint64_t, kStateCount> rst_received{}; // by the state it arrived in
    std::array<std::uint64_t, count_of<TcpDrop>()> drops{};
    std::array<std::uint64_t, net::kNetDropCount> net_drops{};
    /// transitions[from][to]
    std::array<std::array<std::uint64_t, kStateCount>, kStateCount> transitions{};
    /// Connections in each state now (gauges). LISTEN counts listeners, TIME_WAIT counts records.
    std::array<std::int64_t, kStateCount> states{};

    std::uint64_t& operator[](Counter c) noexcept { return counters[static_cast<std::size_t>(c)]; }
    std::uint64_t operator[](Counter c) const noexcept {
        return counters[static_cast<std::size_t>(c)];
    }
    std::uint64_t& drop(TcpDrop d) noexcept { return drops[static_cast<std::size_t>(d)]; }
    std::uint64_t drop(TcpDrop d) const noexcept { return drops[static_cast<std::size_t>(d)]; }
    std::uint64_t& rst(RstReason r) noexcept { return rst_sent[static_cast<std::size_t>(r)]; }
    std::uint64_t rst(RstReason r) const noexcept { return rst_sent[static_cast<std::size_t>(r)]; }
    std::uint64_t& expiry(TimerKind k) noexcept {
        return timer_expiries[static_cast<std::size_t>(k)];
    }
    std::uint64_t expiry(TimerKind k) const noexcept {
        return timer_expiries[static_cast<std::size_t>(k)];
    }
    std::int64_t in_state(State s) const noexcept { return states[static_cast<std::size_t>(s)]; }
    std::uint64_t transition(State a, State b) const noexcept {
        return transitions[static_cast<std::size_t>(a)][static_cast<std::size_t>(b)];
    }

    /// Adds another worker's statistics (aggregation for telemetry).
    void add(const TcpStats& o) noexcept;
};

} // namespace tcpterm::tcp
