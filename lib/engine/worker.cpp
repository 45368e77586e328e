#include "engine/worker.hpp"

#include "base/hash.hpp"
#include "net/arp.hpp"
#include "net/ether.hpp"
#include "net/icmp.hpp"

#include <fmt/core.h>
#include <rte_arp.h>
#include <rte_byteorder.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <sodium.h>

#include <algorithm>
#include <stdexcept>
#include <utility>

namespace tcpterm::engine {

namespace {

tcp::StackConfig stack_config(const EngineConfig& cfg, net::Checksum csum, unsigned index) {
    tcp::StackConfig s;
    s.tcp = cfg.tcp;
    s.max_connections = cfg.max_connections;
    s.max_time_wait = cfg.max_time_wait;
    s.max_loss_states = cfg.max_loss_states;
    s.timer_tick = cfg.timer_tick;
    s.max_expiries_per_advance = cfg.max_expiries;
    s.checksum = csum;
    // A per-boot secret for ISNs, timestamp offsets and SYN cookies (libsodium's CSPRNG). Workers
    // share it: a flow's ISN must not depend on which core it lands on.
    (void)index;
    static const std::array<std::uint8_t, 16> boot_secret = [] {
        std::array<std::uint8_t, 16> k{};
        if (sodium_init() < 0) {
            throw std::runtime_error("libsodium initialisation failed");
        }
        randombytes_buf(k.data(), k.size());
        return k;
    }();
    s.secret = boot_secret;
    return s;
}

bool in_prefix(std::uint32_t ip, const Ipv4Prefix& p) {
    const std::uint32_t mask = p.len == 0 ? 0 : ~std::uint32_t{0} << (32 - p.len);
    return (ip & mask) == (p.addr & mask);
}

} // namespace

Worker::Worker(unsigned index, unsigned lcore, unsigned workers, const EngineConfig& cfg,
               std::vector<PortRuntime> ports, rte_mempool* mp, net::Checksum csum,
               const TscClock& clock)
    : index_(index), lcore_(lcore), workers_(workers), cfg_(cfg), ports_(std::move(ports)), mp_(mp),
      clock_(clock), stack_(stack_config(cfg, csum, index), mp, *this, clock.now()),
      arp_(1024, cfg.arp_timeout) {
    const std::string name = fmt::format("tcpterm_ctl_{}", index);
    ring_ = rte_ring_create(name.c_str(), 64, SOCKET_ID_ANY, RING_F_SC_DEQ);
    if (ring_ == nullptr) {
        throw std::runtime_error("worker: control ring creation failed");
    }
    load_.lcore = lcore;
    for (PortRuntime& p : ports_) {
        p.txb = static_cast<rte_eth_dev_tx_buffer*>(
            rte_zmalloc_socket("tx_buffer", RTE_ETH_TX_BUFFER_SIZE(32), 0, SOCKET_ID_ANY));
        if (p.txb == nullptr || rte_eth_tx_buffer_init(p.txb, 32) != 0) {
            throw std::runtime_error("worker: tx buffer allocation failed");
        }
        rte_eth_tx_buffer_set_err_callback(p.txb, rte_eth_tx_buffer_count_callback,
                                           &load_.tx_dropped);
        const std::uint64_t seed = cfg.impair_seed + index * 2 + p.port_id * 1000;
        if (Impairment::active(cfg.impair_rx)) {
            p.impair_rx = std::make_unique<Impairment>(cfg.impair_rx, seed, true);
        }
        if (Impairment::active(cfg.impair_tx)) {
            p.impair_tx = std::make_unique<Impairment>(cfg.impair_tx, seed + 1, false);
        }
    }
    open_listeners();
}

Worker::~Worker() {
    for (PortRuntime& p : ports_) {
        rte_free(p.txb);
    }
    rte_ring_free(ring_);
}

void Worker::open_listeners() noexcept {
    for (const ListenerConfig& l : cfg_.listeners) {
        auto app = std::make_unique<ServiceApp>(l, stack_);
        int err = 0;
        tcp::Listener* lst = stack_.listen(rte_cpu_to_be_32(l.address), rte_cpu_to_be_16(l.port),
                                           app.get(), l.backlog, &err);
        if (lst == nullptr) {
            fmt::print(stderr, "worker {}: listen on port {} failed: errno {}\n", index_, l.port,
                       err);
            continue;
        }
        listeners_.push_back(lst);
        services_.push_back(std::move(app));
    }
}

void Worker::add_app(const AppFactory& f) {
    now_ = clock_.now();
    if (std::unique_ptr<WorkerApp> app = f(*this)) {
        apps_.push_back(std::move(app));
    }
}

const PortRuntime* Worker::route(std::uint32_t dst) const noexcept {
    for (const PortRuntime& p : ports_) {
        for (const Ipv4Prefix& a : p.addresses) {
            if (in_prefix(dst, a)) {
                return &p;
            }
        }
    }
    for (const PortRuntime& p : ports_) {
        if (p.gateway) {
            return &p;
        }
    }
    return nullptr;
}

std::uint32_t Worker::source_for(std::uint32_t dst) const noexcept {
    const PortRuntime* p = route(dst);
    if (p == nullptr || p->addresses.empty()) {
        return 0;
    }
    for (const Ipv4Prefix& a : p->addresses) {
        if (in_prefix(dst, a)) {
            return a.addr; // the address of the subnet the destination is on
        }
    }
    return p->addresses.front().addr;
}

bool Worker::steers_here(const FourTuple& t) const noexcept {
    const PortRuntime* p = route(rte_be_to_cpu_32(t.raddr));
    if (p == nullptr || p->reta.empty() || p->rss_key == nullptr) {
        return true; // no RSS: this worker is the only one
    }
    const std::uint32_t h = hash_toeplitz_rx(t, p->rss_key);
    return p->reta[h % p->reta.size()] == p->queue;
}

bool Worker::post(Command& c) noexcept {
    return rte_ring_mp_enqueue(ring_, &c) == 0;
}

bool Worker::owns(std::uint32_t ip) const noexcept {
    for (const PortRuntime& p : ports_) {
        for (const Ipv4Prefix& a : p.addresses) {
            if (a.addr == ip) {
                return true;
            }
        }
    }
    return false;
}

PortRuntime* Worker::route(std::uint32_t dst, std::uint32_t& next_hop) noexcept {
    auto* p = const_cast<PortRuntime*>(std::as_const(*this).route(dst));
    if (p != nullptr) {
        // On a subnet of the port: the destination itself; else the gateway route() chose.
        next_hop = std::any_of(p->addresses.begin(), p->addresses.end(),
                               [&](const Ipv4Prefix& a) { return in_prefix(dst, a); })
                       ? dst
                       : *p->gateway;
    }
    return p;
}

void Worker::send_l2(PortRuntime& p, rte_mbuf* m, const rte_ether_addr& dst,
                     std::uint16_t ether_type) noexcept {
    if (!net::prepend_ether(m, p.mac, dst, ether_type)) {
        rte_pktmbuf_free(m);
        ++load_.tx_dropped;
        return;
    }
    tx(p, m);
}

// Every transmission goes through here: the TX impairment (if configured), then the TX batch.
void Worker::tx(PortRuntime& p, rte_mbuf* m) noexcept {
    if (p.impair_tx) {
        rte_mbuf* out[2];
        const std::uint16_t n = p.impair_tx->apply(&m, 1, now_, out);
        for (std::uint16_t i = 0; i < n; ++i) {
            ++load_.tx_packets;
            rte_eth_tx_buffer(p.port_id, p.queue, p.txb, out[i]);
        }
        return;
    }
    ++load_.tx_packets;
    rte_eth_tx_buffer(p.port_id, p.queue, p.txb, m);
}

void Worker::impair_release(PortRuntime& p) noexcept {
    rte_mbuf* due[64];
    if (p.impair_tx) {
        const std::uint16_t n = p.impair_tx->release(now_, due, 64);
        for (std::uint16_t i = 0; i < n; ++i) {
            ++load_.tx_packets;
            rte_eth_tx_buffer(p.port_id, p.queue, p.txb, due[i]);
        }
    }
    if (p.impair_rx) {
        const std::uint16_t n = p.impair_rx->release(now_, due, 64);
        for (std::uint16_t i = 0; i < n; ++i) {
            rx(p, due[i]);
        }
        flush_tcp();
    }
}

void Worker::flush_tcp() noexcept {
    if (tcp_n_ > 0) {
        stack_.input_burst(tcp_burst_.data(), tcp_n_, now_);
        tcp_n_ = 0;
    }
}

void Worker::impair_stats() noexcept {
    ImpairStats sum;
    for (const PortRuntime& p : ports_) {
        for (const Impairment* im : {p.impair_rx.get(), p.impair_tx.get()}) {
            if (im != nullptr) {
                sum.dropped += im->stats().dropped;
                sum.duplicated += im->stats().duplicated;
                sum.reordered += im->stats().reordered;
                sum.corrupted += im->stats().corrupted;
                sum.delayed += im->stats().delayed;
            }
        }
    }
    load_.impair_dropped = sum.dropped;
    load_.impair_duplicated = sum.duplicated;
    load_.impair_reordered = sum.reordered;
    load_.impair_corrupted = sum.corrupted;
    load_.impair_delayed = sum.delayed;
}

// The TCP stack's output: route, resolve the next hop, frame, buffer for tx_burst.
void Worker::emit(rte_mbuf* m) noexcept {
    const auto* ip = rte_pktmbuf_mtod(m, const rte_ipv4_hdr*);
    const std::uint32_t dst = rte_be_to_cpu_32(ip->dst_addr);
    std::uint32_t hop = 0;
    PortRuntime* p = route(dst, hop);
    if (p == nullptr) {
        rte_pktmbuf_free(m);
        ++load_.arp_unresolved_drops;
        return;
    }
    if (const rte_ether_addr* mac = arp_.lookup(hop, now_)) {
        send_l2(*p, m, *mac, RTE_ETHER_TYPE_IPV4);
        return;
    }
    bool request = false;
    if (!arp_.hold(hop, m, now_, request)) {
        rte_pktmbuf_free(m);
        ++load_.arp_unresolved_drops;
    }
    if (request) {
        if (rte_mbuf* req = net::build_arp_request(
                mp_, p->mac, rte_cpu_to_be_32(p->addresses.front().addr), rte_cpu_to_be_32(hop))) {
            ++load_.arp_requests;
            tx(*p, req);
        }
    }
}

void Worker::arp_input(PortRuntime& p, rte_mbuf* m) noexcept {
    net::ArpInfo a;
    if (net::parse_arp(m, a) != net::NetDrop::none) {
        ++load_.l2_drops;
        rte_pktmbuf_free(m);
        return;
    }
    const std::uint32_t sip =
        rte_be_to_cpu_32(a.sip); // lib/net keeps ARP addresses in network order
    const bool for_us = owns(rte_be_to_cpu_32(a.tip));
    // Learn the sender if it talks to us (RFC 826's merge rule, limited to our own traffic).
    if (for_us || arp_.lookup(sip, now_) != nullptr) {
        std::size_t n = 0;
        rte_mbuf** waiting = arp_.learn(sip, a.sha, now_, n);
        for (std::size_t i = 0; i < n; ++i) {
            send_l2(p, waiting[i], a.sha, RTE_ETHER_TYPE_IPV4);
        }
    }
    if (for_us && a.op == RTE_ARP_OP_REQUEST && net::arp_make_reply(m, p.mac)) {
        ++load_.arp_replies;
        tx(p, m);
        return;
    }
    rte_pktmbuf_free(m);
}

void Worker::rx(PortRuntime& p, rte_mbuf* m) noexcept {
    net::EtherInfo eth;
    if (net::parse_ether(m, eth) != net::NetDrop::none) {
        ++load_.l2_drops;
        rte_pktmbuf_free(m);
        return;
    }
    if (eth.ether_type == RTE_ETHER_TYPE_ARP) {
        arp_input(p, m);
        return;
    }
    if (rte_pktmbuf_data_len(m) < sizeof(rte_ipv4_hdr)) {
        ++load_.l2_drops;
        rte_pktmbuf_free(m);
        return;
    }
    const auto* ip = rte_pktmbuf_mtod(m, const rte_ipv4_hdr*);
    if (!owns(rte_be_to_cpu_32(ip->dst_addr))) {
        ++load_.l2_drops; // not addressed to us (promiscuous port, broadcast)
        rte_pktmbuf_free(m);
        return;
    }
    if (ip->next_proto_id == IPPROTO_TCP) {
        // Collected and handed to the stack as one burst (flush_tcp): its lookups overlap.
        tcp_burst_[tcp_n_++] = m;
        if (tcp_n_ == tcp_burst_.size()) {
            flush_tcp();
        }
        return;
    }
    if (ip->next_proto_id == IPPROTO_ICMP) {
        net::Ipv4Info info;
        if (net::parse_ipv4(m, info) == net::NetDrop::none &&
            net::icmp_echo_reply(m, info, cfg_.tcp.ttl) == net::NetDrop::none) {
            ++load_.icmp_echo;
            send_l2(p, m, eth.src, RTE_ETHER_TYPE_IPV4);
            return;
        }
    }
    ++load_.l2_drops;
    rte_pktmbuf_free(m);
}

void Worker::gratuitous_arp() noexcept {
    for (PortRuntime& p : ports_) {
        for (const Ipv4Prefix& a : p.addresses) {
            if (rte_mbuf* g = net::build_gratuitous_arp(mp_, p.mac, rte_cpu_to_be_32(a.addr))) {
                ++load_.tx_packets;
                rte_eth_tx_buffer(p.port_id, p.queue, p.txb, g);
            }
        }
        rte_eth_tx_buffer_flush(p.port_id, p.queue, p.txb);
    }
}

void Worker::control() noexcept {
    void* obj = nullptr;
    while (rte_ring_sc_dequeue(ring_, &obj) == 0) {
        auto* c = static_cast<Command*>(obj);
        switch (c->kind) {
        case Command::Kind::list_conns:
            c->total = 0;
            stack_.for_each_connection([&](const ConnEntry& e, tcp::State s) {
                if (!c->any_state && s != c->state) {
                    return;
                }
                ++c->total;
                if (c->conns.size() < c->conns.capacity()) {
                    ConnInfo ci{};
                    ci.laddr = rte_be_to_cpu_32(e.key.laddr);
                    ci.raddr = rte_be_to_cpu_32(e.key.raddr);
                    ci.lport = rte_be_to_cpu_16(e.key.lport);
                    ci.rport = rte_be_to_cpu_16(e.key.rport);
                    ci.state = s;
                    if (!e.tagged()) {
                        const auto& t = static_cast<const tcp::Tcb&>(e);
                        ci.send_queue = t.snd_q.bytes();
                        ci.recv_queue = t.rcv_q.bytes();
                    }
                    ci.worker = static_cast<std::uint16_t>(index_);
                    c->conns.push_back(ci); // within reserved capacity: no allocation
                }
            });
            break;
        case Command::Kind::stop_accept: {
            const std::uint64_t before = stack_.stats()[tcp::Counter::listener_resets];
            for (tcp::Listener* l : listeners_) {
                stack_.close_listener(*l);
            }
            listeners_.clear();
            for (auto& app : apps_) {
                app->stop_accept(); // its listeners' resets count in listener_resets too
            }
            c->count = stack_.stats()[tcp::Counter::listener_resets] - before;
            break;
        }
        case Command::Kind::reset_all:
            c->count = stack_.reset_all();
            break;
        case Command::Kind::call:
            if (c->fn) {
                c->fn();
            }
            break;
        }
        c->done.store(true, std::memory_order_release);
    }
}

// Every ~1k loops: control messages, backpressure, ARP queue expiry.
void Worker::housekeeping() noexcept {
    control();
    const unsigned avail = rte_mempool_avail_count(mp_);
    const unsigned size = mp_->size;
    const bool mbufs_low = avail < size / 10;
    const bool table_high =
        stack_.tcb_count() * 100 >= static_cast<std::size_t>(cfg_.max_connections) * 95;
    stack_.set_accepting(!(mbufs_low || table_high));
    load_.syn_refused_backpressure = stack_.stats()[tcp::Counter::syn_backpressure];
    load_.loss_states = stack_.loss_state_count();
    load_.loss_states_peak = stack_.loss_state_peak();
    load_.arp_unresolved_drops += arp_.expire(now_);
    impair_stats();
}

int Worker::run() noexcept {
    now_ = clock_.now();
    gratuitous_arp();
    rte_mbuf* pkts[512];
    rte_mbuf* impaired[1024]; // RX impairment output: up to two per packet (duplicates)
    const std::uint16_t burst = std::min<std::uint16_t>(cfg_.rx_burst, 512);
    while (!stop_.load(std::memory_order_acquire)) {
        const std::uint64_t t0 = TscClock::cycles();
        now_ = clock_.now();
        bool busy = false;
        for (PortRuntime& p : ports_) {
            const std::uint16_t n = rte_eth_rx_burst(p.port_id, p.queue, pkts, burst);
            if (n == 0) {
                continue;
            }
            busy = true;
            load_.rx_packets += n;
            rte_mbuf** batch = pkts;
            std::uint16_t k = n;
            if (p.impair_rx) {
                k = p.impair_rx->apply(pkts, n, now_, impaired);
                batch = impaired;
            }
            for (std::uint16_t i = 0; i < k; ++i) {
                if (i + 1 < k) {
                    rte_prefetch0(rte_pktmbuf_mtod(batch[i + 1], void*));
                }
                rx(p, batch[i]);
            }
            flush_tcp();
        }
        for (PortRuntime& p : ports_) {
            if (p.impair_rx || p.impair_tx) {
                impair_release(p); // packets the impairment held back whose time has come
            }
        }
        if (stack_.advance(now_) > 0) {
            busy = true;
        }
        for (auto& app : apps_) {
            app->poll(now_);
        }
        for (PortRuntime& p : ports_) {
            rte_eth_tx_buffer_flush(p.port_id, p.queue, p.txb);
        }
        if ((++load_.loops & 1023) == 0) {
            housekeeping();
        }
        const std::uint64_t dt = TscClock::cycles() - t0;
        (busy ? load_.busy_cycles : load_.idle_cycles) += dt;
    }
    for (PortRuntime& p : ports_) {
        rte_eth_tx_buffer_flush(p.port_id, p.queue, p.txb);
    }
    control(); // answer anything posted while stopping
    // Published after that last control(): a command's `done` stored there happens before this,
    // so a poster that sees exited() and not done knows its command will never be answered.
    exited_.store(true, std::memory_order_release);
    return 0;
}

} // namespace tcpterm::engine
