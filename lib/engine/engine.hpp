// Engine: the process around the workers. It starts DPDK's EAL from the configuration, sets up
// the mbuf pool and the ports (queues, offloads, RSS), creates one Worker per configured lcore,
// registers telemetry, launches the workers and then, on the main lcore, waits for a signal to
// stop: a first SIGTERM/SIGINT stops accepting and drains for drain_timeout, a second stops at
// once. It is the control plane: it may allocate, lock and sleep; the workers never do.
#pragma once

#include "base/tsc_clock.hpp"
#include "engine/config.hpp"
#include "engine/telemetry.hpp"
#include "engine/worker.hpp"

#include <functional>
#include <memory>
#include <string>
#include <vector>

struct rte_mempool;

namespace tcpterm::engine {

class Engine final : public TelemetrySource {
public:
    explicit Engine(EngineConfig cfg);
    ~Engine() override;
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    /// Initialises EAL with `extra_eal_args` appended to the configuration's, sets up ports and
    /// workers. Returns false with a message on stderr on failure.
    bool init(const std::string& argv0, const std::vector<std::string>& extra_eal_args);
    /// Registers an application every worker runs (before init()).
    void add_app(AppFactory f) { app_factories_.push_back(std::move(f)); }
    /// The workers (after init()): apps' control planes reach their instances through them.
    [[nodiscard]] Worker& worker(std::size_t i) { return *workers_[i]; }
    /// Runs `fn` on the main thread about every 20 ms while serving (rates, housekeeping).
    void add_control_tick(std::function<void()> fn) { ticks_.push_back(std::move(fn)); }
    /// Runs `hook` on the main thread on every SIGHUP (configuration reload).
    void add_reload_hook(std::function<void()> hook) { reload_hooks_.push_back(std::move(hook)); }
    /// Asks run() to stop as a first SIGTERM would (graceful drain); any thread may call it.
    static void request_stop() noexcept;
    /// Runs until stopped by signals; returns the process exit code.
    int run();

    // TelemetrySource
    [[nodiscard]] std::size_t worker_count() const override { return workers_.size(); }
    [[nodiscard]] WorkerLoad worker_load(std::size_t i) const override {
        return workers_[i]->load();
    }
    [[nodiscard]] tcp::TcpStats tcp_stats(std::size_t i) const override {
        return workers_[i]->tcp_stats();
    }
    bool run_command(std::size_t i, Command& c, Nanos timeout) override;
    [[nodiscard]] std::uint64_t tsc_hz() const override { return clock_ ? clock_->hz() : 0; }

    /// The EAL argument vector built from the configuration (exposed for tests and --dry-run).
    [[nodiscard]] std::vector<std::string> eal_args(const std::string& argv0,
                                                    const std::vector<std::string>& extra) const;

private:
    bool setup_port(const PortConfig& pc, std::uint16_t& port_id, net::Checksum& csum,
                    std::vector<std::uint16_t>& reta);
    void graceful_stop();
    [[nodiscard]] std::int64_t open_connections() const;

    EngineConfig cfg_;
    std::unique_ptr<TscClock> clock_;
    rte_mempool* mp_ = nullptr;
    std::vector<std::uint16_t> port_ids_;
    std::vector<std::vector<std::uint16_t>> retas_; // per port; empty = RSS off
    alignas(4) std::uint8_t rss_key_[40] = {}; // kSymmetricKey, converted for software Toeplitz
    std::vector<AppFactory> app_factories_;
    std::vector<std::function<void()>> reload_hooks_;
    std::vector<std::function<void()>> ticks_;
    std::vector<std::unique_ptr<Worker>> workers_;
    bool eal_up_ = false;
};

/// Splits "a.b.c.d/len" style config values etc. are in config; this formats an address.
std::string ipv4_str(std::uint32_t host_order);

} // namespace tcpterm::engine
