// TcpStack construction, shared helpers, and the application's operations on a connection
// (send, recv, shutdown, close, abort, options). Close semantics follow shared/TEARDOWN.md.
#include "tcp/stack.hpp"

#include "base/hash.hpp"

#include <rte_mbuf.h>
#include <sodium.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

namespace tcpterm::tcp {

TcpStack::TcpStack(const StackConfig& cfg, rte_mempool* mp, SegmentSink& sink, Nanos now)
    : cfg_(cfg), mp_(mp), sink_(sink), now_(now), origin_(now),
      table_(cfg.max_connections + cfg.max_time_wait), wheel_(cfg.timer_tick, now),
      tcbs_(cfg.max_connections), tws_(cfg.max_time_wait), listeners_pool_(1024),
      losses_(std::max<std::size_t>(cfg.max_loss_states, 1)), listeners_(new Listener*[65536]()) {
    challenge_budget_ = cfg_.tcp.challenge_ack_limit;
    challenge_window_start_ = now;
}

TcpStack::~TcpStack() {
    // Free everything silently: the worker is going away.
    std::vector<ConnEntry*> all;
    all.reserve(table_.size());
    table_.for_each([&](ConnEntry& e) { all.push_back(&e); });
    for (ConnEntry* e : all) {
        table_.erase(*e);
        if (e->tagged()) {
            auto* tw = static_cast<TimeWaitRecord*>(e);
            wheel_.cancel(tw->timer);
            tws_.destroy(tw);
        } else {
            auto* c = static_cast<Tcb*>(e);
            release(*c);
            c->dead = true;
            zombies_.push_back(*c);
        }
    }
    for (std::size_t p = 0; p < 65536; ++p) {
        for (Listener* l = listeners_[p]; l != nullptr;) {
            Listener* next = l->next;
            auto drain = [&](Listener::Queue& q) {
                while (!q.empty()) {
                    Tcb& c = q.front();
                    q.pop_front();
                    if (!c.dead) {
                        release(c);
                    }
                    tcbs_.destroy(&c);
                }
            };
            drain(l->syn_queue);
            drain(l->accept_queue);
            listeners_pool_.destroy(l);
            l = next;
        }
    }
    reap();
}

std::uint32_t TcpStack::hash_of(const FourTuple& t) const noexcept {
    return hash_crc(t);
}

ConnEntry* TcpStack::lookup(const FourTuple& t) noexcept {
    return table_.find(t, hash_of(t));
}

std::uint32_t TcpStack::keyed_hash(const FourTuple& t, std::uint32_t domain) const noexcept {
    std::uint8_t in[16];
    std::memcpy(in, &t, sizeof t);
    std::memcpy(in + sizeof t, &domain, sizeof domain);
    std::uint8_t out[crypto_shorthash_BYTES];
    crypto_shorthash(out, in, sizeof in, cfg_.secret.data());
    std::uint32_t h;
    std::memcpy(&h, out, sizeof h);
    return h;
}

// RFC 6528: ISN = M + F(localip, localport, remoteip, remoteport, secretkey), M a clock ticking
// every 4 us (here 4.096 us), F SipHash-2-4 keyed with a per-boot secret.
Seq TcpStack::make_isn(const FourTuple& t) const noexcept {
    return keyed_hash(t, kIsnDomain) + static_cast<Seq>((now_ - origin_) / 4096);
}

// Timestamps tick in milliseconds, offset per connection (RFC 7323 5.4) so they do not reveal
// the host's uptime or relate connections to each other.
std::uint32_t TcpStack::ts_now(const Tcb& c) const noexcept {
    return static_cast<std::uint32_t>((now_ - origin_) / kNsPerMs) + c.ts_offset;
}

Tcb* TcpStack::new_tcb(const FourTuple& t, std::uint32_t hash) noexcept {
    Tcb* c = tcbs_.create();
    if (c == nullptr) {
        ++stats_[Counter::pool_exhausted];
        ++stats_.drop(TcpDrop::pool_empty);
        return nullptr;
    }
    c->key = t;
    c->set_hash(hash);
    if (table_.insert(*c) != ConnTable::InsertResult::kOk) {
        ++stats_.drop(TcpDrop::table_full);
        tcbs_.destroy(c);
        return nullptr;
    }
    const TcpConfig& k = cfg_.tcp;
    c->nodelay = k.nodelay;
    c->keepalive_time = k.keepalive_time;
    c->keepalive_intvl = k.keepalive_intvl;
    c->keepalive_probes = k.keepalive_probes;
    c->idle_timeout = k.idle_timeout;
    c->reset_on_timeout = k.reset_on_timeout;
    c->user_timeout = k.user_timeout;
    c->snd_buf = k.snd_buf;
    c->rcv_buf = k.rcv_buf;
    c->rto = k.rto_initial;
    c->rcv.wscale = k.window_scaling ? window_shift_for(k.rcv_buf) : 0;
    c->ts_offset = keyed_hash(t, kTsDomain);
    c->last_rx = now_;
    c->last_tx = now_;
    c->rtx_timer.set_kind(static_cast<std::uint8_t>(TimerKind::rtx));
    c->delack_timer.set_kind(static_cast<std::uint8_t>(TimerKind::delack));
    c->wait_timer.set_kind(static_cast<std::uint8_t>(TimerKind::fin_wait2));
    c->idle_timer.set_kind(static_cast<std::uint8_t>(TimerKind::keepalive));
    return c;
}

void TcpStack::set_state(Tcb& c, State s) noexcept {
    const auto from = static_cast<std::size_t>(c.state);
    const auto to = static_cast<std::size_t>(s);
    ++stats_.transitions[from][to];
    if (c.state != State::closed) {
        --stats_.states[from];
    }
    if (s != State::closed) {
        ++stats_.states[to];
    }
    if (s == State::established) {
        ++stats_[Counter::established_total];
    }
    c.state = s;
}

// Takes a control block out of every structure (table, wheel, listener queue) and frees its
// buffers; the memory itself is returned in reap().
void TcpStack::release(Tcb& c) noexcept {
    wheel_.cancel(c.rtx_timer);
    wheel_.cancel(c.delack_timer);
    wheel_.cancel(c.wait_timer);
    wheel_.cancel(c.idle_timer);
    if (c.linked()) {
        table_.erase(c);
    }
    if (c.listen_hook.is_linked() && c.listener != nullptr) {
        Listener::Queue& q = c.in_accept_queue ? c.listener->accept_queue : c.listener->syn_queue;
        q.erase(q.iterator_to(c));
        c.in_accept_queue = false;
    }
    c.listener = nullptr;
    c.snd_q.clear();
    c.rcv_q.clear();
    if (c.loss != nullptr) {
        losses_.destroy(c.loss); // frees the out-of-order queue's mbufs
        c.loss = nullptr;
    }
}

void TcpStack::notify_closed(Tcb& c, int err) noexcept {
    if (c.closed_notified || c.handler == nullptr) {
        return;
    }
    if (c.orphan && !c.linger_notify) {
        return;
    }
    c.closed_notified = true;
    c.handler->on_closed(c, err);
}

void TcpStack::destroy(Tcb& c, int err) noexcept {
    if (c.dead) {
        return;
    }
    c.dead = true;
    release(c);
    set_state(c, State::closed);
    notify_closed(c, err);
    zombies_.push_back(c);
}

void TcpStack::reap() noexcept {
    while (!zombies_.empty()) {
        Tcb& c = zombies_.front();
        zombies_.pop_front();
        tcbs_.destroy(&c);
    }
}

std::size_t TcpStack::reset_all() noexcept {
    Entry e(*this);
    std::vector<Tcb*> all;
    table_.for_each([&](ConnEntry& x) {
        if (!x.tagged()) {
            all.push_back(static_cast<Tcb*>(&x));
        }
    });
    for (Tcb* c : all) {
        if (c->dead) {
            continue; // an application ended it from an earlier one's on_closed (a proxy's pair)
        }
        if (c->state != State::syn_sent) {
            send_rst(*c, RstReason::stack_stop);
        }
        destroy(*c, ECONNABORTED);
    }
    return all.size();
}

// ---- application operations -------------------------------------------------------------------

long TcpStack::send(Tcb& c, const void* data, std::size_t len) noexcept {
    Entry e(*this);
    if (c.dead || c.wr_shutdown) {
        return -EPIPE;
    }
    if (c.state != State::established && c.state != State::close_wait) {
        return -ENOTCONN;
    }
    const std::size_t room = c.send_space();
    const std::size_t want = std::min(room, len);
    const std::size_t n = want == 0 ? 0 : c.snd_q.append_copy(mp_, data, want);
    if (n < len) {
        c.want_writable = true;
    }
    if (want > 0 && n == 0) {
        ++stats_[Counter::mbuf_exhausted];
        return -ENOBUFS;
    }
    output(c);
    return static_cast<long>(n);
}

long TcpStack::send_mbuf(Tcb& c, rte_mbuf* m) noexcept {
    Entry e(*this);
    if (c.dead || c.wr_shutdown) {
        return -EPIPE;
    }
    if (c.state != State::established && c.state != State::close_wait) {
        return -ENOTCONN;
    }
    if (m->pkt_len > c.send_space()) {
        c.want_writable = true;
        return -EMSGSIZE;
    }
    const long n = static_cast<long>(m->pkt_len);
    c.snd_q.append(m);
    output(c);
    return n;
}

void TcpStack::set_buffers(Tcb& c, std::uint32_t rcv_buf, std::uint32_t snd_buf) noexcept {
    Entry e(*this);
    if (rcv_buf > 0) {
        c.rcv_buf = rcv_buf;
    }
    if (snd_buf > 0) {
        const bool grew = snd_buf > c.snd_buf;
        c.snd_buf = snd_buf;
        if (grew && c.want_writable && c.send_space() > 0 && !c.orphan && c.handler != nullptr &&
            !c.dead) {
            c.want_writable = false;
            c.handler->on_writable(c);
        }
    }
}

std::size_t TcpStack::recv(Tcb& c, void* buf, std::size_t len) noexcept {
    Entry e(*this);
    const std::size_t n = c.rcv_q.copy_out(0, buf, len);
    c.rcv_q.drop_front(n);
    if (n > 0 && !c.dead) {
        maybe_window_update(c);
    }
    return n;
}

void TcpStack::consume(Tcb& c, std::size_t len) noexcept {
    Entry e(*this);
    c.rcv_q.drop_front(len);
    if (len > 0 && !c.dead) {
        maybe_window_update(c);
    }
}

rte_mbuf* TcpStack::recv_mbuf(Tcb& c, std::size_t len) noexcept {
    Entry e(*this);
    rte_mbuf* m = c.rcv_q.take_front(len, mp_);
    if (m != nullptr && !c.dead) {
        maybe_window_update(c);
    }
    return m;
}

int TcpStack::shutdown(Tcb& c, Shutdown how) noexcept {
    Entry e(*this);
    if (c.dead) {
        return -ENOTCONN;
    }
    if (how == Shutdown::rd || how == Shutdown::rdwr) {
        if (!c.rd_shutdown) {
            c.rd_shutdown = true;
            stats_[Counter::rd_discarded_bytes] += c.rcv_q.bytes();
            c.rcv_q.clear();
        }
    }
    if (how == Shutdown::wr || how == Shutdown::rdwr) {
        if (c.state == State::syn_sent || c.state == State::syn_recv) {
            return -ENOTCONN;
        }
        if (!c.wr_shutdown) {
            c.wr_shutdown = true;
            if (c.state == State::established) {
                set_state(c, State::fin_wait1);
            } else if (c.state == State::close_wait) {
                set_state(c, State::last_ack);
                wheel_.cancel(c.wait_timer); // no CLOSE_WAIT timeout once the app closes
            }
            output(c);
        }
    }
    return 0;
}

void TcpStack::close(Tcb& c) noexcept {
    Entry e(*this);
    if (c.dead || c.orphan) {
        return;
    }
    c.orphan = true;
    if (c.state == State::syn_sent) {
        destroy(c, 0);
        return;
    }
    if (c.state == State::syn_recv) {
        // Not established yet (a simultaneous open): nothing was exchanged, reset it.
        send_rst(c, RstReason::app_abort);
        ++stats_[Counter::conn_aborted];
        destroy(c, 0);
        return;
    }
    // Abortive close: linger 0, or received data the application never read (RFC 2525 2.17).
    const bool unread = c.rcv_q.bytes() > 0;
    if ((c.linger && c.linger_time == 0) || unread) {
        if (unread) {
            ++stats_[Counter::close_unread_rst];
            send_rst(c, RstReason::close_unread);
        } else {
            ++stats_[Counter::conn_aborted];
            send_rst(c, RstReason::app_abort);
        }
        destroy(c, 0);
        return;
    }
    if (c.linger && c.linger_time > 0) {
        c.linger_notify = true; // a graceful close under linger T reports its outcome
    }
    if (!c.wr_shutdown) {
        c.wr_shutdown = true;
        if (c.state == State::established) {
            set_state(c, State::fin_wait1);
        } else if (c.state == State::close_wait) {
            set_state(c, State::last_ack);
        }
    }
    wheel_.cancel(c.wait_timer); // a CLOSE_WAIT timeout no longer applies
    if (c.state == State::fin_wait2) {
        // Half-closed earlier with shutdown(WR): now an orphan, so fin_timeout applies.
        c.wait_timer.set_kind(static_cast<std::uint8_t>(TimerKind::fin_wait2));
        wheel_.start(c.wait_timer, now_ + cfg_.tcp.fin_timeout);
    } else if (c.linger_notify) {
        c.wait_timer.set_kind(static_cast<std::uint8_t>(TimerKind::linger));
        wheel_.start(c.wait_timer, now_ + c.linger_time);
    }
    output(c);
}

void TcpStack::abort(Tcb& c) noexcept {
    Entry e(*this);
    if (c.dead) {
        return;
    }
    c.orphan = true; // the application asked: no callback
    ++stats_[Counter::conn_aborted];
    if (c.state != State::syn_sent) {
        send_rst(c, RstReason::app_abort);
    }
    destroy(c, 0);
}

void TcpStack::set_linger(Tcb& c, bool on, Nanos timeout) noexcept {
    c.linger = on;
    c.linger_time = timeout;
}

void TcpStack::set_keepalive(Tcb& c, bool on, Nanos idle, Nanos intvl,
                             std::uint32_t probes) noexcept {
    c.keepalive = on;
    if (idle != 0) {
        c.keepalive_time = idle;
    }
    if (intvl != 0) {
        c.keepalive_intvl = intvl;
    }
    if (probes != 0) {
        c.keepalive_probes = probes;
    }
    schedule_idle(c);
}

void TcpStack::set_nodelay(Tcb& c, bool on) noexcept {
    Entry e(*this);
    c.nodelay = on;
    if (on && !c.dead) {
        output(c);
    }
}

void TcpStack::set_idle_timeout(Tcb& c, Nanos t) noexcept {
    c.idle_timeout = t;
    schedule_idle(c);
}

void TcpStack::set_user_timeout(Tcb& c, Nanos t) noexcept {
    c.user_timeout = t;
}

} // namespace tcpterm::tcp
