// Telemetry: the engine's state through DPDK's telemetry socket (rte_telemetry), readable with
// DPDK's dpdk-telemetry.py and with tcpterm-ctl. Commands live under /tcpterm/ with help text.
// The telemetry thread never touches a worker's data: counters are read as they stand (aligned
// 64-bit loads, no locks), and connection lists are produced by the worker itself on request
// (control.hpp).
#pragma once

#include "base/clock.hpp"
#include "engine/control.hpp"
#include "tcp/stats.hpp"

#include <cstddef>
#include <cstdint>

namespace tcpterm::engine {

/// A worker's load, as its loop counts it.
struct WorkerLoad {
    unsigned lcore = 0;
    std::uint64_t loops = 0;
    std::uint64_t busy_cycles = 0; // iterations that received packets or fired timers
    std::uint64_t idle_cycles = 0; // empty polls
    std::uint64_t rx_packets = 0;
    std::uint64_t tx_packets = 0;
    std::uint64_t tx_dropped = 0; // tx_burst could not take them (freed, counted)
    std::uint64_t arp_replies = 0;
    std::uint64_t arp_requests = 0;
    std::uint64_t icmp_echo = 0;
    std::uint64_t arp_unresolved_drops = 0;     // packets dropped waiting for ARP
    std::uint64_t l2_drops = 0;                 // not for us / bad Ethernet / not IPv4 or ARP
    std::uint64_t syn_refused_backpressure = 0; // SYNs refused: mbuf pool or table near full
    std::uint64_t loss_states = 0;      // loss states in use (engine.max_loss_states sizes them)
    std::uint64_t loss_states_peak = 0; // the most in use at once since start
    // [impair] fault injection (both directions, all ports)
    std::uint64_t impair_dropped = 0;
    std::uint64_t impair_duplicated = 0;
    std::uint64_t impair_reordered = 0;
    std::uint64_t impair_corrupted = 0;
    std::uint64_t impair_delayed = 0;
};

/// What the engine exposes to telemetry; the Engine implements it, tests fake it.
class TelemetrySource {
public:
    virtual ~TelemetrySource() = default;
    [[nodiscard]] virtual std::size_t worker_count() const = 0;
    [[nodiscard]] virtual WorkerLoad worker_load(std::size_t i) const = 0;
    /// A copy of worker i's TCP statistics (read without locks).
    [[nodiscard]] virtual tcp::TcpStats tcp_stats(std::size_t i) const = 0;
    /// Posts `c` to worker i and waits for it up to `timeout`; false if it did not complete.
    virtual bool run_command(std::size_t i, Command& c, Nanos timeout) = 0;
    [[nodiscard]] virtual std::uint64_t tsc_hz() const = 0;
};

/// Registers the /tcpterm/... commands for `src` (which must outlive the process's telemetry).
/// Returns false if rte_telemetry refused a registration.
bool register_telemetry(TelemetrySource& src);

} // namespace tcpterm::engine
