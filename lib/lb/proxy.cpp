#include "lb/proxy.hpp"

#include "lb/health.hpp"
#include "tcp/stack.hpp"

#include <fmt/core.h>
#include <rte_byteorder.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <cerrno>

namespace tcpterm::lb {

using engine::MemberAdmin;

namespace {

Algorithm algorithm_of(engine::PoolAlgorithm a) {
    switch (a) {
    case engine::PoolAlgorithm::round_robin:
        return Algorithm::round_robin;
    case engine::PoolAlgorithm::least_connections:
        return Algorithm::least_connections;
    case engine::PoolAlgorithm::maglev:
        return Algorithm::maglev;
    }
    return Algorithm::round_robin;
}

std::vector<Member> members_of(const engine::PoolConfig& p) {
    std::vector<Member> out;
    for (const engine::MemberConfig& m : p.members) {
        Member x;
        x.addr = m.address;
        x.port = m.port;
        x.weight = m.weight;
        x.state = m.state == MemberAdmin::up      ? MemberState::up
                  : m.state == MemberAdmin::drain ? MemberState::drain
                                                  : MemberState::down;
        out.push_back(x);
    }
    return out;
}

/// Applies a profile's settings to one leg; unset values keep the [tcp] defaults.
void apply_profile(tcp::TcpStack& st, tcp::Tcb& c, const engine::ProfileConfig* p) {
    if (p == nullptr) {
        return;
    }
    if (p->idle_timeout) {
        st.set_idle_timeout(c, *p->idle_timeout);
    }
    if (p->user_timeout) {
        st.set_user_timeout(c, *p->user_timeout);
    }
    if (p->linger) {
        st.set_linger(c, true, *p->linger);
    }
    if (p->nodelay) {
        st.set_nodelay(c, *p->nodelay);
    }
    if (p->reset_on_timeout) {
        st.set_reset_on_timeout(c, *p->reset_on_timeout);
    }
    if (p->keepalive || p->keepalive_time || p->keepalive_intvl || p->keepalive_probes) {
        st.set_keepalive(c, p->keepalive.value_or(c.keepalive), p->keepalive_time.value_or(0),
                         p->keepalive_intvl.value_or(0), p->keepalive_probes.value_or(0));
    }
    if (p->rcv_buf || p->snd_buf) {
        st.set_buffers(c, p->rcv_buf.value_or(0), p->snd_buf.value_or(0));
    }
}

const engine::ProfileConfig* find_profile(const engine::EngineConfig& cfg,
                                          const std::string& name) {
    if (name.empty()) {
        return nullptr;
    }
    for (const engine::ProfileConfig& p : cfg.profiles) {
        if (p.name == name) {
            return &p;
        }
    }
    return nullptr; // the loader rejects unknown names
}

} // namespace

PoolRt::PoolRt(const engine::PoolConfig& c, std::size_t i, MemberShared* states)
    : cfg(&c), index(i), shared(states), sched(algorithm_of(c.algorithm), members_of(c)),
      counters(std::make_unique<MemberCounters[]>(c.members.size())),
      sessions(std::make_unique<MemberSessions[]>(c.members.size())),
      state(c.members.size(), MemberState::up) {
    for (std::size_t k = 0; k < c.members.size(); ++k) {
        state[k] = sched.members()[k].state;
    }
}

void VirtualServerRt::on_acceptable(tcp::Listener& /*l*/) {
    app->accept(*this);
}

LbWorker::LbWorker(engine::WorkerHost& host, Shared& shared,
                   const std::vector<MemberShared*>& states)
    : host_(host), shared_(shared), sessions_(host.config().max_connections),
      ports_(host.config().lb.source_port_min, host.config().lb.source_port_max, host.index()) {
    const engine::EngineConfig& cfg = host.config();
    for (std::size_t i = 0; i < cfg.pools.size(); ++i) {
        pools_.push_back(std::make_unique<PoolRt>(cfg.pools[i], i, states.at(i)));
    }
    for (const engine::VirtualServerConfig& v : cfg.virtual_servers) {
        auto vs = std::make_unique<VirtualServerRt>();
        vs->app = this;
        vs->cfg = &v;
        for (auto& p : pools_) {
            if (p->cfg->name == v.pool) {
                vs->pool = p.get();
            }
        }
        vs->client_profile = find_profile(cfg, v.client_profile);
        vs->server_profile = find_profile(cfg, v.server_profile);
        if (vs->pool == nullptr) {
            fmt::print(stderr, "lb: virtual server {}: no pool '{}'\n", v.name, v.pool);
            continue;
        }
        int err = 0;
        vs->listener = stack().listen(rte_cpu_to_be_32(v.address), rte_cpu_to_be_16(v.port),
                                      vs.get(), v.backlog, &err);
        if (vs->listener == nullptr) {
            fmt::print(stderr, "lb: worker {}: virtual server {} cannot listen on port {}: {}\n",
                       host.index(), v.name, v.port, err == EADDRINUSE ? "in use" : "no memory");
        }
        vs_.push_back(std::move(vs));
    }
    if (host.index() == 0) {
        health_ = std::make_unique<HealthChecker>(*this, shared_, ports_);
    }
    refresh_members();
}

// The engine destroys its apps before the stack (which then frees connections without callbacks);
// sessions still open are simply released.
LbWorker::~LbWorker() {
    while (!all_.empty()) {
        Session& s = all_.front();
        all_.pop_front();
        s.connect_hook.unlink();
        s.member_hook.unlink();
        sessions_.destroy(&s);
    }
}

tcp::TcpStack& LbWorker::stack() noexcept {
    return host_.stack();
}

void LbWorker::stop_accept() noexcept {
    stopping_ = true;
    for (auto& vs : vs_) {
        if (vs->listener != nullptr) {
            stack().close_listener(*vs->listener);
            vs->listener = nullptr;
        }
    }
    if (health_) {
        health_->stop();
    }
}

void LbWorker::poll(Nanos now) noexcept {
    if (shared_.generation.load(std::memory_order_acquire) != seen_generation_) {
        refresh_members();
    }
    for (auto& vs : vs_) {
        // Connect deadlines expire in order: one timeout per virtual server.
        while (!vs->connecting.empty() && vs->connecting.front().deadline <= now) {
            Session& s = vs->connecting.front();
            s.connect_hook.unlink();
            if (s.server != nullptr) {
                tcp::Tcb* srv = s.server;
                drop_server_leg(s);
                stack().close(*srv); // SYN_SENT: dropped silently
            }
            connect_failed(s, ETIMEDOUT);
        }
    }
    if (health_) {
        health_->poll(now);
    }
}

// ---- accept and connect ---------------------------------------------------------------------

int LbWorker::pick(VirtualServerRt& vs, std::uint32_t client, int exclude) noexcept {
    PoolRt& p = *vs.pool;
    int i = exclude < 0 ? p.sched.pick(client) : p.sched.pick_other(client, exclude);
    const std::size_t n = p.cfg->members.size();
    for (std::size_t k = 0; i >= 0 && k < n; ++k) {
        const std::uint32_t limit = p.cfg->members[static_cast<std::size_t>(i)].max_connections;
        if (limit == 0 || p.counters[i].get(MemberCounter::active) < limit) {
            return i;
        }
        i = p.sched.pick_other(client, i);
    }
    return i < 0 ? -1 : -2; // -2: members up, all at their limit
}

void LbWorker::update_gate(VirtualServerRt& vs) noexcept {
    if (vs.listener == nullptr || vs.cfg->max_connections == 0) {
        return;
    }
    const bool full = vs.counters.get(VsCounter::active) >= vs.cfg->max_connections;
    vs.listener->gate = !full ? tcp::Listener::Gate::open
                        : vs.cfg->over_limit == engine::LimitAction::reset
                            ? tcp::Listener::Gate::reset
                            : tcp::Listener::Gate::drop;
}

void LbWorker::accept(VirtualServerRt& vs) noexcept {
    tcp::TcpStack& st = stack();
    while (vs.listener != nullptr) {
        tcp::Tcb* c = st.accept(*vs.listener, this);
        if (c == nullptr) {
            break;
        }
        vs.counters.add(VsCounter::accepted);
        if (vs.cfg->max_connections != 0 &&
            vs.counters.get(VsCounter::active) >= vs.cfg->max_connections) {
            // Completed before the gate closed (handshakes in flight): refuse it now.
            vs.counters.add(VsCounter::over_limit);
            st.abort(*c);
            continue;
        }
        Session* s = sessions_.create();
        if (s == nullptr) {
            vs.counters.add(VsCounter::refused_no_session);
            st.abort(*c);
            continue;
        }
        all_.push_back(*s);
        s->vs = &vs;
        s->client = c;
        c->user = s;
        apply_profile(st, *c, vs.client_profile);
        vs.counters.add(VsCounter::active);
        update_gate(vs);
        const int m = pick(vs, rte_be_to_cpu_32(c->key.raddr), -1);
        if (m < 0) {
            vs.counters.add(m == -1 ? VsCounter::refused_no_member
                                    : VsCounter::refused_member_limit);
            abort_leg(*s, true);
            continue;
        }
        s->member = m;
        start_connect(*s);
    }
    if (vs.listener != nullptr) {
        update_gate(vs);
    }
}

// Opens the backend leg to s.member; on an immediate failure resets the client.
bool LbWorker::start_connect(Session& s) noexcept {
    VirtualServerRt& vs = *s.vs;
    PoolRt& p = *vs.pool;
    const engine::MemberConfig& m = p.cfg->members[static_cast<std::size_t>(s.member)];
    const std::uint32_t src =
        vs.cfg->source_address ? *vs.cfg->source_address : host_.source_for(m.address);
    FourTuple t;
    t.laddr = rte_cpu_to_be_32(src);
    t.raddr = rte_cpu_to_be_32(m.address);
    t.rport = rte_cpu_to_be_16(m.port);
    int err = 0;
    tcp::Tcb* srv = src == 0 ? nullptr : ports_.connect(host_, t, this, &err);
    if (srv == nullptr) {
        vs.counters.add(src == 0         ? VsCounter::refused_no_route
                        : err == ENOBUFS ? VsCounter::refused_no_memory
                                         : VsCounter::refused_no_port);
        abort_leg(s, true);
        return false;
    }
    srv->user = &s;
    s.server = srv;
    s.connected = false;
    apply_profile(stack(), *srv, vs.server_profile);
    p.counters[s.member].add(MemberCounter::total);
    p.counters[s.member].add(MemberCounter::active);
    p.sched.members()[static_cast<std::size_t>(s.member)].active++;
    p.sessions[s.member].push_back(s);
    s.deadline = host_.now() + vs.cfg->connect_timeout;
    vs.connecting.push_back(s);
    return true;
}

void LbWorker::connect_failed(Session& s, int err) noexcept {
    VirtualServerRt& vs = *s.vs;
    PoolRt& p = *vs.pool;
    if (s.member >= 0) {
        p.counters[s.member].add(err == ECONNREFUSED ? MemberCounter::connect_refused
                                                     : MemberCounter::connect_timeout);
    }
    vs.counters.add(err == ECONNREFUSED ? VsCounter::connect_refused : VsCounter::connect_timeout);
    if (s.client == nullptr) {
        maybe_free(s);
        return;
    }
    if (s.tries < vs.cfg->connect_retries && !stopping_) {
        const int m = pick(vs, rte_be_to_cpu_32(s.client->key.raddr), s.member);
        if (m >= 0) {
            ++s.tries;
            vs.counters.add(VsCounter::connect_retries);
            s.member = m;
            start_connect(s);
            return;
        }
    }
    vs.counters.add(VsCounter::connect_failed);
    abort_leg(s, true);
}

// ---- relay ------------------------------------------------------------------------------------

// Returns false when the session ended (and was freed) inside.
bool LbWorker::pump(Session& s, bool c2s) noexcept {
    tcp::TcpStack& st = stack();
    if (!s.connected) {
        return true;
    }
    VirtualServerRt& vs = *s.vs;
    for (;;) {
        tcp::Tcb* from = c2s ? s.client : s.server;
        tcp::Tcb* to = c2s ? s.server : s.client;
        if (from == nullptr || to == nullptr) {
            return true;
        }
        const std::size_t n = std::min<std::size_t>(st.readable(*from), to->send_space());
        if (n == 0) {
            if (st.readable(*from) > 0) {
                st.want_writable(*to); // resume in on_writable(to)
                return true;
            }
            bool& fin = c2s ? s.c2s_fin : s.s2c_fin;
            if (st.peer_closed(*from) && !fin) {
                fin = true;
                st.shutdown(*to, tcp::Shutdown::wr);
                return !maybe_finish(s);
            }
            return true;
        }
        rte_mbuf* m = st.recv_mbuf(*from, n);
        if (m == nullptr) {
            return true;
        }
        const std::uint32_t len = m->pkt_len;
        if (st.send_mbuf(*to, m) < 0) {
            rte_pktmbuf_free(m); // cannot happen within send_space; never leak
            return true;
        }
        vs.counters.add(c2s ? VsCounter::bytes_in : VsCounter::bytes_out, len);
        if (s.member >= 0) {
            vs.pool->counters[s.member].add(
                c2s ? MemberCounter::bytes_in : MemberCounter::bytes_out, len);
        }
    }
}

void LbWorker::on_connected(tcp::Tcb& c) {
    auto& s = *static_cast<Session*>(c.user);
    s.connect_hook.unlink();
    s.connected = true;
    if (pump(s, true)) { // bytes the client sent while the backend leg was opening
        pump(s, false);
    }
}

void LbWorker::on_readable(tcp::Tcb& c) {
    auto& s = *static_cast<Session*>(c.user);
    pump(s, &c == s.client);
}

void LbWorker::on_peer_fin(tcp::Tcb& c) {
    auto& s = *static_cast<Session*>(c.user);
    pump(s, &c == s.client);
}

void LbWorker::on_writable(tcp::Tcb& c) {
    auto& s = *static_cast<Session*>(c.user);
    pump(s, &c != s.client); // space on this leg: move the other leg's bytes in
}

// Both directions ended in order: close both legs (each finishes its FIN exchange as an orphan).
// Returns true when it ended (and freed) the session.
bool LbWorker::maybe_finish(Session& s) noexcept {
    if (!s.c2s_fin || !s.s2c_fin) {
        return false;
    }
    s.vs->counters.add(VsCounter::completed);
    tcp::TcpStack& st = stack();
    if (tcp::Tcb* c = s.client) {
        s.client = nullptr;
        c->user = nullptr;
        c->handler = nullptr; // an orphan with linger reports to nobody
        s.vs->counters.sub(VsCounter::active);
        st.close(*c);
    }
    if (s.server != nullptr) {
        tcp::Tcb* srv = s.server;
        drop_server_leg(s);
        st.close(*srv);
    }
    update_gate(*s.vs);
    maybe_free(s);
    return true;
}

void LbWorker::close_gracefully(tcp::Tcb& c) noexcept {
    tcp::TcpStack& st = stack();
    st.shutdown(c, tcp::Shutdown::rd); // nobody left to deliver its bytes to
    st.close(c);                       // FIN after whatever is still queued to send
}

// Detaches the backend leg from the session and the member's accounting.
void LbWorker::drop_server_leg(Session& s) noexcept {
    if (s.server == nullptr) {
        return;
    }
    s.server->user = nullptr;
    s.server->handler = nullptr;
    s.server = nullptr;
    s.connect_hook.unlink();
    s.member_hook.unlink();
    if (s.member >= 0) {
        PoolRt& p = *s.vs->pool;
        p.counters[s.member].sub(MemberCounter::active);
        auto& a = p.sched.members()[static_cast<std::size_t>(s.member)].active;
        a = a > 0 ? a - 1 : 0;
    }
}

void LbWorker::abort_leg(Session& s, bool client_leg) noexcept {
    tcp::TcpStack& st = stack();
    if (client_leg) {
        if (tcp::Tcb* c = s.client) {
            s.client = nullptr;
            c->user = nullptr;
            c->handler = nullptr;
            s.vs->counters.sub(VsCounter::active);
            update_gate(*s.vs);
            st.abort(*c);
        }
    } else if (tcp::Tcb* srv = s.server) {
        drop_server_leg(s);
        if (srv->state == tcp::State::syn_sent) {
            st.close(*srv); // no RST for a SYN never answered
        } else {
            st.abort(*srv);
        }
    }
    maybe_free(s);
}

void LbWorker::maybe_free(Session& s) noexcept {
    if (s.client == nullptr && s.server == nullptr && !s.connect_hook.is_linked()) {
        s.all_hook.unlink();
        sessions_.destroy(&s);
    }
}

void LbWorker::on_closed(tcp::Tcb& c, int err) {
    auto* sp = static_cast<Session*>(c.user);
    if (sp == nullptr) {
        return;
    }
    Session& s = *sp;
    const bool client_leg = &c == s.client;
    leg_gone(s, client_leg, err);
}

// One leg ended (reset, timed out, or closed by the stack): carry it to the other leg.
void LbWorker::leg_gone(Session& s, bool client_leg, int err) noexcept {
    VirtualServerRt& vs = *s.vs;
    if (client_leg) {
        s.client->user = nullptr;
        s.client = nullptr;
        vs.counters.sub(VsCounter::active);
        update_gate(vs);
    } else {
        const bool was_connected = s.connected;
        drop_server_leg(s);
        if (!was_connected) {
            connect_failed(s, err == ECONNREFUSED || err == ECONNRESET ? ECONNREFUSED : ETIMEDOUT);
            return;
        }
    }
    const engine::ProfileConfig* prof = client_leg ? vs.client_profile : vs.server_profile;
    bool reset_other = true;
    if (err == ECONNRESET) {
        vs.counters.add(client_leg ? VsCounter::client_resets : VsCounter::server_resets);
        reset_other = vs.cfg->on_reset == engine::ResetAction::reset;
    } else if (err == ETIMEDOUT) {
        vs.counters.add(client_leg ? VsCounter::client_timeouts : VsCounter::server_timeouts);
        reset_other = prof && prof->reset_on_timeout ? *prof->reset_on_timeout
                                                     : stack().config().tcp.reset_on_timeout;
    } else if (err == 0) {
        reset_other = false;
    }
    tcp::Tcb* other = client_leg ? s.server : s.client;
    if (other == nullptr) {
        maybe_free(s);
        return;
    }
    if (reset_other || (!client_leg && !s.connected)) {
        abort_leg(s, !client_leg);
        return;
    }
    // Graceful: the other leg sends what it has queued, then FIN.
    if (client_leg) {
        drop_server_leg(s);
    } else {
        other->user = nullptr;
        other->handler = nullptr;
        s.client = nullptr;
        vs.counters.sub(VsCounter::active);
        update_gate(vs);
    }
    close_gracefully(*other);
    maybe_free(s);
}

} // namespace tcpterm::lb
