// Worker: one poll-mode lcore. It owns RX/TX queue `index` of every port, its TcpStack (table,
// wheel, pools, counters), its ARP cache and its services, and runs
//   rx_burst -> Ethernet -> ARP / ICMP inline, TCP to the stack -> timers -> tx flush
// with no locks, no allocation and no system calls. Other threads reach it only through its
// control ring (control.hpp) and by reading its counters.
#pragma once

#include "base/tsc_clock.hpp"
#include "engine/app.hpp"
#include "engine/arp_cache.hpp"
#include "engine/config.hpp"
#include "engine/control.hpp"
#include "engine/impair.hpp"
#include "engine/services.hpp"
#include "engine/telemetry.hpp"
#include "net/packet.hpp"
#include "tcp/stack.hpp"

#include <rte_ether.h>

#include <array>
#include <atomic>
#include <memory>
#include <optional>
#include <vector>

struct rte_eth_dev_tx_buffer;
struct rte_mbuf;
struct rte_mempool;
struct rte_ring;

namespace tcpterm::engine {

/// A port as one worker sees it.
struct PortRuntime {
    std::uint16_t port_id = 0;
    std::uint16_t queue = 0;
    rte_ether_addr mac{};
    std::vector<Ipv4Prefix> addresses;
    std::optional<std::uint32_t> gateway; // host order
    rte_eth_dev_tx_buffer* txb = nullptr;
    std::unique_ptr<Impairment> impair_rx; // null unless [impair] is active
    std::unique_ptr<Impairment> impair_tx;
    // RSS as configured on the port (empty reta = RSS off): queue = reta[hash % reta.size()].
    std::vector<std::uint16_t> reta;
    const std::uint8_t* rss_key = nullptr; // converted with rte_convert_rss_key
};

class Worker final : tcp::SegmentSink, public WorkerHost {
public:
    Worker(unsigned index, unsigned lcore, unsigned workers, const EngineConfig& cfg,
           std::vector<PortRuntime> ports, rte_mempool* mp, net::Checksum csum,
           const TscClock& clock);
    ~Worker() override;
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    /// The poll loop; returns after request_stop().
    int run() noexcept;
    void request_stop() noexcept { stop_.store(true, std::memory_order_release); }

    /// Posts a control command (from another thread); false if the ring is full.
    bool post(Command& c) noexcept;
    /// The loop has returned and answered its last commands: nothing posted now is answered.
    [[nodiscard]] bool exited() const noexcept { return exited_.load(std::memory_order_acquire); }

    /// Creates this worker's instance of an application (main thread, before run()).
    void add_app(const AppFactory& f);

    // WorkerHost
    [[nodiscard]] unsigned index() const noexcept override { return index_; }
    [[nodiscard]] unsigned worker_count() const noexcept override { return workers_; }
    [[nodiscard]] tcp::TcpStack& stack() noexcept override { return stack_; }
    [[nodiscard]] const EngineConfig& config() const noexcept override { return cfg_; }
    [[nodiscard]] Nanos now() const noexcept override { return now_; }
    [[nodiscard]] std::uint32_t source_for(std::uint32_t dst) const noexcept override;
    [[nodiscard]] bool steers_here(const FourTuple& t) const noexcept override;

    [[nodiscard]] unsigned lcore() const noexcept { return lcore_; }
    [[nodiscard]] const WorkerLoad& load() const noexcept { return load_; }
    [[nodiscard]] const tcp::TcpStats& tcp_stats() const noexcept { return stack_.stats(); }

private:
    void emit(rte_mbuf* m) noexcept override;
    void rx(PortRuntime& p, rte_mbuf* m) noexcept;
    void flush_tcp() noexcept;
    void arp_input(PortRuntime& p, rte_mbuf* m) noexcept;
    void send_l2(PortRuntime& p, rte_mbuf* m, const rte_ether_addr& dst,
                 std::uint16_t ether_type) noexcept;
    void tx(PortRuntime& p, rte_mbuf* m) noexcept;
    void impair_release(PortRuntime& p) noexcept;
    void impair_stats() noexcept;
    [[nodiscard]] bool owns(std::uint32_t ip) const noexcept;
    PortRuntime* route(std::uint32_t dst, std::uint32_t& next_hop) noexcept;
    const PortRuntime* route(std::uint32_t dst) const noexcept;
    void control() noexcept;
    void housekeeping() noexcept;
    void open_listeners() noexcept;
    void gratuitous_arp() noexcept;

    unsigned index_;
    unsigned lcore_;
    unsigned workers_;
    const EngineConfig& cfg_;
    std::vector<PortRuntime> ports_;
    rte_mempool* mp_;
    const TscClock& clock_;
    tcp::TcpStack stack_;
    ArpCache arp_;
    std::vector<std::unique_ptr<ServiceApp>> services_;
    std::vector<tcp::Listener*> listeners_;
    std::vector<std::unique_ptr<WorkerApp>> apps_;
    rte_ring* ring_ = nullptr;
    WorkerLoad load_;
    std::atomic<bool> stop_{false};
    std::array<rte_mbuf*, 64> tcp_burst_{}; // TCP packets of the current RX burst (rx())
    std::uint16_t tcp_n_ = 0;
    std::atomic<bool> exited_{false}; // set after the last control(): see Engine::run_command
    Nanos now_ = 0;
};

} // namespace tcpterm::engine
