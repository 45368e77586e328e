// The load balancer under a fake clock, shared by the proxy scenarios (tests/lb/test_proxy.cpp)
// and the reliability run through the balancer (tests/reliability/test_lb_nothing_lost.cpp):
// TcpStacks for the clients, the balancer and one or more backends, joined by an in-memory router
// on one thread, and the LbWorker driven exactly as an engine worker drives it (input, advance,
// poll) through a fake WorkerHost. Only `tick`/`advance` move the clock.
//
// The router delivers by destination address, in rounds (everything on the wire is one batch),
// and polls the balancer after every round. Each of the two hops (client <-> balancer, balancer
// <-> backends) has its own tamper hook, with the fates of tests/common/link.hpp: a packet may be
// dropped, delivered twice, or held back behind the next round (reordered).
#pragma once

#include "../common/link.hpp"
#include "engine/app.hpp"
#include "engine/config.hpp"
#include "lb/proxy.hpp"
#include "tcp/stack.hpp"

#include <rte_byteorder.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <utility>
#include <vector>

namespace tcpterm::lbtest {

constexpr std::uint32_t ip(unsigned a, unsigned b, unsigned c, unsigned d) {
    return (a << 24) | (b << 16) | (c << 8) | d;
}
inline constexpr std::uint32_t kClient = ip(198, 18, 0, 10);
inline constexpr std::uint32_t kVip = ip(198, 18, 0, 2);
inline constexpr std::uint32_t kLbInside = ip(198, 18, 1, 1);
inline constexpr std::uint32_t kM1 = ip(198, 18, 1, 2);
inline constexpr std::uint32_t kM2 = ip(198, 18, 1, 3);
inline constexpr std::uint32_t kM3 = ip(198, 18, 1, 4);
inline constexpr std::uint16_t kMemberPort = 8080;

/// A configuration with one pool "web" of `members` (port 8080) behind virtual server "vs" on
/// kVip:80.
inline engine::EngineConfig lb_config(const std::vector<std::uint32_t>& members) {
    engine::EngineConfig c;
    c.max_connections = 512;
    c.tcp.time_wait = sec(2);
    engine::PoolConfig p;
    p.name = "web";
    for (std::uint32_t a : members) {
        engine::MemberConfig m;
        m.address = a;
        m.port = kMemberPort;
        p.members.push_back(m);
    }
    c.pools.push_back(p);
    engine::VirtualServerConfig v;
    v.name = "vs";
    v.address = kVip;
    v.port = 80;
    v.pool = "web";
    v.connect_timeout = sec(1);
    c.virtual_servers.push_back(v);
    return c;
}

class Router {
public:
    using Fate = test::Link::Fate;
    enum class Role : std::uint8_t { client, lb, backend }; // in order from the client

    /// The fake host of the balancer's worker: worker 0 of 1, addresses in 198.18.1.0/24 are
    /// reached from kLbInside, everything else from kVip.
    struct Host final : engine::WorkerHost {
        Router* r = nullptr;
        unsigned index() const noexcept override { return 0; }
        unsigned worker_count() const noexcept override { return 1; }
        tcp::TcpStack& stack() noexcept override { return *r->lb; }
        const engine::EngineConfig& config() const noexcept override { return r->cfg; }
        Nanos now() const noexcept override { return r->now; }
        std::uint32_t source_for(std::uint32_t dst) const noexcept override {
            return (dst >> 8) == (kLbInside >> 8) ? kLbInside : kVip;
        }
        bool steers_here(const FourTuple& t) const noexcept override {
            return !r->odd_ports_only || (rte_be_to_cpu_16(t.lport) & 1) != 0;
        }
    };

    /// One client stack, the balancer's stack, `backends` backend stacks, all with `k`.
    Router(rte_mempool* mp, engine::EngineConfig c, const tcp::StackConfig& k,
           std::size_t backends = 1)
        : cfg(std::move(c)) {
        client = add(Role::client, k, mp);
        lb = add(Role::lb, k, mp);
        for (std::size_t i = 0; i < backends; ++i) {
            backend_stacks.push_back(add(Role::backend, k, mp));
        }
        host_.r = this;
        wire_.reserve(4096);
    }
    ~Router() {
        worker.reset(); // apps go before the stacks, as in the engine
        for (const Packet& p : wire_) {
            rte_pktmbuf_free(p.m);
        }
        for (const Packet& p : held_) {
            rte_pktmbuf_free(p.m);
        }
    }
    Router(const Router&) = delete;
    Router& operator=(const Router&) = delete;

    /// Packets to addresses matching addr/mask go to `st` (first match wins).
    void route(std::uint32_t addr, std::uint32_t mask, tcp::TcpStack* st) {
        for (const Node& n : stacks_) {
            if (n.st.get() == st) {
                routes_.push_back({addr & mask, mask, st, n.role});
            }
        }
    }
    /// kClient to the client stack, kVip and kLbInside to the balancer, everything else to the
    /// first backend stack.
    void default_routes() {
        route(kClient, ~0u, client);
        route(kVip, ~0u, lb);
        route(kLbInside, ~0u, lb);
        route(0, 0, backend_stacks.at(0));
    }

    /// Member state arrays from cfg, then the worker (and its first poll).
    void make_shared() { states = lb::make_member_states(cfg); }
    void start() {
        worker = std::make_unique<lb::LbWorker>(host_, shared, state_ptrs());
        worker->poll(now);
    }
    std::vector<lb::MemberShared*> state_ptrs() {
        std::vector<lb::MemberShared*> v;
        for (auto& a : states) {
            v.push_back(a.get());
        }
        return v;
    }

    /// Delivers packets until the wire is quiet, polling the balancer and calling after_round
    /// after each round. Returns the number of rounds.
    std::size_t pump(std::size_t max_rounds = 100'000) {
        std::size_t round = 0;
        for (; round < max_rounds && (!wire_.empty() || !held_.empty()); ++round) {
            batch_.clear();
            batch_.swap(wire_);
            std::vector<Packet> release;
            release.swap(held_);
            for (const Packet& p : batch_) {
                deliver(p);
            }
            for (const Packet& p : release) { // held back one round: now behind newer packets
                p.to->input(p.m, now);
            }
            if (worker) {
                worker->poll(now);
            }
            if (after_round) {
                after_round();
            }
        }
        return round;
    }
    /// One clock step: every stack's timers, the balancer's poll, then the wire.
    void tick(Nanos step) {
        now += step;
        for (auto& s : stacks_) {
            s.st->advance(now);
        }
        if (worker) {
            worker->poll(now);
        }
        pump();
    }
    /// Advances the clock by `d` in steps of `step`.
    void advance(Nanos d, Nanos step = ms(10)) {
        for (Nanos t = 0; t < d; t += step) {
            tick(step);
        }
    }

    [[nodiscard]] std::uint64_t vs(lb::VsCounter k, std::size_t v = 0) const {
        return worker->virtual_servers()[v]->counters.get(k);
    }
    [[nodiscard]] std::uint64_t member(std::size_t m, lb::MemberCounter k,
                                       std::size_t pool = 0) const {
        return worker->pools()[pool]->counters[m].get(k);
    }

    engine::EngineConfig cfg; // the worker reads it live (tests may change it)
    Nanos now = sec(1);
    bool odd_ports_only = false;
    std::set<std::uint32_t> blackhole; // destination addresses whose packets vanish
    /// Per hop (0: client <-> balancer, 1: balancer <-> backends); `to_server`: away from the
    /// client.
    std::function<Fate(rte_mbuf*, bool to_server)> tamper[2];
    std::function<void()> after_round; // the applications' retries
    tcp::TcpStack* client = nullptr;
    tcp::TcpStack* lb = nullptr;
    std::vector<tcp::TcpStack*> backend_stacks;
    lb::Shared shared;
    std::vector<std::unique_ptr<lb::MemberShared[]>> states; // [pool][member]
    std::unique_ptr<lb::LbWorker> worker;

private:
    struct Packet {
        rte_mbuf* m;
        tcp::TcpStack* to;
        Role from, to_role;
    };
    struct Sink final : tcp::SegmentSink {
        Router* r = nullptr;
        Role role = Role::client;
        void emit(rte_mbuf* m) override { r->send(m, role); }
    };
    struct Node {
        std::unique_ptr<Sink> sink;
        std::unique_ptr<tcp::TcpStack> st;
        Role role;
    };
    struct Route {
        std::uint32_t addr, mask;
        tcp::TcpStack* st;
        Role role;
    };

    tcp::TcpStack* add(Role role, const tcp::StackConfig& k, rte_mempool* mp) {
        Node n;
        n.sink = std::make_unique<Sink>();
        n.sink->r = this;
        n.sink->role = role;
        n.st = std::make_unique<tcp::TcpStack>(k, mp, *n.sink, now);
        n.role = role;
        stacks_.push_back(std::move(n));
        return stacks_.back().st.get();
    }
    void send(rte_mbuf* m, Role from) {
        const auto* h = rte_pktmbuf_mtod(m, const rte_ipv4_hdr*);
        const std::uint32_t dst = rte_be_to_cpu_32(h->dst_addr);
        if (blackhole.count(dst) == 0) {
            for (const Route& r : routes_) {
                if ((dst & r.mask) == r.addr) {
                    wire_.push_back({m, r.st, from, r.role});
                    return;
                }
            }
        }
        rte_pktmbuf_free(m);
    }
    void deliver(const Packet& p) {
        const int hop = p.from == Role::client || p.to_role == Role::client ? 0 : 1;
        const Fate f = tamper[hop] ? tamper[hop](p.m, p.to_role > p.from) : Fate::deliver;
        switch (f) {
        case Fate::drop:
            rte_pktmbuf_free(p.m);
            return;
        case Fate::delay:
            held_.push_back(p);
            return;
        case Fate::duplicate:
            if (rte_mbuf* copy = rte_pktmbuf_copy(p.m, p.m->pool, 0, UINT32_MAX)) {
                p.to->input(copy, now);
            }
            break;
        case Fate::deliver:
            break;
        }
        p.to->input(p.m, now);
    }

    std::vector<Node> stacks_;
    std::vector<Route> routes_;
    std::vector<Packet> wire_;
    std::vector<Packet> batch_;
    std::vector<Packet> held_;
    Host host_;
};

} // namespace tcpterm::lbtest
