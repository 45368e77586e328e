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
        // SACK-permitted only with the sack_permitted knob: in our SYN, and in a SYN-ACK when
        // the peer's SYN had it (sack_ok). The writer puts it where Linux does: in the padding
        // before TS, or <nop,nop,sackOK> without TS.
        f.opts.sack_permitted = active ? cfg_.tcp.sack_permitted : c.sack_ok;
    } else {
        if (c.ts_ok) {
            f.opts.has_ts = true;
            f.opts.ts_val = ts_now(c);
            f.opts.ts_ecr = c.ts_recent;
        }
        // SACK blocks for what is held out of order (RFC 2018), on every ACK while it is.
        if (c.sack_ok && c.loss != nullptr && c.loss->ooo_count > 0 && (flags & net::kAck) &&
            !(flags & net::kRst)) {
            fill_sack_blocks(c, f.opts);
        }
    }
    if (!net::prepend_ipv4_tcp(m, f, cfg_.checksum)) {
        rte_pktmbuf_free(m);
        ++stats_[Counter::mbuf_exhausted];
        return;
    }
    ++stats_[Counter::segs_out];
    if (flags & net::kAck) {
        if (c.ack_pending && c.quick_acks > 0) {
            --c.quick_acks; // one quick ACK used (Linux tcp_dec_quickack_mode)
        }
        c.ack_pending = false;
        c.unacked_segs = 0;
        wheel_.cancel(c.delack_timer);
    }
    if (len > 0 || (flags & (net::kSyn | net::kFin))) {
        c.last_tx = now_;
    }
    if (len > 0 && c.sack_recovery) {
        c.loss->prr_out += len; // RFC 6937 prr_out: everything sent during the recovery
    }
    sink_.emit(m);
}

// A segment without data carries the highest sequence sent (SND.MAX), not SND.NXT: an RTO's
// go-back-N moves SND.NXT back, and a pure ACK or RST numbered below what the peer has received
// would be unacceptable to it (RFC 9293 3.10.7.4 first step) and dropped with its ACK field
// unread. With both ends retransmitting, neither SND.UNA could move again. Linux never moves
// snd_nxt back; FreeBSD numbers such segments with snd_max, as here.
void TcpStack::send_ack(Tcb& c) noexcept {
    emit_segment(c, net::kAck, seq_max(c.snd.nxt, c.snd.max), 0, false);
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
    emit_segment(c, net::kRst | net::kAck, seq_max(c.snd.nxt, c.snd.max), 0, false);
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
    // Only what the window field can carry counts (at most 65535 << Rcv.Wind.Shift, in whole
    // units of the scale, as window_to_advertise sends it): a buffer larger than that must not
    // make every read send an ACK whose window did not change.
    const std::uint64_t field_max = std::uint64_t{0xFFFF} << c.rcv.wscale;
    const auto wnd = static_cast<std::uint32_t>(std::min<std::uint64_t>(space, field_max));
    const std::uint32_t new_edge = c.rcv.nxt + ((wnd >> c.rcv.wscale) << c.rcv.wscale);
    if (seq_gt(new_edge, old_edge) &&
        new_edge - old_edge >= std::min<std::uint32_t>(c.rcv_buf / 2, 2u * c.mss)) {
        ++stats_[Counter::window_updates];
        send_ack(c);
    }
}

namespace {

// PushPolicy::linux_like: where Linux puts PSH, for segments that compare with Linux's.
//
// Linux queues data in skbs of up to size_goal bytes (half the peer's largest window, at most
// 64 KB, in whole segments: tcp_xmit_size_goal), and PSH comes from two places:
// 1. Marks (tcp_sendmsg): on the last skb of each send call (tcp_push -> tcp_mark_push, which
//    also sets pushed_seq = write_seq) and, within a long call, on each full skb that takes
//    write_seq past pushed_seq + max_window / 2 (forced_push). A later call that appends to the
//    unsent tail skb clears that skb's mark.
// 2. TSO/GSO packets (__tcp_transmit_skb): PSH on every packet of more than one segment, which
//    after segmentation is on its last MSS segment. A packet is one skb, or the part of it that
//    the windows let out.
// tcpterm cuts segments only when it sends, so it applies both there:
//  - every send()/send_mbuf() ends in output(), so a call shows as queue growth since the
//    previous output() (note_send_calls), and Linux's skbs are taken to start where the latest
//    call's data starts and to be size_goal long (skb_end);
//  - PSH on the segment that ends at the end of the queue (the latest call's last byte), or
//    exactly at the end of the call before it (Linux keeps that mark when its skb was full, and
//    only then does a segment end there);
//  - forced push on a full segment that ends an skb past pushed_seq + max_window / 2, where
//    pushed_seq follows each mark sent and never lags behind the end of the previous call;
//  - PSH on the last segment of each piece of two or more segments of a burst, a piece ending
//    where an skb ends or where the burst stops.
// Not modelled: marks of older calls still unsent, PSH on retransmissions other than at the end
// of the queue, and Linux's TSO autosizing (tcp_tso_autosize), which at low rates cuts pieces
// smaller than an skb.
void note_send_calls(Tcb& c) noexcept {
    if (!c.push_init) {
        // Nothing was sent before the first output() of a synchronized connection.
        c.push_init = true;
        c.queued_end = c.snd.una;
        c.prev_call_end = c.snd.una;
        c.pushed_seq = c.snd.una;
    }
    const Seq queue_end = c.snd.una + c.snd_q.bytes();
    if (!c.wr_shutdown && seq_gt(queue_end, c.queued_end)) { // (after the FIN, SND.UNA counts it)
        c.prev_call_end = c.queued_end;
        c.queued_end = queue_end;
    }
}

// Linux's size_goal, in bytes (whole segments, at least one).
std::uint32_t skb_size_goal(const Tcb& c) noexcept {
    const std::uint32_t mss = std::max<std::uint32_t>(c.mss, 1);
    const std::uint32_t goal = std::min<std::uint32_t>(c.snd.max_wnd / 2, 65535);
    return std::max<std::uint32_t>(1, goal / mss) * mss;
}

// Whether a segment ending at `end` ends one of Linux's skbs (see above).
bool skb_end(const Tcb& c, Seq end, std::uint32_t goal) noexcept {
    return seq_gt(end, c.prev_call_end) && (end - c.prev_call_end) % goal == 0;
}

// Rule 1 for the segment [seq, seq + len); `last`: it ends at the end of the queue.
bool linux_push_mark(Tcb& c, Seq seq, std::uint32_t len, bool last, bool at_skb_end) noexcept {
    const Seq end = seq + len;
    if (seq_gt(end, c.prev_call_end) && seq_lt(c.pushed_seq, c.prev_call_end)) {
        c.pushed_seq = c.prev_call_end; // where tcp_push left it at the end of that call
    }
    const bool forced = len == c.mss && at_skb_end && seq_gt(end, c.pushed_seq + c.snd.max_wnd / 2);
    const bool push = last || end == c.prev_call_end || forced;
    if (push && seq_gt(end, c.pushed_seq)) {
        c.pushed_seq = end;
    }
    return push;
}

} // namespace

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
        const bool linux_psh = cfg_.tcp.push_policy == PushPolicy::linux_like;
        if (linux_psh) {
            note_send_calls(c);
        }
        // What the congestion window counts as in flight: all of SND.UNA..SND.NXT, or in SACK
        // recovery RFC 6675's pipe (SACKed and lost bytes left out), plus what this call sends.
        const Seq nxt0 = c.snd.nxt;
        const std::uint32_t pipe0 = c.sack_recovery ? sack_pipe(c) : c.snd.nxt - c.snd.una;
        // The bytes that may go out at `nxt` now (0: none), given what is queued beyond it.
        const auto sendable = [&c, nxt0, pipe0](Seq nxt, std::uint32_t unsent) -> std::uint32_t {
            const std::uint32_t flight = nxt - c.snd.una;
            const std::uint32_t pipe = pipe0 + (nxt - nxt0);
            const std::uint32_t usable = std::min(c.snd.wnd > flight ? c.snd.wnd - flight : 0,
                                                  c.cwnd > pipe ? c.cwnd - pipe : 0);
            const std::uint32_t len = std::min<std::uint32_t>({unsent, c.mss, usable});
            if (len < c.mss && len < unsent && len < c.snd.max_wnd / 2 && !c.sws_override) {
                return 0; // sender-side silly window avoidance (RFC 9293 3.8.6.2.1)
            }
            if (len < c.mss && flight > 0 && !c.nodelay && !c.wr_shutdown) {
                return 0; // Nagle (RFC 896): one small segment in flight at a time
            }
            return len;
        };
        const std::uint32_t goal = linux_psh ? skb_size_goal(c) : 0;
        std::uint32_t in_packet = 0; // segments of the current TSO packet sent (rule 2)
        for (;;) {
            const std::uint32_t unsent = c.unsent();
            if (unsent == 0) {
                break;
            }
            const std::uint32_t len = sendable(c.snd.nxt, unsent);
            if (len == 0) {
                break;
            }
            const Seq seq = c.snd.nxt;
            const bool last = len == unsent;
            const bool with_fin = last && fin_due; // FIN on the last byte, as Linux does
            bool push = last;
            if (linux_psh) {
                const bool at_skb_end = skb_end(c, seq + len, goal);
                push = linux_push_mark(c, seq, len, last, at_skb_end);
                ++in_packet;
                if (last || at_skb_end || sendable(seq + len, unsent - len) == 0) {
                    push = push || in_packet > 1; // the end of a TSO packet
                    in_packet = 0;
                }
            }
            const std::uint8_t flags =
                net::kAck | (push ? net::kPsh : 0) | (with_fin ? net::kFin : 0);
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
    if (!sent && c.ack_pending && (cfg_.tcp.quickack || c.unacked_segs >= 2 || c.quick_acks > 0)) {
        send_ack(c);
    }
}

} // namespace tcpterm::tcp
