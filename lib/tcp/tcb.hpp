// Tcb: the transmission control block of one connection (RFC 9293 3.3.1), owned by one worker.
//
// The send and receive sequence variables are grouped as the RFC names them (SND.UNA, SND.NXT,
// SND.WND, SND.WL1, SND.WL2, ISS; RCV.NXT, RCV.WND, IRS), as Seastar does. The block embeds its
// table hook (ConnEntry) and its four timers, so it is created and destroyed without any other
// allocation: retransmission/persist, delayed ACK, the closing-state timer (FIN_WAIT2,
// CLOSE_WAIT, linger) and the keepalive/idle timer. Size budget: 512 bytes without buffers.
#pragma once

#include "base/clock.hpp"
#include "base/conn_table.hpp"
#include "base/timer_wheel.hpp"
#include "tcp/mbuf_queue.hpp"
#include "tcp/seq.hpp"
#include "tcp/state.hpp"
#include "tcp/stats.hpp"

#include <boost/intrusive/list_hook.hpp>

#include <cstdint>

namespace tcpterm::tcp {

class ConnHandler;
struct Listener;
struct LossState;

struct SendVars {
    Seq una = 0;           // SND.UNA: oldest unacknowledged
    Seq nxt = 0;           // SND.NXT: next to send
    Seq wl1 = 0;           // SND.WL1: segment seq of the last window update
    Seq wl2 = 0;           // SND.WL2: segment ack of the last window update
    Seq iss = 0;           // ISS
    Seq max = 0;           // highest sequence sent + 1 (SND.NXT may go back to SND.UNA on an RTO)
    std::uint32_t wnd = 0; // SND.WND, scaled to bytes
    std::uint32_t max_wnd = 0; // largest window the peer offered (RFC 5961 5.2)
    std::uint8_t wscale = 0;   // peer's window shift (Snd.Wind.Shift)
};

struct RecvVars {
    Seq nxt = 0;           // RCV.NXT
    Seq irs = 0;           // IRS
    std::uint32_t wnd = 0; // RCV.WND as last advertised (bytes)
    Seq adv_edge = 0; // right edge last advertised: the window never shrinks (RFC 9293 3.8.6.2.1)
    std::uint8_t wscale = 0; // our window shift (Rcv.Wind.Shift)
};

struct Tcb : ConnEntry {
    Tcb() noexcept;

    SendVars snd;
    RecvVars rcv;

    State state = State::closed;
    // Close bookkeeping (TEARDOWN.md).
    bool orphan = false;          // close()d: no application any more
    bool rd_shutdown = false;     // shutdown(RD): later data acked and discarded
    bool wr_shutdown = false;     // shutdown(WR) or close(): FIN after the queued data
    bool fin_sent = false;        // our FIN has a sequence number (SND.NXT counts it)
    bool fin_received = false;    // peer's FIN consumed
    bool passive = false;         // created by a listener
    bool accepted = false;        // handed to the application by accept()
    bool in_accept_queue = false; // on listener->accept_queue (else syn_queue, if linked)
    bool closed_notified = false;
    // Options negotiated on the handshake.
    bool ts_ok = false;
    bool ws_ok = false;
    bool sack_ok = false;
    // Per-connection settings.
    bool nodelay = false;
    bool keepalive = false;
    bool linger = false;
    bool reset_on_timeout = true;  // idle / close-wait timeouts send RST (else drop silently)
    bool want_writable = false;    // send() hit the buffer limit: on_writable when space opens
    bool ack_pending = false;      // an ACK is owed (delayed)
    std::uint8_t unacked_segs = 0; // full-sized segments received since our last ACK
    std::uint8_t retries = 0;      // consecutive RTO/persist/keepalive expiries
    std::uint8_t dupacks = 0;
    std::uint8_t ka_probes = 0; // keepalive probes sent and unanswered
    bool linger_notify = false; // close() with linger T: on_closed reports the outcome
    bool dead = false;          // released; freed when the stack's entry point returns
    bool sws_override =
        false; // persist expired: send into a small window once (RFC 9293 3.8.6.2.1)
    // Linux compatibility (TcpConfig::push_policy and quickack_start).
    bool push_init = false;      // queued_end, prev_call_end and pushed_seq are set
    bool quick_init = false;     // quick_acks was computed (at the first data segment)
    std::uint8_t quick_acks = 0; // ACKs still to send at once (Linux icsk_ack.quick)

    std::uint16_t mss = 536; // effective send MSS
    std::uint16_t peer_mss = 536;

    // RTT estimation and retransmission (RFC 6298), in ns.
    Nanos srtt = 0;
    Nanos rttvar = 0;
    Nanos rto = 0;
    Seq rtt_seq = 0;     // timed segment (Karn: only never-retransmitted data)
    Nanos rtt_start = 0; // 0 = nothing timed
    Nanos rtx_first = 0; // when the current retransmission episode began (user timeout)

    // PushPolicy::linux_like (output.cpp): where send calls ended and Linux's pushed_seq.
    Seq queued_end = 0;    // end of the queued data when output() last looked
    Seq prev_call_end = 0; // end of the data of the send call before the latest one
    Seq pushed_seq = 0;    // the last PSH (Linux tcp_mark_push)

    // Congestion control (cc.cpp: NewReno, RFC 5681 / 6582, or CUBIC, RFC 9438) and loss
    // recovery (NewReno's, or SACK-based, RFC 6675: sack.cpp).
    std::uint32_t cwnd = 0;
    std::uint32_t ssthresh = 0xFFFFFFFFu;
    Seq recover = 0;            // RecoveryPoint: SND.MAX when recovery (or an RTO) began
    bool in_recovery = false;   // fast recovery
    bool sack_recovery = false; // ... driven by the SACK scoreboard (else NewReno's)
    bool rto_guard = false;     // after an RTO: no fast retransmit until SND.UNA reaches recover
    LossState* loss = nullptr;  // out-of-order queue, scoreboard, CUBIC (loss.hpp); lazily taken

    // Timestamps (RFC 7323).
    std::uint32_t ts_recent = 0;
    Nanos ts_recent_stamp = 0; // when ts_recent was taken (PAWS: invalid after 24 days idle)
    std::uint32_t ts_offset = 0;

    // Activity, for keepalive and idle timeouts (lazy timers re-arm from these).
    Nanos last_rx = 0;
    Nanos last_tx = 0;
    Nanos zero_wnd_since = 0;
    Nanos last_ka_probe = 0;
    Nanos last_oow_ack = 0; // last ACK for an unacceptable segment (rate limit)

    // Per-connection timeouts (copied from the profile, changeable by the application).
    Nanos keepalive_time = 0;
    Nanos keepalive_intvl = 0;
    Nanos idle_timeout = 0;
    Nanos user_timeout = 0;
    Nanos linger_time = 0;
    std::uint32_t keepalive_probes = 0;
    std::uint32_t snd_buf = 0;
    std::uint32_t rcv_buf = 0;

    // Four timers, each carrying the TimerKind of its current use in Timer::kind().
    Timer rtx_timer;    // rtx or persist
    Timer delack_timer; // delack
    Timer wait_timer;   // fin_wait2, close_wait or linger
    Timer idle_timer;   // keepalive or idle (lazy: re-armed from last_rx/last_tx on expiry)

    MbufQueue snd_q; // bytes from SND.UNA on (unacked, then unsent)
    MbufQueue rcv_q; // in-order bytes not yet read

    ConnHandler* handler = nullptr;
    void* user = nullptr; // application context
    Listener* listener = nullptr;
    using ListHook = boost::intrusive::list_member_hook<
        boost::intrusive::link_mode<boost::intrusive::safe_link>>;
    ListHook listen_hook; // on the listener's SYN queue or accept queue

    /// Bytes sent and not acknowledged (FIN and SYN counted as one each).
    [[nodiscard]] std::uint32_t flight() const noexcept { return snd.nxt - snd.una; }
    /// Bytes queued but not sent yet.
    [[nodiscard]] std::uint32_t unsent() const noexcept;
    /// Bytes the application can still queue.
    [[nodiscard]] std::uint32_t send_space() const noexcept {
        return snd_q.bytes() >= snd_buf ? 0 : snd_buf - snd_q.bytes();
    }
};

static_assert(sizeof(Tcb) <= 512, "control block budget: 512 bytes without buffers");

} // namespace tcpterm::tcp
