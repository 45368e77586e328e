// Segment arrival in the synchronized states (RFC 9293 3.10.7.4 "SEGMENT ARRIVES"; CLOSED and
// SYN-SENT are in arrival.cpp, LISTEN in listener.cpp), written in the RFC's order: first check
// sequence number, second the RST bit (with RFC 5961's exact-match rule), fourth the SYN bit
// (challenge ACK), fifth the ACK field, seventh the segment text, eighth the FIN bit. Every
// segment that is not used is dropped with a named counter (stats.hpp).
#include "tcp/stack.hpp"

#include <rte_mbuf.h>

#include <algorithm>
#include <cerrno>

namespace tcpterm::tcp {

namespace {

// Linux's initial quick-ACK count (tcp_event_data_recv -> tcp_incr_quickack, TCP_MAX_QUICKACKS),
// taken at the first data segment: `wnd` is the receive window it arrived in, `len` its payload.
// The receiver's MSS estimate starts at min(our MSS, the send MSS, wnd / 2, 536) and becomes
// the segment's size when that is larger (tcp_initialize_rcv_mss, tcp_measure_rcv_mss).
std::uint8_t initial_quickacks(const Tcb& c, const TcpConfig& k, std::uint32_t wnd,
                               std::uint32_t len) {
    constexpr std::uint32_t kMaxQuickAcks = 16;
    constexpr std::uint32_t kMinRcvMss = 88; // TCP_MIN_MSS
    std::uint32_t rcv_mss = std::min<std::uint32_t>({k.mss, c.mss, wnd / 2, 536});
    rcv_mss = std::max(rcv_mss, kMinRcvMss);
    if (len >= rcv_mss) {
        rcv_mss = std::min<std::uint32_t>(len, k.mss);
    }
    std::uint32_t quick = wnd / (2 * rcv_mss);
    if (quick == 0) {
        quick = 2;
    }
    return static_cast<std::uint8_t>(std::min(quick, kMaxQuickAcks));
}

// RFC 9293 3.10.7.4 "first, check sequence number": the four acceptability cases, with the
// allowance for a zero window that ACK, URG and RST must still be processed (the caller drops
// the text).
bool acceptable(const Tcb& c, Seq seq, std::uint32_t seg_len) {
    const std::uint32_t wnd = seq_gt(c.rcv.adv_edge, c.rcv.nxt) ? c.rcv.adv_edge - c.rcv.nxt : 0;
    if (wnd == 0) {
        return seq == c.rcv.nxt;
    }
    const Seq end = c.rcv.nxt + wnd;
    if (seg_len == 0) {
        return seq_in(seq, c.rcv.nxt, end);
    }
    return seq_in(seq, c.rcv.nxt, end) || seq_in(seq + seg_len - 1, c.rcv.nxt, end);
}

} // namespace

// The peer's FIN ends a half-closed connection in TIME_WAIT: the application (still attached after
// shutdown(WR)) first gets the bytes that came with the FIN and the end of stream, then the close.
void TcpStack::finish_and_time_wait(Tcb& c, bool readable) noexcept {
    if (!c.orphan && c.handler != nullptr) {
        if (readable) {
            c.handler->on_readable(c);
        }
        if (!c.dead && !c.orphan && c.handler != nullptr) { // on_readable may have closed it
            c.handler->on_peer_fin(c);
        }
    }
    if (!c.dead) {
        enter_time_wait(c);
    }
}

void TcpStack::established_input(Tcb& c, rte_mbuf* m, net::TcpSegment& seg) noexcept {
    struct Free {
        rte_mbuf*& m;
        ~Free() {
            if (m != nullptr) {
                rte_pktmbuf_free(m);
            }
        }
    } owner{m};

    const bool syn = seg.flags & net::kSyn;
    const bool fin = seg.flags & net::kFin;
    const bool rst = seg.flags & net::kRst;
    std::uint32_t seg_len = seg.payload_len + (syn ? 1 : 0) + (fin ? 1 : 0);

    // A retransmitted SYN in SYN-RECEIVED: our SYN-ACK was lost, send it again (as Linux does),
    // at most once per invalid_ratelimit (Linux's tcp_oow_rate_limited in tcp_check_req), so a
    // flood of copies of one SYN is not reflected one for one.
    if (c.state == State::syn_recv && syn && !(seg.flags & net::kAck) && seg.seq == c.rcv.irs) {
        const Nanos limit = cfg_.tcp.invalid_ratelimit;
        if (limit > 0 && c.last_oow_ack != 0 && now_ - c.last_oow_ack < limit) {
            ++stats_[Counter::synack_rtx_limited];
            return;
        }
        c.last_oow_ack = now_;
        ++stats_[Counter::rtx_synack];
        send_syn(c);
        return;
    }

    // A SYN in a synchronized state, whatever its sequence number, gets a challenge ACK and is
    // dropped (RFC 5961 4.2): checked before the window so that blind SYNs cannot make us send an
    // ACK each, only the rate-limited challenge ACKs.
    if (syn && c.state != State::syn_recv) {
        ++stats_.drop(TcpDrop::syn_in_window);
        challenge_ack(c);
        return;
    }

    // PAWS (RFC 7323 5.3): a timestamp older than TS.Recent marks a duplicate from an earlier
    // window: not acceptable, ACK and drop (a RST is exempt; TS.Recent expires after 24 days).
    if (c.ts_ok && seg.opts.has_ts && !rst && seq_lt(seg.opts.ts_val, c.ts_recent) &&
        now_ - c.ts_recent_stamp < kPawsIdle) {
        ++stats_.drop(TcpDrop::paws);
        oow_ack(c);
        return;
    }

    // First: sequence number.
    if (!acceptable(c, seg.seq, seg_len)) {
        if (!rst) {
            ++stats_.drop(TcpDrop::out_of_window);
            if (seg_len > 0 && seg.seq + seg_len == c.rcv.nxt) {
                // A retransmission of what we have up to RCV.NXT: our ACK of it was lost. ACK at
                // once, not rate-limited (Linux acks such a retransmit from tcp_data_queue), and
                // take its timestamp (RFC 7323 4.3: SEG.SEQ <= Last.ACK.sent; Linux's
                // tcp_replace_ts_recent with rcv_wup), so the ACK echoes the retransmission's
                // TSval and the peer's RTT sample is one round trip, not its whole back-off.
                // An off-path sender would have to hit RCV.NXT exactly, as with a RST.
                if (c.ts_ok && seg.opts.has_ts && !seq_lt(seg.opts.ts_val, c.ts_recent)) {
                    c.ts_recent = seg.opts.ts_val;
                    c.ts_recent_stamp = now_;
                }
                send_ack(c);
                return;
            }
            oow_ack(c);
        } else {
            ++stats_.drop(TcpDrop::rst_not_exact);
        }
        return;
    }
    c.last_rx = now_;
    c.ka_probes = 0;

    // Second: RST. Only a RST exactly at RCV.NXT resets; one elsewhere in the window gets a
    // challenge ACK (RFC 5961 3.2).
    if (rst) {
        if (seg.seq != c.rcv.nxt) {
            ++stats_.drop(TcpDrop::rst_not_exact);
            challenge_ack(c);
            return;
        }
        ++stats_.rst_received[static_cast<std::size_t>(c.state)];
        if (c.state == State::syn_recv && c.passive) {
            // Back to LISTEN: the half-open connection is simply forgotten.
            destroy(c, 0);
            return;
        }
        if (c.state == State::syn_recv) {
            ++stats_[Counter::conn_refused];
            destroy(c, ECONNREFUSED);
            return;
        }
        ++stats_[Counter::conn_reset];
        destroy(c, ECONNRESET);
        return;
    }

    // Fourth: SYN (only SYN-RECEIVED gets here with one; others were challenged above): a SYN
    // that is not the retransmission of the first one gets a challenge ACK, never a reset.
    if (syn) {
        ++stats_.drop(TcpDrop::syn_in_window);
        challenge_ack(c);
        return;
    }

    // Fifth: the ACK field.
    if (!(seg.flags & net::kAck)) {
        ++stats_.drop(TcpDrop::no_ack_flag);
        return;
    }
    if (c.state == State::syn_recv) {
        if (!(seq_gt(seg.ack, c.snd.una) && seq_leq(seg.ack, c.snd.max))) {
            ++stats_.drop(TcpDrop::syn_recv_bad_ack);
            send_rst_for(seg, RstReason::bad_ack);
            return;
        }
        if (c.passive && c.listener != nullptr) {
            Listener& l = *c.listener;
            if (l.accept_queue.size() >= l.backlog) {
                // Accept queue full: ignore the ACK; the SYN-ACK will be retransmitted (Linux
                // with tcp_abort_on_overflow = 0).
                ++stats_[Counter::accept_overflow];
                return;
            }
            l.syn_queue.erase(l.syn_queue.iterator_to(c));
            l.accept_queue.push_back(c);
            c.in_accept_queue = true;
            ++stats_[Counter::passive_opens];
        }
        c.snd.una = seg.ack;
        c.snd.wnd = static_cast<std::uint32_t>(seg.window) << c.snd.wscale;
        c.snd.max_wnd = c.snd.wnd;
        c.snd.wl1 = seg.seq;
        c.snd.wl2 = seg.ack;
        c.cwnd = cfg_.tcp.initial_cwnd * c.mss;
        if (c.rtt_start != 0 && c.retries == 0) {
            update_rtt(c, now_ - c.rtt_start);
        }
        c.rtt_start = 0;
        c.retries = 0;
        wheel_.cancel(c.rtx_timer);
        set_state(c, State::established);
        schedule_idle(c);
        if (c.passive && c.listener != nullptr && c.listener->handler != nullptr) {
            c.listener->handler->on_acceptable(*c.listener);
            if (c.dead) {
                return;
            }
        } else if (!c.passive && c.handler != nullptr) {
            c.handler->on_connected(c);
            if (c.dead) {
                return;
            }
        }
    }

    const std::uint32_t prev_wnd = c.snd.wnd;
    if (seq_gt(seg.ack, c.snd.max)) {
        // ACK for something not yet sent: ACK and drop (RFC 9293; RFC 5961 5.2).
        ++stats_.drop(TcpDrop::ack_unsent);
        send_ack(c);
        return;
    }
    if (seq_lt(seg.ack, c.snd.una - std::max<std::uint32_t>(c.snd.max_wnd, 1))) {
        ++stats_.drop(TcpDrop::ack_too_old);
        challenge_ack(c);
        return;
    }
    // Timestamps: remember the peer's clock when the segment covers the left edge (RFC 7323 4.3),
    // only once its ACK was found acceptable: an ACK of unsent data must not move TS.Recent.
    if (c.ts_ok && seg.opts.has_ts && seq_leq(seg.seq, c.rcv.nxt) &&
        !seq_lt(seg.opts.ts_val, c.ts_recent)) {
        c.ts_recent = seg.opts.ts_val;
        c.ts_recent_stamp = now_;
    }

    if (c.rtx_timer.armed() &&
        c.rtx_timer.kind() == static_cast<std::uint8_t>(TimerKind::persist)) {
        c.retries = 0; // the peer answers our zero-window probes (Linux resets probes_out on ACK)
    }
    // Window update (SND.WL1/WL2 rule).
    if (seq_lt(c.snd.wl1, seg.seq) || (c.snd.wl1 == seg.seq && seq_leq(c.snd.wl2, seg.ack))) {
        c.snd.wnd = static_cast<std::uint32_t>(seg.window) << c.snd.wscale;
        c.snd.max_wnd = std::max(c.snd.max_wnd, c.snd.wnd);
        c.snd.wl1 = seg.seq;
        c.snd.wl2 = seg.ack;
        if (c.snd.wnd > 0) {
            c.zero_wnd_since = 0;
            if (c.rtx_timer.armed() &&
                c.rtx_timer.kind() == static_cast<std::uint8_t>(TimerKind::persist)) {
                wheel_.cancel(c.rtx_timer);
                c.retries = 0;
            }
        }
    }
    // SACK blocks go into the scoreboard before the ACK is judged (RFC 6675 section 5).
    // What this ACK delivered (RFC 6937 DeliveredData): SND.UNA's advance plus the change in
    // SACKed bytes (negative when SND.UNA passes ranges SACKed before).
    const Seq una_before = c.snd.una;
    const std::uint32_t sacked_before = sacked_bytes(c);
    if (c.sack_ok && seg.opts.sack_count > 0) {
        sack_update(c, seg.opts, seq_max(seg.ack, c.snd.una));
    }
    const auto delivered = [&]() -> std::uint32_t {
        const std::int64_t d = static_cast<std::int64_t>(c.snd.una - una_before) +
                               static_cast<std::int64_t>(sacked_bytes(c)) - sacked_before;
        return static_cast<std::uint32_t>(std::max<std::int64_t>(d, 0));
    };
    if (seq_gt(seg.ack, c.snd.una)) {
        const std::uint32_t acked = seg.ack - c.snd.una;
        const std::uint32_t data_acked = std::min(acked, c.snd_q.bytes());
        c.snd_q.drop_front(data_acked);
        c.snd.una = seg.ack;
        if (seq_lt(c.snd.nxt, c.snd.una)) {
            c.snd.nxt = c.snd.una;
        }
        sack_prune(c);
        if (c.rto_guard && seq_geq(c.snd.una, c.recover)) {
            c.rto_guard = false; // what the RTO found outstanding is acknowledged
        }
        // RTT sample (RFC 6298 with Karn's rule, or RFC 7323 timestamps). The echoed timestamp
        // dates the transmission that was acknowledged, retransmission or not, so it is taken
        // after retransmissions too and ends the RTO back-off (Linux tcp_ack_update_rtt); without
        // it a backed-off RTO (up to rto_max) outlived the loss and delayed the FIN past the
        // peer's TIME_WAIT.
        if (c.ts_ok && seg.opts.has_ts && seg.opts.ts_ecr != 0) {
            const std::uint32_t now_ts = ts_now(c);
            update_rtt(c, static_cast<Nanos>(now_ts - seg.opts.ts_ecr) * kNsPerMs);
            c.rtt_start = 0;
        } else if (c.rtt_start != 0 && seq_geq(seg.ack, c.rtt_seq)) {
            update_rtt(c, now_ - c.rtt_start);
            c.rtt_start = 0;
        }
        // Loss recovery (sack.cpp: RFC 6675; else NewReno, RFC 6582) and congestion control
        // (cc.cpp).
        bool partial_ack = false;
        if (c.in_recovery) {
            if (seq_geq(seg.ack, c.recover)) {
                c.in_recovery = false;
                // RFC 6582 3.2 step 3 (option 1); after SACK recovery cwnd is ssthresh already.
                c.cwnd = c.sack_recovery ? c.ssthresh : std::min(c.ssthresh, c.flight() + c.mss);
                c.sack_recovery = false;
            } else if (c.sack_recovery) {
                partial_ack = true; // the loop below sends what cwnd - pipe allows
            } else {
                // Partial ACK: retransmit the next hole, deflate by what was acked.
                retransmit_first(c);
                c.cwnd = c.cwnd > data_acked ? c.cwnd - data_acked + c.mss : c.mss;
            }
        } else {
            cc_on_ack(c, acked);
        }
        c.dupacks = 0;
        c.retries = 0;
        c.rtx_first = c.snd.una == c.snd.max ? 0 : now_;
        if (c.snd.una == c.snd.max) {
            wheel_.cancel(c.rtx_timer);
        } else {
            arm_rtx(c);
        }
        if (partial_ack) {
            prr_update(c, delivered());
            // The new head was not resent yet: resend it now, as NewReno would (RFC 6582), so
            // recovery does not wait for the RTO when too little is SACKed above it.
            if (seq_geq(c.snd.una, c.loss->high_rxt) && c.snd.una != c.snd.max) {
                c.loss->high_rxt =
                    c.snd.una + retransmit_at(c, c.snd.una, c.mss, Counter::sack_rtx);
            }
            sack_transmit(c);
            if (c.dead) {
                return;
            }
        }
        if (c.want_writable && c.send_space() > 0 && !c.orphan && c.handler != nullptr) {
            c.want_writable = false;
            c.handler->on_writable(c);
            if (c.dead) {
                return;
            }
        }
    } else if (seg.ack == c.snd.una && seg.payload_len == 0 && !fin && c.snd.wnd == prev_wnd &&
               c.snd.una != c.snd.max) {
        ++stats_[Counter::dup_acks_in];
        if (c.dupacks < 255) {
            ++c.dupacks;
        }
        if (!c.in_recovery) {
            // Three duplicate ACKs, or the scoreboard shows the head lost (RFC 6675 5); not while
            // what an RTO found outstanding is still unacknowledged (RFC 6582 4.1).
            if ((c.dupacks >= 3 || sack_head_lost(c)) && !c.rto_guard) {
                enter_recovery(c, delivered());
                if (c.dead) {
                    return;
                }
            } else if (c.dupacks <= 2 && c.unsent() > 0 && c.snd.nxt == c.snd.max && !c.rto_guard) {
                // Limited transmit (RFC 3042): each of the first two duplicates lets one new
                // segment out beyond cwnd (up to cwnd + 2 SMSS), so a small window still gets
                // the third duplicate it needs. cwnd itself does not change. New data only: not
                // while an RTO's go-back-N is resending.
                const std::uint32_t saved = c.cwnd;
                c.cwnd = saved + c.dupacks * c.mss;
                const Seq before = c.snd.nxt;
                output(c);
                c.cwnd = saved;
                if (c.dead) {
                    return;
                }
                if (c.snd.nxt != before) {
                    ++stats_[Counter::limited_transmits];
                }
            }
        } else if (c.sack_recovery) {
            prr_update(c, delivered());
            sack_transmit(c);
            if (c.dead) {
                return;
            }
        } else if (c.dupacks > 3) {
            c.cwnd += c.mss; // NewReno inflation
        }
    }

    // Our FIN acknowledged?
    const bool fin_acked = c.fin_sent && c.snd.una == c.snd.max;
    switch (c.state) {
    case State::fin_wait1:
        // With the peer's FIN in this very segment, the FIN step takes FIN_WAIT1 straight to
        // TIME_WAIT (TEARDOWN.md); otherwise our FIN acked means FIN_WAIT2.
        if (fin_acked && !(fin && seq_leq(seg.seq, c.rcv.nxt))) {
            set_state(c, State::fin_wait2);
            if (c.linger_notify) {
                wheel_.cancel(c.wait_timer);
                notify_closed(c, 0);
                c.linger_notify = false;
            }
            if (c.orphan) {
                c.wait_timer.set_kind(static_cast<std::uint8_t>(TimerKind::fin_wait2));
                wheel_.start(c.wait_timer, now_ + cfg_.tcp.fin_timeout);
            }
        }
        break;
    case State::closing:
        if (fin_acked) {
            enter_time_wait(c);
            return;
        }
        break;
    case State::last_ack:
        if (fin_acked) {
            destroy(c, 0);
            return;
        }
        break;
    default:
        break;
    }

    // Sixth: URG is not supported as out-of-band data; its bytes are ordinary data (RFC 6093).
    if (seg.flags & net::kUrg) {
        ++stats_.drop(TcpDrop::urgent_ignored);
    }

    // Seventh: segment text.
    bool readable = false;
    bool ooo_fin = false; // the out-of-order queue delivered up to the peer's FIN
    bool ack_now = false; // a hole was filled: no delayed ACK
    if (seg.payload_len > 0) {
        if (c.fin_received) {
            ++stats_.drop(TcpDrop::data_after_fin);
        } else if (seq_gt(seg.seq, c.rcv.nxt)) {
            // Beyond RCV.NXT: held in the out-of-order queue (sack.cpp) within the window, and
            // a duplicate ACK (with SACK blocks) goes out at once (RFC 5681 4.2, RFC 2018).
            const std::uint32_t wnd =
                seq_gt(c.rcv.adv_edge, seg.seq) ? c.rcv.adv_edge - seg.seq : 0;
            const std::uint32_t len = std::min<std::uint32_t>(seg.payload_len, wnd);
            if (len > 0 && c.orphan) {
                // New data for a connection nobody can read any more (Linux resets on data
                // beyond RCV.NXT too).
                send_rst(c, RstReason::data_after_close);
                destroy(c, 0);
                return;
            }
            const bool with_fin = fin && len == seg.payload_len;
            if (len == 0 || !ooo_insert(c, m, seg.seq, seg.payload_off, len, with_fin)) {
                ++stats_.drop(TcpDrop::out_of_order);
            }
            send_ack(c);
            output(c);
            return;
        } else {
            // Trim what we already have and what lies beyond the window.
            std::uint32_t skip = c.rcv.nxt - seg.seq;
            std::uint32_t len = seg.payload_len - std::min<std::uint32_t>(skip, seg.payload_len);
            const std::uint32_t wnd =
                seq_gt(c.rcv.adv_edge, c.rcv.nxt) ? c.rcv.adv_edge - c.rcv.nxt : 0;
            if (len > wnd) {
                len = wnd;
                seg.flags &= static_cast<std::uint8_t>(~net::kFin); // the FIN lies beyond too
            }
            if (len > 0) {
                if (c.orphan) {
                    // Data for a connection nobody can read any more (Linux tcp_rcv_state_process).
                    send_rst(c, RstReason::data_after_close);
                    destroy(c, 0);
                    return;
                }
                c.rcv.nxt += len;
                stats_[Counter::bytes_in] += len;
                if (c.rd_shutdown) {
                    stats_[Counter::rd_discarded_bytes] += len;
                } else {
                    // Headers and already-received bytes may reach past the first segment of
                    // a chain: cut by walking the chain, not with rte_pktmbuf_adj/trim.
                    c.rcv_q.append_range(m, seg.payload_off + skip, len);
                    m = nullptr;
                    readable = true;
                }
                if (c.loss != nullptr && c.loss->ooo_count > 0) {
                    // The segment filled (part of) a hole: take what is now in order, and ACK
                    // at once (RFC 5681 4.2).
                    if (ooo_drain(c, ooo_fin) > 0 && !c.rd_shutdown) {
                        readable = true;
                    }
                    ack_now = true;
                }
                if (cfg_.tcp.quickack_start && !c.quick_init) {
                    c.quick_init = true; // the first data: quick-ACK mode (Linux)
                    c.quick_acks = initial_quickacks(c, cfg_.tcp, wnd, len);
                }
                ++c.unacked_segs;
                c.ack_pending = true;
            } else if (seg.payload_len > 0 && wnd == 0) {
                send_ack(c); // zero-window probe: answer with the window
            }
        }
    }

    // Eighth: FIN, in order only.
    bool peer_fin = false;
    if (!c.fin_received &&
        (ooo_fin || ((seg.flags & net::kFin) && seg.seq + seg.payload_len == c.rcv.nxt))) {
        c.fin_received = true;
        ooo_clear(c); // nothing lies beyond the FIN
        c.rcv.nxt += 1;
        peer_fin = true;
        switch (c.state) {
        case State::established:
            set_state(c, State::close_wait);
            if (cfg_.tcp.close_wait_timeout > 0 && !c.orphan) {
                c.wait_timer.set_kind(static_cast<std::uint8_t>(TimerKind::close_wait));
                wheel_.start(c.wait_timer, now_ + cfg_.tcp.close_wait_timeout);
            }
            break;
        case State::fin_wait1:
            if (c.fin_sent && c.snd.una == c.snd.max) {
                send_ack(c);
                finish_and_time_wait(c, readable);
                return;
            }
            set_state(c, State::closing);
            break;
        case State::fin_wait2:
            send_ack(c);
            finish_and_time_wait(c, readable);
            return;
        default:
            break;
        }
        send_ack(c);
    } else if (c.ack_pending) {
        if (cfg_.tcp.quickack || c.unacked_segs >= 2 || c.quick_acks > 0 || ack_now) {
            send_ack(c);
        } else if (!c.delack_timer.armed()) {
            wheel_.start(c.delack_timer, now_ + cfg_.tcp.delayed_ack);
        }
    }

    // Send what the new ACK or window allows (this may piggyback the pending ACK).
    output(c);
    if (c.dead || c.orphan || c.handler == nullptr) {
        return;
    }
    if (readable) {
        c.handler->on_readable(c);
        if (c.dead) {
            return;
        }
    }
    if (peer_fin && !c.orphan && c.handler != nullptr) { // on_readable may have closed it
        c.handler->on_peer_fin(c);
    }
}

} // namespace tcpterm::tcp
