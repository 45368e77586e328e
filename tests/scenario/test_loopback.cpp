// Two tcpterm stacks talking to each other over the in-memory link: behaviour that needs both
// sides to be tcpterm (simultaneous close seen from both ends) and transfers under loss,
// duplication and reordering injected by the tamper hook.
#include "../common/link.hpp"
#include "harness.hpp"

#include <catch2/catch.hpp>

#include <rte_byteorder.h>

#include <random>

using namespace tcpterm;
using namespace tcpterm::test;
using tcp::State;

namespace {

struct Echo : tcp::ConnHandler, tcp::ListenHandler {
    tcp::TcpStack* s = nullptr;
    std::vector<tcp::Tcb*> conns;
    void on_acceptable(tcp::Listener& l) override {
        while (tcp::Tcb* c = s->accept(l, this)) {
            conns.push_back(c);
        }
    }
    void on_readable(tcp::Tcb& c) override {
        char buf[2048];
        std::size_t n;
        while ((n = s->recv(c, buf, sizeof buf)) > 0) {
            REQUIRE(s->send(c, buf, n) == static_cast<long>(n)); // buffers are large enough here
        }
    }
    void on_peer_fin(tcp::Tcb& c) override { s->close(c); }
};

struct Client : tcp::ConnHandler {
    tcp::TcpStack* s = nullptr;
    std::string got;
    bool connected = false;
    int fins = 0;
    void on_connected(tcp::Tcb&) override { connected = true; }
    void on_readable(tcp::Tcb& c) override {
        char buf[2048];
        std::size_t n;
        while ((n = s->recv(c, buf, sizeof buf)) > 0) {
            got.append(buf, n);
        }
    }
    void on_peer_fin(tcp::Tcb&) override { ++fins; }
};

struct Pool {
    rte_mempool* mp;
    explicit Pool(const char* name)
        : mp(rte_pktmbuf_pool_create(name, 16383, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                     SOCKET_ID_ANY)) {
        REQUIRE(mp != nullptr);
    }
    ~Pool() {
        CHECK(rte_mempool_in_use_count(mp) == 0);
        rte_mempool_free(mp);
    }
};

tcp::StackConfig cfg() {
    tcp::StackConfig c;
    c.max_connections = 64;
    c.max_time_wait = 64;
    return c;
}

FourTuple client_tuple(std::uint16_t port = 40000) {
    FourTuple t;
    t.laddr = rte_cpu_to_be_32(Scenario::kPeerIp);
    t.raddr = rte_cpu_to_be_32(Scenario::kEngineIp);
    t.lport = rte_cpu_to_be_16(port);
    t.rport = rte_cpu_to_be_16(80);
    return t;
}

State state_of(tcp::TcpStack& s, const FourTuple& t) {
    ConnEntry* e = s.lookup(t);
    return e == nullptr  ? State::closed
           : e->tagged() ? State::time_wait
                         : static_cast<tcp::Tcb*>(e)->state;
}

FourTuple reversed(const FourTuple& t) {
    return {t.raddr, t.laddr, t.rport, t.lport};
}

} // namespace

TEST_CASE("loopback: simultaneous close, both sides pass CLOSING and end in TIME_WAIT",
          "[loopback]") {
    Pool pool("lb_simclose");
    {
        Link link(cfg(), cfg(), pool.mp, sec(100));
        Echo server_app;
        server_app.s = &link.server;
        Client client_app;
        client_app.s = &link.client;
        REQUIRE(link.server.listen(rte_cpu_to_be_32(Scenario::kEngineIp), rte_cpu_to_be_16(80),
                                   &server_app, 0, nullptr));
        tcp::Tcb* c = link.client.connect(client_tuple(), &client_app, nullptr);
        REQUIRE(c);
        link.pump();
        REQUIRE(client_app.connected);
        REQUIRE(server_app.conns.size() == 1);
        // Both close before either FIN is delivered.
        link.client.close(*c);
        link.server.close(*server_app.conns[0]);
        link.pump();
        const FourTuple t = client_tuple();
        CHECK(state_of(link.client, t) == State::time_wait);
        CHECK(state_of(link.server, reversed(t)) == State::time_wait);
        CHECK(link.client.stats().transition(State::closing, State::time_wait) == 1);
        CHECK(link.server.stats().transition(State::closing, State::time_wait) == 1);
        link.advance(sec(60));
        CHECK(state_of(link.client, t) == State::closed);
        CHECK(state_of(link.server, reversed(t)) == State::closed);
    }
}

TEST_CASE("loopback: the SYN-ACK is dropped, the client's SYN retransmission recovers",
          "[loopback]") {
    Pool pool("lb_synack");
    {
        Link link(cfg(), cfg(), pool.mp, sec(100));
        Echo server_app;
        server_app.s = &link.server;
        Client client_app;
        client_app.s = &link.client;
        REQUIRE(link.server.listen(0, rte_cpu_to_be_16(80), &server_app, 0, nullptr));
        int dropped = 0;
        link.tamper = [&](rte_mbuf*, bool to_server) {
            if (!to_server && dropped == 0) {
                ++dropped;
                return Link::Fate::drop;
            }
            return Link::Fate::deliver;
        };
        tcp::Tcb* c = link.client.connect(client_tuple(), &client_app, nullptr);
        link.pump();
        CHECK_FALSE(client_app.connected);
        link.advance(sec(1)); // both the client's SYN and the server's SYN-ACK are retransmitted
        link.pump();
        CHECK(client_app.connected);
        CHECK(dropped == 1);
        link.client.abort(*c);
        link.pump();
    }
}

TEST_CASE("loopback: 1 MiB echoed intact through 2% loss, duplication and reordering",
          "[loopback]") {
    Pool pool("lb_lossy");
    {
        tcp::StackConfig k = cfg();
        k.tcp.snd_buf = 4u << 20;
        k.tcp.rcv_buf = 1u << 20;
        k.tcp.window_scaling = true;
        Link link(k, k, pool.mp, sec(100));
        Echo server_app;
        server_app.s = &link.server;
        Client client_app;
        client_app.s = &link.client;
        REQUIRE(link.server.listen(0, rte_cpu_to_be_16(80), &server_app, 0, nullptr));
        std::mt19937 rng(42);
        link.tamper = [&](rte_mbuf*, bool) {
            const unsigned r = rng() % 100;
            if (r < 2) {
                return Link::Fate::drop;
            }
            if (r < 4) {
                return Link::Fate::duplicate;
            }
            if (r < 6) {
                return Link::Fate::delay;
            }
            return Link::Fate::deliver;
        };
        tcp::Tcb* c = link.client.connect(client_tuple(), &client_app, nullptr);
        for (int i = 0; i < 100 && !client_app.connected; ++i) {
            link.pump();
            link.advance(ms(10));
        }
        REQUIRE(client_app.connected);
        std::string data(1u << 20, '\0');
        for (std::size_t i = 0; i < data.size(); ++i) {
            data[i] = static_cast<char>((i * 7919) >> 3);
        }
        std::size_t sent = 0;
        for (int i = 0; i < 200'000 && client_app.got.size() < data.size(); ++i) {
            if (sent < data.size()) {
                long n = link.client.send(*c, data.data() + sent,
                                          std::min<std::size_t>(64 * 1024, data.size() - sent));
                if (n > 0) {
                    sent += static_cast<std::size_t>(n);
                }
            }
            link.pump();
            link.advance(ms(5));
        }
        REQUIRE(client_app.got.size() == data.size());
        CHECK(client_app.got == data);
        CHECK(link.client.stats()[tcp::Counter::rtx_data] +
                  link.client.stats()[tcp::Counter::fast_retransmits] >
              0);
        link.client.close(*c);
        for (int i = 0; i < 1000 && state_of(link.client, client_tuple()) != State::time_wait;
             ++i) {
            link.pump();
            link.advance(ms(50));
        }
        CHECK(state_of(link.client, client_tuple()) == State::time_wait);
        link.tamper = nullptr;
        link.pump();
    }
}
