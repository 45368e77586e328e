// Timer expiry: every timer of shared/TEARDOWN.md's table, dispatched on the Timer's kind. The
// keepalive/idle timer is lazy: traffic only updates last_rx/last_tx, and the expiry re-arms
// itself for the real deadline if there was activity meanwhile, so the data path never touches
// the wheel for it.
#include "tcp/stack.hpp"

#include <boost/intrusive/parent_from_member.hpp>

#include <algorithm>
#include <cerrno>

namespace tcpterm::tcp {

namespace bi = boost::intrusive;

std::size_t TcpStack::advance(Nanos now) noexcept {
    Entry guard(*this);
    if (now > now_) {
        now_ = now;
    }
    return wheel_.advance(
        now_, [this](Timer& t) { on_timer(t); }, cfg_.max_expiries_per_advance);
}

void TcpStack::schedule_idle(Tcb& c) noexcept {
    if (c.dead) {
        return;
    }
    Nanos due = 0;
    TimerKind kind = TimerKind::keepalive;
    const bool ka_state = c.state != State::syn_sent && c.state != State::syn_recv;
    if (c.keepalive && ka_state) {
        due = c.ka_probes == 0 ? c.last_rx + c.keepalive_time : c.last_ka_probe + c.keepalive_intvl;
    }
    if (c.idle_timeout > 0 && ka_state) {
        const Nanos idle_due = std::max(c.last_rx, c.last_tx) + c.idle_timeout;
        if (due == 0 || idle_due < due) {
            due = idle_due;
            kind = TimerKind::idle;
        }
    }
    if (due == 0) {
        wheel_.cancel(c.idle_timer);
        return;
    }
    c.idle_timer.set_kind(static_cast<std::uint8_t>(kind));
    wheel_.start(c.idle_timer, std::max(due, now_));
}

namespace {

std::uint32_t orphan_limit(const TcpConfig& k) {
    return k.orphan_retries == 0 ? 8 : k.orphan_retries;
}

} // namespace

void TcpStack::on_timer(Timer& t) noexcept {
    const auto kind = static_cast<TimerKind>(t.kind());
    if (kind == TimerKind::time_wait) {
        ++stats_.expiry(TimerKind::time_wait);
        drop_tw(*bi::get_parent_from_member<TimeWaitRecord>(&t, &TimeWaitRecord::timer));
        return;
    }
    switch (kind) {
    case TimerKind::rtx:
    case TimerKind::persist: {
        Tcb& c = *bi::get_parent_from_member<Tcb>(&t, &Tcb::rtx_timer);
        ++stats_.expiry(kind);
        if (kind == TimerKind::persist) {
            if (c.unsent() == 0) {
                output(c);
                return;
            }
            if (c.snd.wnd > 0) {
                // A window too small for silly-window avoidance: the override timeout of RFC
                // 9293 3.8.6.2.1 has passed, send what fits.
                c.sws_override = true;
                output(c);
                c.sws_override = false;
                return;
            }
            // Give up when the window stayed closed too long (zero_window_timeout, or the user
            // timeout, as Linux applies it to probing), or when retries2 probes went unanswered.
            const Nanos zwt = cfg_.tcp.zero_window_timeout;
            const Nanos closed_for = c.zero_wnd_since != 0 ? now_ - c.zero_wnd_since : 0;
            const bool too_long = (zwt > 0 && closed_for >= zwt) ||
                                  (c.user_timeout > 0 && closed_for >= c.user_timeout);
            if (too_long || c.retries >= cfg_.tcp.retries2) {
                send_rst(c, RstReason::persist_timeout);
                ++stats_[Counter::conn_timeout];
                destroy(c, ETIMEDOUT);
                return;
            }
            ++stats_[Counter::zero_window_probes];
            send_probe(c);
            c.retries = static_cast<std::uint8_t>(std::min(c.retries + 1, 30));
            const Nanos backoff =
                std::min(c.rto << std::min<unsigned>(c.retries, 12), cfg_.tcp.rto_max);
            wheel_.start(c.rtx_timer, now_ + backoff);
            return;
        }
        // Retransmission timeout (RFC 6298 5.4-5.7).
        const std::uint32_t tries = ++c.retries;
        if (c.state == State::syn_sent) {
            if (tries > cfg_.tcp.syn_retries) {
                ++stats_[Counter::conn_timeout];
                destroy(c, ETIMEDOUT);
                return;
            }
            ++stats_[Counter::rtx_syn];
            send_syn(c);
        } else if (c.state == State::syn_recv) {
            if (tries > cfg_.tcp.synack_retries) {
                // The half-open connection is given up silently (back to LISTEN).
                destroy(c, c.passive ? 0 : ETIMEDOUT);
                return;
            }
            ++stats_[Counter::rtx_synack];
            send_syn(c);
        } else {
            const bool orphan_fin =
                c.orphan && (c.state == State::fin_wait1 || c.state == State::closing ||
                             c.state == State::last_ack);
            const std::uint32_t limit = orphan_fin ? orphan_limit(cfg_.tcp) : cfg_.tcp.retries2;
            if (c.user_timeout > 0 && now_ - c.rtx_first >= c.user_timeout) {
                ++stats_.expiry(TimerKind::user_timeout);
                send_rst(c, RstReason::user_timeout);
                ++stats_[Counter::conn_timeout];
                destroy(c, ETIMEDOUT);
                return;
            }
            if (tries > limit) {
                if (orphan_fin) {
                    // An orphan whose FIN is never acked goes away quietly (Linux).
                    ++stats_[Counter::orphans_closed];
                    destroy(c, ETIMEDOUT);
                } else {
                    send_rst(c, RstReason::rtx_timeout);
                    ++stats_[Counter::conn_timeout];
                    destroy(c, ETIMEDOUT);
                }
                return;
            }
            // Back off and go back to SND.UNA with one segment of congestion window. ssthresh
            // falls on the first expiry only; later ones for the same data keep it (RFC 5681
            // 3.1, equation 4). Until what was outstanding is acknowledged, duplicate ACKs
            // start no fast retransmit (RFC 6582 4.1), and the scoreboard is forgotten (RFC 2018
            // section 8: the receiver may have discarded what it SACKed).
            if (tries == 1) {
                c.ssthresh = cc_on_congestion(c);
            }
            c.cwnd = c.mss;
            c.in_recovery = false;
            c.sack_recovery = false;
            c.recover = c.snd.max;
            c.rto_guard = true;
            if (c.loss != nullptr) {
                c.loss->sacked_count = 0;
                c.loss->high_rxt = c.snd.una;
            }
            c.dupacks = 0;
            c.rtt_start = 0;
            c.snd.nxt = c.snd.una + retransmit_first(c); // go back to SND.UNA (go-back-N)
        }
        c.rto = std::min(c.rto * 2, cfg_.tcp.rto_max);
        arm_rtx(c);
        return;
    }
    case TimerKind::delack: {
        Tcb& c = *bi::get_parent_from_member<Tcb>(&t, &Tcb::delack_timer);
        ++stats_.expiry(kind);
        if (c.ack_pending) {
            ++stats_[Counter::delayed_acks];
            send_ack(c);
        }
        return;
    }
    case TimerKind::fin_wait2:
    case TimerKind::close_wait:
    case TimerKind::linger: {
        Tcb& c = *bi::get_parent_from_member<Tcb>(&t, &Tcb::wait_timer);
        ++stats_.expiry(kind);
        if (kind == TimerKind::fin_wait2) {
            ++stats_[Counter::orphans_closed];
            destroy(c, 0);
        } else if (kind == TimerKind::close_wait) {
            if (c.reset_on_timeout) {
                send_rst(c, RstReason::close_wait_timeout);
            }
            ++stats_[Counter::conn_timeout];
            destroy(c, ETIMEDOUT);
        } else {
            // Linger expired with data or FIN unacked: abort (SO_LINGER semantics).
            send_rst(c, RstReason::linger_timeout);
            ++stats_[Counter::conn_timeout];
            destroy(c, ETIMEDOUT);
        }
        return;
    }
    case TimerKind::keepalive:
    case TimerKind::idle: {
        Tcb& c = *bi::get_parent_from_member<Tcb>(&t, &Tcb::idle_timer);
        // Idle timeout first: it is the harder limit.
        if (c.idle_timeout > 0 && now_ >= std::max(c.last_rx, c.last_tx) + c.idle_timeout) {
            ++stats_.expiry(TimerKind::idle);
            if (c.reset_on_timeout) {
                send_rst(c, RstReason::idle_timeout);
            }
            ++stats_[Counter::conn_timeout];
            destroy(c, ETIMEDOUT);
            return;
        }
        if (c.keepalive) {
            const Nanos due = c.ka_probes == 0 ? c.last_rx + c.keepalive_time
                                               : c.last_ka_probe + c.keepalive_intvl;
            if (now_ >= due) {
                ++stats_.expiry(TimerKind::keepalive);
                if (c.snd.una != c.snd.max || c.unsent() > 0) {
                    // Data in flight: retransmission, not keepalive, detects a dead peer.
                    c.ka_probes = 0;
                    c.last_rx = now_;
                } else if (c.ka_probes >= c.keepalive_probes) {
                    send_rst(c, RstReason::keepalive_timeout);
                    ++stats_[Counter::conn_timeout];
                    destroy(c, ETIMEDOUT);
                    return;
                } else {
                    ++c.ka_probes;
                    c.last_ka_probe = now_;
                    ++stats_[Counter::keepalive_probes];
                    send_probe(c);
                }
            }
        }
        schedule_idle(c);
        return;
    }
    default:
        return;
    }
}

} // namespace tcpterm::tcp
