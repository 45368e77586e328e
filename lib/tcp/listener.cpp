// Passive open (RFC 9293 3.10.7.2, LISTEN) and the listener's queues. A SYN creates a control
// block in SYN_RECV on the SYN queue (bounded by syn_backlog); the handshake's ACK moves it to the
// accept queue (bounded by backlog; when full the ACK is ignored and the SYN-ACK retransmitted, as
// Linux does); accept() hands it to the application. SYN cookies arrive with the hardening work.
#include "tcp/stack.hpp"

#include <rte_byteorder.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <cerrno>

namespace tcpterm::tcp {

Listener* TcpStack::find_listener(std::uint32_t laddr, std::uint16_t lport) noexcept {
    Listener* any = nullptr;
    for (Listener* l = listeners_[rte_be_to_cpu_16(lport)]; l != nullptr; l = l->next) {
        if (l->laddr == laddr) {
            return l;
        }
        if (l->laddr == 0) {
            any = l;
        }
    }
    return any;
}

Listener* TcpStack::listen(std::uint32_t laddr, std::uint16_t lport, ListenHandler* h,
                           std::uint32_t backlog, int* err) noexcept {
    Entry e(*this);
    const std::uint16_t port = rte_be_to_cpu_16(lport);
    for (Listener* l = listeners_[port]; l != nullptr; l = l->next) {
        if (l->laddr == laddr) {
            if (err) {
                *err = EADDRINUSE;
            }
            return nullptr;
        }
    }
    Listener* l = listeners_pool_.create();
    if (l == nullptr) {
        if (err) {
            *err = ENOMEM;
        }
        return nullptr;
    }
    l->laddr = laddr;
    l->lport = lport;
    l->backlog = backlog != 0 ? backlog : cfg_.tcp.backlog;
    l->syn_backlog = cfg_.tcp.syn_backlog;
    l->handler = h;
    l->next = listeners_[port];
    listeners_[port] = l;
    ++stats_.states[static_cast<std::size_t>(State::listen)];
    ++stats_.transitions[static_cast<std::size_t>(State::closed)]
                        [static_cast<std::size_t>(State::listen)];
    return l;
}

Tcb* TcpStack::accept(Listener& l, ConnHandler* h) noexcept {
    Entry e(*this);
    while (!l.accept_queue.empty()) {
        Tcb& c = l.accept_queue.front();
        l.accept_queue.pop_front();
        c.in_accept_queue = false;
        c.listener = nullptr;
        if (c.dead) {
            continue;
        }
        c.accepted = true;
        c.handler = h;
        ++stats_[Counter::accepted];
        return &c;
    }
    return nullptr;
}

void TcpStack::close_listener(Listener& l) noexcept {
    Entry e(*this);
    auto reset_queue = [&](Listener::Queue& q) {
        while (!q.empty()) {
            Tcb& c = q.front();
            ++stats_[Counter::listener_resets];
            send_rst(c, RstReason::listener_closed);
            destroy(c, 0); // release() unlinks it from q
        }
    };
    reset_queue(l.syn_queue);
    reset_queue(l.accept_queue);
    const std::uint16_t port = rte_be_to_cpu_16(l.lport);
    for (Listener** p = &listeners_[port]; *p != nullptr; p = &(*p)->next) {
        if (*p == &l) {
            *p = l.next;
            break;
        }
    }
    --stats_.states[static_cast<std::size_t>(State::listen)];
    ++stats_.transitions[static_cast<std::size_t>(State::listen)]
                        [static_cast<std::size_t>(State::closed)];
    listeners_pool_.destroy(&l);
}

bool TcpStack::can_accept(const Listener& l) const noexcept {
    return accepting_ && l.syn_queue.size() < l.syn_backlog && l.accept_queue.size() < l.backlog &&
           tcbs_.available() > 0 && table_.size() < table_.capacity();
}

void TcpStack::listen_input(Listener& l, rte_mbuf*& m, net::TcpSegment& seg) noexcept {
    if (seg.flags & net::kRst) {
        ++stats_.drop(TcpDrop::no_listener_rst_in);
        return;
    }
    if (seg.flags & net::kAck) {
        // Possibly the third segment of a handshake answered with a SYN cookie.
        if (!(seg.flags & net::kSyn) && cfg_.tcp.syncookies != 0 && l.last_cookie != 0 &&
            now_ - l.last_cookie < sec(120)) {
            if (syncookie_ack(l, m, seg)) {
                return;
            }
            ++stats_[Counter::syncookies_failed];
            ++stats_.drop(TcpDrop::syncookie_bad);
        } else {
            ++stats_.drop(TcpDrop::listen_not_syn);
        }
        send_rst_for(seg, RstReason::bad_ack);
        return;
    }
    if (!(seg.flags & net::kSyn)) {
        ++stats_.drop(TcpDrop::listen_not_syn);
        return;
    }
    if (l.gate != Listener::Gate::open) {
        if (l.gate == Listener::Gate::reset) {
            ++stats_[Counter::syn_gate_reset];
            send_rst_for(seg, RstReason::listener_gate);
        } else {
            ++stats_[Counter::syn_gate_dropped];
        }
        return;
    }
    // SYN cookies (RFC 4987 3.6): always (syncookies = 2), or once the SYN queue is full or the
    // engine is under memory pressure (1). No state is kept until the handshake completes.
    const bool queue_full = l.syn_queue.size() >= l.syn_backlog;
    if (cfg_.tcp.syncookies == 2 || (cfg_.tcp.syncookies == 1 && (queue_full || !accepting_))) {
        send_syncookie(l, seg);
        return;
    }
    if (!accepting_) {
        ++stats_[Counter::syn_backpressure];
        return;
    }
    if (queue_full) {
        ++stats_[Counter::backlog_overflow];
        ++stats_.drop(TcpDrop::backlog_full);
        return;
    }
    if (l.accept_queue.size() >= l.backlog) {
        ++stats_[Counter::accept_overflow];
        ++stats_.drop(TcpDrop::backlog_full);
        return;
    }
    Tcb* c = new_tcb(seg.tuple, hash_of(seg.tuple));
    if (c == nullptr) {
        return;
    }
    c->passive = true;
    c->listener = &l;
    l.syn_queue.push_back(*c);
    c->rcv.irs = seg.seq;
    c->rcv.nxt = seg.seq + 1;
    c->rcv.adv_edge = c->rcv.nxt;
    if (forced_isn_) {
        c->snd.iss = isn_override_;
        forced_isn_ = false;
    } else {
        c->snd.iss = make_isn(seg.tuple);
    }
    c->snd.una = c->snd.iss;
    c->snd.nxt = c->snd.iss + 1;
    c->snd.max = c->snd.nxt;
    const net::TcpOptions& o = seg.opts;
    c->ws_ok = o.has_wscale && cfg_.tcp.window_scaling;
    c->snd.wscale = c->ws_ok ? std::min(o.wscale, net::kMaxWscale) : 0;
    if (!c->ws_ok) {
        c->rcv.wscale = 0;
    }
    c->ts_ok = o.has_ts && cfg_.tcp.timestamps;
    if (c->ts_ok) {
        c->ts_recent = o.ts_val;
        c->ts_recent_stamp = now_;
    }
    c->sack_ok = o.sack_permitted && cfg_.tcp.sack_permitted; // the SYN-ACK offers it back
    set_send_mss(*c, o, cfg_.tcp);
    c->snd.wnd = seg.window; // not scaled in a SYN
    c->snd.max_wnd = c->snd.wnd;
    c->snd.wl1 = seg.seq;
    set_state(*c, State::syn_recv);
    c->rtt_start = now_;
    send_syn(*c);
    arm_rtx(*c);
}

Tcb* TcpStack::connect(const FourTuple& t, ConnHandler* h, int* err) noexcept {
    Entry e(*this);
    const std::uint32_t hash = hash_of(t);
    Seq iss = make_isn(t);
    if (ConnEntry* old = table_.find(t, hash)) {
        auto* tw = old->tagged() ? static_cast<TimeWaitRecord*>(old) : nullptr;
        // tcp_tw_reuse: a TIME_WAIT four-tuple may be reused when timestamps protect the new
        // incarnation from the old one's duplicates (RFC 6191), and not within its first second.
        bool reusable = false;
        if (tw != nullptr && cfg_.tcp.tw_reuse && cfg_.tcp.timestamps &&
            (tw->flags & TimeWaitRecord::kTsOk)) {
            const Nanos expires = origin_ + tw->timer.expiry_tick() * cfg_.timer_tick;
            reusable = now_ + cfg_.tcp.time_wait >= expires + sec(1);
        }
        if (!reusable) {
            if (err) {
                *err = EADDRINUSE;
            }
            return nullptr;
        }
        iss = tw->snd_nxt + 65535 + 2; // above anything the old incarnation used (as Linux)
        ++stats_[Counter::tw_reused];
        drop_tw(*tw);
    }
    Tcb* c = new_tcb(t, hash);
    if (c == nullptr) {
        if (err) {
            *err = ENOBUFS;
        }
        return nullptr;
    }
    c->handler = h;
    c->snd.iss = iss;
    c->snd.una = iss;
    c->snd.nxt = iss + 1;
    c->snd.max = c->snd.nxt;
    c->mss = cfg_.tcp.mss;
    set_state(*c, State::syn_sent);
    ++stats_[Counter::active_opens];
    c->rtt_start = now_;
    send_syn(*c);
    arm_rtx(*c);
    return c;
}

} // namespace tcpterm::tcp
