// The load balancer's proxy under a fake clock: three TcpStacks (clients, the balancer, the
// backends) joined by the in-memory router of harness.hpp, the LbWorker driven exactly as a worker
// drives it (input, advance, poll). Every test ends with the mbuf pool back to its starting level.
#include "harness.hpp"

#include <catch2/catch.hpp>
#include <rte_byteorder.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include <cerrno>
#include <memory>
#include <set>
#include <string>
#include <vector>

using namespace tcpterm;

namespace {

using namespace tcpterm::lbtest;

struct Pool {
    rte_mempool* mp;
    Pool()
        : mp(rte_pktmbuf_pool_create("lbtest", 16383, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                     SOCKET_ID_ANY)) {
        REQUIRE(mp != nullptr);
    }
    ~Pool() {
        CHECK(rte_mempool_in_use_count(mp) == 0);
        rte_mempool_free(mp);
    }
};

/// Byte-string equality without Catch printing megabytes of binary on failure.
std::string same_note(const std::string& a, const std::string& b) {
    std::size_t i = 0;
    while (i < a.size() && i < b.size() && a[i] == b[i]) {
        ++i;
    }
    return "sizes " + std::to_string(a.size()) + " vs " + std::to_string(b.size()) +
           ", first difference at " + std::to_string(i);
}
bool same(const std::string& a, const std::string& b) {
    if (a == b) {
        return true;
    }
    UNSCOPED_INFO(same_note(a, b));
    return false;
}

std::string pattern(std::size_t n, unsigned seed) {
    std::string s(n, '\0');
    std::uint32_t x = seed * 2654435761u + 1;
    for (char& ch : s) {
        x = x * 1664525u + 1013904223u;
        ch = static_cast<char>(x >> 24);
    }
    return s;
}

// One end of a connection (a client, or a backend's accepted connection): records what arrives.
struct End final : tcp::ConnHandler {
    tcp::TcpStack* st = nullptr;
    tcp::Tcb* c = nullptr;
    std::string got;
    std::string to_send;
    std::size_t sent = 0;
    bool connected = false;
    bool fin = false;
    bool reading = true;
    bool http = false; // answer one HTTP request with 200 and close (health checks)
    int closed = -1;   // errno of on_closed, -1 = still open

    void feed() {
        while (c != nullptr && sent < to_send.size()) {
            const long n = st->send(*c, to_send.data() + sent, to_send.size() - sent);
            if (n <= 0) {
                return;
            }
            sent += static_cast<std::size_t>(n);
        }
    }
    void drain() {
        char buf[4096];
        std::size_t n;
        while (c != nullptr && reading && (n = st->recv(*c, buf, sizeof buf)) > 0) {
            got.append(buf, n);
        }
    }
    void on_connected(tcp::Tcb&) override {
        connected = true;
        feed();
    }
    void on_readable(tcp::Tcb& t) override {
        drain();
        if (http && got.find("\r\n\r\n") != std::string::npos) {
            static constexpr char kOk[] = "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n";
            st->send(t, kOk, sizeof kOk - 1);
            st->close(t);
            c = nullptr;
        }
    }
    void on_peer_fin(tcp::Tcb&) override {
        drain();
        fin = true;
    }
    void on_writable(tcp::Tcb&) override { feed(); }
    void on_closed(tcp::Tcb&, int err) override {
        closed = err;
        c = nullptr;
    }
};

// A backend stack's application: accepts on each listening member address.
struct Backends final : tcp::ListenHandler {
    tcp::TcpStack* st = nullptr;
    bool http = false;
    bool reading = true;
    std::vector<std::unique_ptr<End>> conns;
    void on_acceptable(tcp::Listener& l) override {
        for (;;) {
            auto e = std::make_unique<End>();
            e->st = st;
            e->http = http;
            e->reading = reading;
            tcp::Tcb* c = st->accept(l, e.get());
            if (c == nullptr) {
                return;
            }
            e->c = c;
            e->connected = true;
            conns.push_back(std::move(e));
        }
    }
    /// Application connections only (health checks excluded when http is on).
    End& last() { return *conns.back(); }
};

// The proxy scenarios' network: one client stack (kClient), the balancer, one backend stack
// answering for every member address; End objects on both sides, fed after every round.
class Net : public Router {
public:
    Net(rte_mempool* mp, engine::EngineConfig c) : Router(mp, c, stack_config(c)) {
        default_routes();
        backend = backend_stacks[0];
        backends.st = backend;
        after_round = [this] {
            for (auto& e : clients) {
                e->feed();
            }
            for (auto& e : backends.conns) {
                e->feed();
            }
        };
    }
    ~Net() { worker.reset(); } // the apps below go before the stacks, as in the engine

    void listen_member(std::uint32_t addr, std::uint16_t port = kMemberPort) {
        int err = 0;
        REQUIRE(backend->listen(rte_cpu_to_be_32(addr), rte_cpu_to_be_16(port), &backends, 0,
                                &err) != nullptr);
    }

    End& connect(std::uint16_t sport, std::string payload = {}) {
        auto e = std::make_unique<End>();
        e->st = client;
        e->to_send = std::move(payload);
        FourTuple t;
        t.laddr = rte_cpu_to_be_32(kClient);
        t.raddr = rte_cpu_to_be_32(kVip);
        t.lport = rte_cpu_to_be_16(sport);
        t.rport = rte_cpu_to_be_16(80);
        int err = 0;
        e->c = client->connect(t, e.get(), &err);
        REQUIRE(e->c != nullptr);
        clients.push_back(std::move(e));
        pump();
        return *clients.back();
    }

    tcp::TcpStack* backend = nullptr;
    Backends backends;
    std::vector<std::unique_ptr<End>> clients;

private:
    static tcp::StackConfig stack_config(const engine::EngineConfig& c) {
        tcp::StackConfig k;
        k.tcp = c.tcp;
        k.max_connections = 512;
        k.max_time_wait = 512;
        return k;
    }
};

std::unique_ptr<Net> make_net(rte_mempool* mp, engine::EngineConfig c) {
    auto n = std::make_unique<Net>(mp, std::move(c));
    n->make_shared();
    return n;
}

} // namespace

TEST_CASE("proxy: bytes relayed intact both ways, half-close kept, orderly close of both legs",
          "[lb][proxy]") {
    Pool pool;
    auto n = make_net(pool.mp, lb_config({kM1}));
    n->listen_member(kM1);
    n->start();
    const std::string up = pattern(300'000, 1);
    const std::string down = pattern(700'000, 2);
    End& cl = n->connect(40000, up);
    n->advance(ms(500));
    REQUIRE(n->backends.conns.size() == 1);
    End& be = n->backends.last();
    CHECK(same(be.got, up));
    be.to_send = down;
    be.feed();
    n->advance(ms(500));
    CHECK(same(cl.got, down));

    // Client half-closes: the backend sees end of stream, and may still send.
    n->client->shutdown(*cl.c, tcp::Shutdown::wr);
    n->advance(ms(100));
    CHECK(be.fin);
    CHECK_FALSE(cl.fin);
    const std::string tail = pattern(20'000, 3);
    be.to_send += tail;
    be.feed();
    n->advance(ms(100));
    CHECK(same(cl.got, down + tail));
    // The backend closes: the client gets its FIN, both legs end in order.
    n->backend->close(*be.c);
    be.c = nullptr;
    n->advance(ms(100));
    CHECK(cl.fin);
    CHECK(cl.closed == 0); // its FIN was acked and it saw ours: TIME_WAIT, reported as closed
    n->advance(sec(5));
    CHECK(n->vs(lb::VsCounter::completed) == 1);
    CHECK(n->vs(lb::VsCounter::active) == 0);
    CHECK(n->vs(lb::VsCounter::bytes_in) == up.size());
    CHECK(n->vs(lb::VsCounter::bytes_out) == down.size() + tail.size());
    CHECK(n->member(0, lb::MemberCounter::active) == 0);
    CHECK(n->worker->sessions() == 0);
    CHECK(n->lb->tcb_count() == 0);
}

TEST_CASE("proxy: a slow backend closes the client's window instead of buffering without bound",
          "[lb][proxy]") {
    Pool pool;
    auto c = lb_config({kM1});
    c.tcp.rcv_buf = 64 * 1024;
    c.tcp.snd_buf = 64 * 1024;
    auto n = make_net(pool.mp, c);
    n->listen_member(kM1);
    n->backends.reading = false;
    n->start();
    const std::string big = pattern(4 << 20, 4);
    End& cl = n->connect(40000, big);
    n->advance(sec(2));
    REQUIRE(n->backends.conns.size() == 1);
    End& be = n->backends.last();
    // Buffered at the balancer: at most its client leg's receive buffer plus its backend leg's
    // send buffer (plus segments in flight); the rest waits at the client.
    const std::size_t at_backend = n->backend->readable(*be.c);
    const std::size_t at_client = cl.c->snd_q.bytes(); // queued at the client, not acked
    const std::size_t at_lb = cl.sent - at_client - at_backend;
    CHECK(at_lb <= 2 * 64 * 1024);
    CHECK(at_backend <= 64 * 1024);
    CHECK(cl.sent < big.size());
    // The backend starts reading: everything arrives, in order.
    be.reading = true;
    for (int i = 0; i < 400 && be.got.size() < big.size(); ++i) {
        be.drain();
        n->advance(ms(50));
    }
    CHECK(same(be.got, big));
}

TEST_CASE("proxy: client RST resets the backend leg; backend RST with on_reset=fin closes the "
          "client gracefully",
          "[lb][proxy]") {
    Pool pool;
    auto c = lb_config({kM1});
    c.virtual_servers[0].on_reset = engine::ResetAction::fin;
    auto n = make_net(pool.mp, c);
    n->listen_member(kM1);
    n->start();
    SECTION("client RST") {
        // on_reset governs the relay of RSTs; this virtual server says "fin", so the backend
        // is closed gracefully.
        End& cl = n->connect(40000, "hello");
        n->advance(ms(100));
        End& be = n->backends.last();
        n->client->abort(*cl.c);
        cl.c = nullptr;
        n->advance(ms(100));
        CHECK(be.fin);
        CHECK(be.closed == -1);
        CHECK(n->vs(lb::VsCounter::client_resets) == 1);
    }
    SECTION("backend RST, on_reset reset") {
        n->cfg.virtual_servers[0].on_reset = engine::ResetAction::reset;
        End& cl = n->connect(40000, "hello");
        n->advance(ms(100));
        End& be = n->backends.last();
        n->backend->abort(*be.c);
        be.c = nullptr;
        n->advance(ms(100));
        CHECK(cl.closed == ECONNRESET);
        CHECK(n->vs(lb::VsCounter::server_resets) == 1);
    }
    SECTION("backend RST, on_reset fin") {
        End& cl = n->connect(40000, "hello");
        n->advance(ms(100));
        End& be = n->backends.last();
        be.to_send = "bye";
        be.feed();
        n->advance(ms(100));
        n->backend->abort(*be.c);
        be.c = nullptr;
        n->advance(ms(100));
        CHECK(cl.got == "bye");
        CHECK(cl.fin);
        CHECK(cl.closed == -1);
    }
    n->advance(sec(5));
    CHECK(n->worker->sessions() == 0);
}

TEST_CASE("proxy: refused member retried on another; all refused resets the client",
          "[lb][proxy]") {
    Pool pool;
    auto n = make_net(pool.mp, lb_config({kM1, kM2}));
    n->listen_member(kM2); // kM1 has no listener: its stack answers the SYN with RST
    n->start();
    // Round robin starts with kM1.
    End& a = n->connect(40000, "x");
    n->advance(ms(100));
    CHECK(n->vs(lb::VsCounter::connect_refused) == 1);
    CHECK(n->vs(lb::VsCounter::connect_retries) == 1);
    REQUIRE(n->backends.conns.size() == 1);
    CHECK(n->backends.last().got == "x");
    CHECK(a.closed == -1);

    n->cfg.virtual_servers[0].connect_retries = 0;
    // The next pick is kM1 again (smooth round robin alternates): refused, no retry left.
    End& b = n->connect(40001, "y");
    n->advance(ms(100));
    CHECK(b.closed == ECONNRESET);
    CHECK(n->vs(lb::VsCounter::connect_failed) == 1);
    CHECK(n->member(0, lb::MemberCounter::connect_refused) == 2);
}

TEST_CASE("proxy: unanswered backend connect times out and moves on", "[lb][proxy]") {
    Pool pool;
    auto n = make_net(pool.mp, lb_config({kM1, kM2}));
    n->listen_member(kM1);
    n->listen_member(kM2);
    n->blackhole.insert(kM1);
    n->start();
    End& a = n->connect(40000, "ping");
    n->advance(ms(900));
    CHECK(n->backends.conns.empty());
    n->advance(ms(300)); // connect_timeout 1s
    CHECK(n->vs(lb::VsCounter::connect_timeout) == 1);
    REQUIRE(n->backends.conns.size() == 1);
    CHECK(n->backends.last().got == "ping");
    CHECK(a.closed == -1);
}

TEST_CASE("proxy: idle timeout on the backend leg resets both legs", "[lb][proxy]") {
    Pool pool;
    auto c = lb_config({kM1});
    engine::ProfileConfig srv;
    srv.name = "srv";
    srv.idle_timeout = sec(5);
    c.profiles.push_back(srv);
    c.virtual_servers[0].server_profile = "srv";
    auto n = make_net(pool.mp, c);
    n->listen_member(kM1);
    n->start();
    End& a = n->connect(40000, "ping");
    n->advance(sec(1));
    End& be = n->backends.last();
    n->advance(sec(5), ms(100));
    CHECK(be.closed == ECONNRESET);
    CHECK(a.closed == ECONNRESET);
    CHECK(n->vs(lb::VsCounter::server_timeouts) == 1);
    CHECK(n->worker->sessions() == 0);
}

TEST_CASE("proxy: drain keeps existing sessions and sends new ones elsewhere; down with "
          "reset_on_down resets them",
          "[lb][proxy]") {
    Pool pool;
    auto c = lb_config({kM1, kM2});
    c.pools[0].reset_on_down = true;
    auto n = make_net(pool.mp, c);
    n->listen_member(kM1);
    n->listen_member(kM2);
    n->start();
    End& a = n->connect(40000, "a"); // kM1
    n->advance(ms(100));
    REQUIRE(n->member(0, lb::MemberCounter::active) == 1);
    n->states[0][0].admin.store(static_cast<std::uint8_t>(engine::MemberAdmin::drain));
    n->shared.publish();
    for (std::uint16_t p = 0; p < 4; ++p) {
        n->connect(static_cast<std::uint16_t>(40001 + p), "b");
    }
    n->advance(ms(100));
    CHECK(n->member(0, lb::MemberCounter::total) == 1);
    CHECK(n->member(1, lb::MemberCounter::total) == 4);
    CHECK(a.closed == -1); // the draining member's session goes on
    a.to_send += "more";
    a.feed();
    n->advance(ms(100));
    CHECK(n->backends.conns[0]->got == "amore");

    n->states[0][0].admin.store(static_cast<std::uint8_t>(engine::MemberAdmin::down));
    n->shared.publish();
    n->advance(ms(100));
    CHECK(a.closed == ECONNRESET);
    CHECK(n->member(0, lb::MemberCounter::resets_on_down) == 1);
    CHECK(n->member(1, lb::MemberCounter::active) == 4);
}

TEST_CASE("proxy: an exhausted source port range is a counted refusal, not a stall",
          "[lb][proxy]") {
    Pool pool;
    auto c = lb_config({kM1});
    c.lb.source_port_min = 20000;
    c.lb.source_port_max = 20003;
    auto n = make_net(pool.mp, c);
    n->odd_ports_only = true; // RSS: only 20001 and 20003 come back to this worker
    n->listen_member(kM1);
    n->start();
    End& a = n->connect(40000, "1");
    End& b = n->connect(40001, "2");
    End& x = n->connect(40002, "3");
    n->advance(ms(100));
    CHECK(a.closed == -1);
    CHECK(b.closed == -1);
    CHECK(x.closed == ECONNRESET);
    CHECK(n->vs(lb::VsCounter::refused_no_port) == 1);
    for (const auto& e : n->backends.conns) {
        CHECK((rte_be_to_cpu_16(e->c->key.rport) & 1) == 1);
    }
    CHECK(n->worker->local_ports().exhausted() == 1);
    CHECK(n->worker->local_ports().rss_skips() > 0);
}

TEST_CASE("proxy: max_connections closes the listener's gate (RST) and reopens it", "[lb][proxy]") {
    Pool pool;
    auto c = lb_config({kM1});
    c.virtual_servers[0].max_connections = 1;
    auto n = make_net(pool.mp, c);
    n->listen_member(kM1);
    n->start();
    End& a = n->connect(40000, "a");
    n->advance(ms(100));
    End& b = n->connect(40001, "b");
    n->advance(ms(100));
    CHECK(a.closed == -1);
    CHECK(b.closed == ECONNREFUSED);
    CHECK(n->lb->stats()[tcp::Counter::syn_gate_reset] == 1);
    n->client->abort(*a.c);
    a.c = nullptr;
    n->advance(ms(100));
    End& d = n->connect(40002, "d");
    n->advance(ms(100));
    CHECK(d.closed == -1);
    CHECK(d.connected);
}

TEST_CASE("proxy: http health checks take a member down after fall and up after rise",
          "[lb][proxy][health]") {
    Pool pool;
    auto c = lb_config({kM1, kM2, kM3});
    c.pools[0].health_check = engine::HealthCheckType::http;
    c.pools[0].health_interval = ms(500);
    c.pools[0].health_timeout = ms(200);
    c.pools[0].health_rise = 2;
    c.pools[0].health_fall = 2;
    auto n = make_net(pool.mp, c);
    n->backends.http = true;
    n->listen_member(kM1);    // answers 200
    n->blackhole.insert(kM3); // never answers: timeouts; kM2 refuses
    n->start();
    n->advance(sec(2));
    CHECK(lb::effective(n->states[0][0]) == lb::MemberState::up);
    CHECK(lb::effective(n->states[0][1]) == lb::MemberState::down);
    CHECK(lb::effective(n->states[0][2]) == lb::MemberState::down);
    CHECK(static_cast<lb::CheckResult>(n->states[0][1].last.load()) == lb::CheckResult::refused);
    CHECK(static_cast<lb::CheckResult>(n->states[0][2].last.load()) == lb::CheckResult::timeout);
    CHECK(n->states[0][0].checks_ok.load() >= 3);
    // New connections go to kM1 only.
    n->backends.http = false;
    for (std::uint16_t p = 0; p < 3; ++p) {
        n->connect(static_cast<std::uint16_t>(41000 + p), "q");
    }
    n->advance(ms(100));
    CHECK(n->member(0, lb::MemberCounter::total) == 3);
    // kM2 comes back: up after two good checks.
    n->backends.http = true;
    n->listen_member(kM2);
    n->advance(sec(2));
    CHECK(lb::effective(n->states[0][1]) == lb::MemberState::up);
}

TEST_CASE("proxy: reload moves sessions to the same members, lets removed members' sessions "
          "finish, and sends new connections to the new member set",
          "[lb][proxy][reload]") {
    Pool pool;
    auto n = make_net(pool.mp, lb_config({kM1, kM2}));
    n->listen_member(kM1);
    n->listen_member(kM2);
    n->listen_member(kM3);
    n->start();
    End& a = n->connect(40000, "a"); // kM1
    End& b = n->connect(40001, "b"); // kM2
    n->advance(ms(100));
    REQUIRE(n->backends.conns.size() == 2);

    // The new file: kM1 removed, kM2 kept (weight 3), kM3 added.
    engine::EngineConfig next = lb_config({kM2, kM3});
    next.pools[0].members[0].weight = 3;
    auto states = lb::make_member_states(next);
    std::vector<lb::MemberShared*> ptrs{states[0].get()};
    n->worker->reload(next, ptrs);
    n->advance(ms(10));

    // Sessions go on: the removed member's too.
    a.to_send += "1";
    b.to_send += "2";
    a.feed();
    b.feed();
    n->advance(ms(100));
    CHECK(n->backends.conns[0]->got == "a1");
    CHECK(n->backends.conns[1]->got == "b2");
    // kM2's counters carried over (its session is still accounted to it).
    CHECK(n->member(0, lb::MemberCounter::active) == 1);
    CHECK(n->member(0, lb::MemberCounter::total) == 1);
    for (std::uint16_t p = 0; p < 8; ++p) {
        n->connect(static_cast<std::uint16_t>(41000 + p), "n");
    }
    n->advance(ms(100));
    CHECK(n->member(0, lb::MemberCounter::total) == 1 + 6); // weight 3 of 4
    CHECK(n->member(1, lb::MemberCounter::total) == 2);
    // The removed member's session ends cleanly.
    n->client->close(*a.c);
    a.c = nullptr;
    n->advance(ms(100));
    n->backend->close(*n->backends.conns[0]->c);
    n->backends.conns[0]->c = nullptr;
    n->advance(sec(3));
    CHECK(n->vs(lb::VsCounter::completed) == 1);
    CHECK(n->vs(lb::VsCounter::active) == 9);
}
