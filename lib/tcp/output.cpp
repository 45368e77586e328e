// Output: building segments from a control block, deciding what may be sent (window, congestion
// window, Nagle), ACK generation, RST generation, and the RTT estimator and RTO (RFC 6298).
#include "tcp/stack.hpp"

#include <rte_mbuf.h>

#include <algorithm>

namespace tcpterm::tcp {

Tcb::Tcb() noexcept = default;

std::uint32_t Tcb::unsent() const noexcept {
    // Bytes in the send queue start at SND.UNA (once the SYN is acked).
    const std::uint32_t sent = snd.nxt - snd.una;
    return snd_q.bytes() > sent ? snd_q.bytes() - sent : 0;
}

std::uint16_t TcpStack::window_to_advertise(Tcb& c) noexcept {
    const std::uint32_t used = c.rcv_q.bytes();
    std::uint32_t space = c.rd_shutdown ? c.rcv_buf : (used >= c.rcv_buf ? 0 : c.rcv_buf - used);
    // Receiver-side silly window avoidance (RFC 9293 3.8.6.2.2): do not advertise a sliver.
    if (space < std::min<std::uint32_t>(c.rcv_buf / 2, c.mss)) {
        space = 0;
    }
    // Never move the right edge left (RFC 9293 3.8.6.2.1).
    const std::uint32_t promised =
        seq_gt(c.rcv.adv_edge, c.rcv.nxt) ? c.rcv.adv_edge - c.rcv.nxt : 0;
    std::uint32_t wnd = std::max(space, promised);
    std::uint32_t field = wnd >> c.rcv.wscale;
    if (field > 0xFFFF) {
        field = 0xFFFF;
    }
    wnd = field << c.rcv.wscale;
    c.rcv.wnd = wnd;
    if (seq_gt(c.rcv.nxt + wnd, c.rcv.adv_edge)) {
        c.rcv.adv_edge = c.rcv.nxt + wnd;
    }
    return static_cast<std::uint16_t>(field);
}

void TcpStack::emit_segment(Tcb& c, std::uint8_t flags, Seq seq, std::uint32_t len,
                            bool syn_opts) noexcept {
    rte_mbuf* m = rte_pktmbuf_alloc(mp_);
    if (m == nullptr) {
        ++stats_[Counter::mbuf_exhausted];
        return;
    }
    if (len > 0) {
        auto* p =
            reinterpret_cast<std::uint8_t*>(rte_pktmbuf_append(m, static_cast<std::uint16_t>(len)));
        if (p == nullptr || c.snd_q.copy_out(seq - c.snd.una, p, len) != len) {
            rte_pktmbuf_free(m);
            ++stats_[Counter::mbuf_exhausted];
            return;
        }
    }
    net::TcpFields f;
    f.tuple = c.key;
    f.seq = seq;
    f.flags = flags;
    f.ttl = cfg_.tcp.ttl;
    f.ip_id = ip_id_++;
    if (flags & net::kAck) {
        f.ack = c.rcv.nxt;
    }
    if (flags & net::kSyn) {
        // The window in a SYN or SYN-ACK is never scaled (RFC 7323 2.2).
        const std::uint32_t space = c.rcv_buf - std::min(c.rcv_buf, c.rcv_q.bytes());
        f.window = static_cast<std::uint16_t>(std::min<std::uint32_t>(space, 0xFFFF));
        c.rcv.adv_edge = c.rcv.nxt + f.window;
    } else {
        f.window = window_to_advertise(c);
    }
    if (syn_opts) {
        f.syn_options = true;
        f.opts.has_mss = true;
        f.opts.mss = cfg_.tcp.mss;
        const bool active = (flags & net::kAck) == 0;
        if (active ? cfg_.tcp.window_scaling : c.ws_ok) {
            f.opts.has_wscale = true;
            f.opts.wscale = c.rcv.wscale;
        }
        if (active ? cfg_.tcp.timestamps : c.ts_ok) {
            f.opts.has_ts = true;
            f.opts.ts_val = ts_now(c);
            f.opts.ts_ecr = active ? 0 : c.ts_recent;
        }
    } else if (c.ts_ok) {
        f.opts.has_ts = true;
        f.opts.ts_val = ts_now(c);
        f.opts.ts_ecr = c.ts_recent;
    }
    if (!net::prepend_ipv4_tcp(m, f, cfg_.checksum)) {
        rte_pktmbuf_free(m);
        ++stats_[Counter::mbuf_exhausted];
        return;
    }
    ++stats_[Counter::segs_out];
    if (flags & net::kAck) {
        c.ack_pending = false;
        c.unacked_segs = 0;
        wheel_.cancel(c.delack_timer);
    }
    if (len > 0 || (flags & (net::kSyn | net::kFin))) {
        c.last_tx = now_;
    }
    sink_.emit(m);
}

void TcpStack::send_ack(Tcb& c) noexcept {
    emit_segment(c, net::kAck, c.snd.nxt, 0, false);
}

void TcpStack::send_syn(Tcb& c) noexcept {
    const bool synack = c.state == State::syn_recv;
    emit_segment(c, synack ? (net::kSyn | net::kAck) : net::kSyn, c.snd.iss, 0, true);
}

// Keepalive and zero-window probe: an old sequence number and no data, which the peer must
// answer with an ACK carrying its current window (RFC 9293 3.8.4; Linux tcp_write_wakeup).
void TcpStack::send_probe(Tcb& c) noexcept {
    emit_segment(c, net::kAck, c.snd.una - 1, 0, false);
}

void TcpStack::send_rst(Tcb& c, RstReason why) noexcept {
    ++stats_.rst(why);
    emit_segment(c, net::kRst | net::kAck, c.snd.nxt, 0, false);
}

// RFC 9293 3.10.7.1: a segment for no connection gets <SEQ=SEG.ACK><CTL=RST> if it has an ACK,
// else <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>. A RST is never answered.
void TcpStack::send_rst_for(const net::TcpSegment& seg, RstReason why) noexcept {
    if (seg.flags & net::kRst) {
        return;
    }
    rte_mbuf* m = rte_pktmbuf_alloc(mp_);
    if (m == nullptr) {
        ++stats_[Counter::mbuf_exhausted];
        return;
    }
    net::TcpFields f;
    f.tuple = seg.tuple; // local view already: laddr = our address
    f.ttl = cfg_.tcp.ttl;
    f.ip_id = ip_id_++;
    if (seg.flags & net::kAck) {
        f.seq = seg.ack;
        f.flags = net::kRst;
    } else {
        std::uint32_t seg_len = seg.payload_len;
        seg_len += (seg.flags & net::kSyn) ? 1 : 0;
        seg_len += (seg.flags & net::kFin) ? 1 : 0;
        f.seq = 0;
        f.ack = seg.seq + seg_len;
        f.flags = net::kRst | net::kAck;
    }
    if (!net::prepend_ipv4_tcp(m, f, cfg_.checksum)) {
        rte_pktmbuf_free(m);
        return;
    }
    ++stats_.rst(why);
    ++stats_[Counter::segs_out];
    sink_.emit(m);
}

// RFC 5961 section 7: challenge ACKs are limited per core per second. The budget of each second
// is randomised around the limit (limit/2 .. 3*limit/2), as Linux does since CVE-2016-5696: a
// fixed, shared counter lets an off-path attacker count our challenge ACKs and infer sequence
// numbers.
bool TcpStack::challenge_ack(Tcb& c) noexcept {
    if (now_ - challenge_window_start_ >= kNsPerSec) {
        challenge_window_start_ = now_;
        const std::uint32_t limit = cfg_.tcp.challenge_ack_limit;
        rng_ ^= rng_ << 13;
        rng_ ^= rng_ >> 7;
        rng_ ^= rng_ << 17;
        challenge_budget_ =
            limit <= 1 ? limit : limit / 2 + static_cast<std::uint32_t>(rng_ % (limit + 1));
    }
    if (challenge_budget_ == 0) {
        ++stats_[Counter::challenge_acks_limited];
        return false;
    }
    --challenge_budget_;
    ++stats_[Counter::challenge_acks];
    send_ack(c);
    return true;
}

void TcpStack::oow_ack(Tcb& c) noexcept {
    const Nanos limit = cfg_.tcp.invalid_ratelimit;
    if (limit > 0 && c.last_oow_ack != 0 && now_ - c.last_oow_ack < limit) {
        ++stats_[Counter::oow_acks_limited];
        return;
    }
    c.last_oow_ack = now_;
    send_ack(c);
}

void TcpStack::arm_rtx(Tcb& c) noexcept {
    c.rtx_timer.set_kind(static_cast<std::uint8_t>(TimerKind::rtx));
    wheel_.start(c.rtx_timer, now_ + c.rto);
}

// RFC 6298 2.2-2.4 with Linux's minimum RTO; `sample` in ns.
void TcpStack::update_rtt(Tcb& c, Nanos sample) noexcept {
    if (sample == 0) {
        sample = 1;
    }
    if (c.srtt == 0) {
        c.srtt = sample;
        c.rttvar = sample / 2;
    } else {
        const Nanos err = c.srtt > sample ? c.srtt - sample : sample - c.srtt;
        c.rttvar = (3 * c.rttvar + err) / 4;
        c.srtt = (7 * c.srtt + sample) / 8;
    }
    c.rto = std::clamp(c.srtt + std::max<Nanos>(cfg_.timer_tick, 4 * c.rttvar), cfg_.tcp.rto_min,
                       cfg_.tcp.rto_max);
}

std::uint32_t TcpStack::retransmit_first(Tcb& c) noexcept {
    const std::uint32_t data_in_flight = std::min(c.snd_q.bytes(), c.snd.max - c.snd.una);
    if (data_in_flight > 0) {
        const std::uint32_t len = std::min<std::uint32_t>(data_in_flight, c.mss);
        // The FIN rides on the last byte, as it did the first time.
        const bool with_fin =
            c.fin_sent && len == c.snd_q.bytes() && c.snd.max - c.snd.una == len + 1;
        ++stats_[Counter::rtx_data];
        emit_segment(
            c, net::kAck | (len == c.snd_q.bytes() ? net::kPsh : 0) | (with_fin ? net::kFin : 0),
            c.snd.una, len, false);
        return len + (with_fin ? 1 : 0);
    }
    if (c.fin_sent && c.snd.max - c.snd.una == 1) {
        ++stats_[Counter::rtx_fin];
        emit_segment(c, net::kFin | net::kAck, c.snd.una, 0, false);
        return 1;
    }
    return 0;
}

void TcpStack::maybe_window_update(Tcb& c) noexcept {
    if (!synchronized(c.state) || c.fin_received) {
        return;
    }
    // Announce a window that grew by at least two segments or half the buffer (RFC 9293
    // 3.8.6.2.2), typically after the application drained a full receive queue.
    const std::uint32_t old_edge = c.rcv.adv_edge;
    const std::uint32_t used = c.rcv_q.bytes();
    const std::uint32_t space = used >= c.rcv_buf ? 0 : c.rcv_buf - used;
    const std::uint32_t new_edge = c.rcv.nxt + space;
    if (seq_gt(new_edge, old_edge) &&
        new_edge - old_edge >= std::min<std::uint32_t>(c.rcv_buf / 2, 2u * c.mss)) {
        ++stats_[Counter::window_updates];
        send_ack(c);
    }
}

// Sends what the windows allow: data (Nagle unless nodelay), then the FIN once the queue is
// drained and the application shut the write side. Arms the retransmission or persist timer.
void TcpStack::output(Tcb& c) noexcept {
    if (c.dead) {
        return;
    }
    const State s = c.state;
    const bool can_send_data = s == State::established || s == State::close_wait ||
                               s == State::fin_wait1 || s == State::last_ack || s == State::closing;
    bool sent = false;
    if (can_send_data) {
        const bool closing_state =
            s == State::fin_wait1 || s == State::last_ack || s == State::closing;
        const bool fin_due = closing_state && c.wr_shutdown;
        for (;;) {
            const std::uint32_t unsent = c.unsent();
            if (unsent == 0) {
                break;
            }
            const std::uint32_t wnd = std::min(c.snd.wnd, c.cwnd);
            const std::uint32_t flight = c.snd.nxt - c.snd.una;
            const std::uint32_t usable = wnd > flight ? wnd - flight : 0;
            std::uint32_t len = std::min<std::uint32_t>({unsent, c.mss, usable});
            if (len == 0) {
                break;
            }
            if (len < c.mss && len < unsent && len < c.snd.max_wnd / 2 && !c.sws_override) {
                break; // sender-side silly window avoidance (RFC 9293 3.8.6.2.1)
            }
            if (len < c.mss && flight > 0 && !c.nodelay && !c.wr_shutdown) {
                break; // Nagle (RFC 896): one small segment in flight at a time
            }
            const Seq seq = c.snd.nxt;
            const bool last = len == unsent;
            const bool with_fin = last && fin_due; // FIN on the last byte, as Linux does
            const std::uint8_t flags =
                net::kAck | (last ? net::kPsh : 0) | (with_fin ? net::kFin : 0);
            if (c.rtt_start == 0 && !seq_lt(seq, c.snd.max)) {
                c.rtt_start = now_; // Karn: time only first transmissions
                c.rtt_seq = seq + len;
            }
            emit_segment(c, flags, seq, len, false);
            c.snd.nxt += len + (with_fin ? 1 : 0);
            if (with_fin) {
                c.fin_sent = true;
            }
            if (seq_gt(c.snd.nxt, c.snd.max)) {
                stats_[Counter::bytes_out] +=
                    std::min<std::uint32_t>(len, c.snd.nxt - seq_max(seq, c.snd.max));
                c.snd.max = c.snd.nxt;
            }
            sent = true;
        }
        // A FIN on its own when the data went out earlier.
        if (fin_due && c.unsent() == 0 && c.snd.nxt == c.snd.una + c.snd_q.bytes()) {
            const Seq fin_seq = c.snd.nxt;
            emit_segment(c, net::kFin | net::kAck, fin_seq, 0, false);
            c.fin_sent = true;
            c.snd.nxt = fin_seq + 1;
            if (seq_gt(c.snd.nxt, c.snd.max)) {
                c.snd.max = c.snd.nxt;
            }
            sent = true;
        }
    }
    if (c.snd.nxt != c.snd.una) {
        if (!c.rtx_timer.armed() ||
            c.rtx_timer.kind() != static_cast<std::uint8_t>(TimerKind::rtx)) {
            if (c.rtx_first == 0) {
                c.rtx_first = now_; // oldest unacked transmission: the user timeout counts from it
            }
            arm_rtx(c);
        }
    } else if (c.unsent() > 0 && can_send_data) {
        // Nothing in flight and data waiting: a zero window, or one too small to send into
        // (silly window avoidance). Either way the persist timer must run, or the connection
        // (an orphan too) would wait forever for a window update that may never come.
        if (!c.rtx_timer.armed()) {
            if (c.zero_wnd_since == 0) {
                c.zero_wnd_since = now_;
            }
            c.rtx_timer.set_kind(static_cast<std::uint8_t>(TimerKind::persist));
            wheel_.start(c.rtx_timer, now_ + c.rto);
        }
    }
    if (!sent && c.ack_pending && (cfg_.tcp.quickack || c.unacked_segs >= 2)) {
        send_ack(c);
    }
}

} // namespace tcpterm::tcp
