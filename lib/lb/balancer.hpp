// LoadBalancer: the load balancer's control plane. It owns the state shared with the workers
// (member admin and health states, Shared), gives the engine the factory that builds each worker's
// LbWorker, and serves telemetry:
//   /tcpterm/vs                    every virtual server with its counters, summed over workers
//   /tcpterm/pool[,NAME]           pools (summary), or one pool's members with state and counters
//   /tcpterm/member,POOL,ADDR:PORT,up|down|drain   changes a member's administrative state
// and reloads pools and members on SIGHUP (reload()): the new file is validated in full first and
// an invalid one is rejected with its file:line:column errors while the running configuration
// stays. The control plane never touches a worker's data: virtual-server counters are read with
// relaxed atomic loads, member counters through a snapshot command run on each worker, state
// changes are published through Shared's generation, and a reload runs on each worker as a
// control command. Its own state (the configuration in force) is guarded by a mutex: telemetry,
// reload and set_member run on different control threads.
#pragma once

#include "engine/app.hpp"
#include "engine/config.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

struct rte_tel_data;

namespace tcpterm::engine {
class Engine;
}

namespace tcpterm::lb {

class LbWorker;
struct MemberShared;
struct MemberSnapshot;
struct Shared;

class LoadBalancer {
public:
    explicit LoadBalancer(const engine::EngineConfig& cfg);
    ~LoadBalancer();
    LoadBalancer(const LoadBalancer&) = delete;
    LoadBalancer& operator=(const LoadBalancer&) = delete;

    /// For Engine::add_app(): builds the LbWorker of each worker.
    engine::AppFactory factory();
    /// Registers the telemetry commands (after the engine's init: EAL must be up).
    bool register_telemetry(engine::Engine& engine);
    /// Control tick (main thread, ~20 ms): once a second, the connection rates (accepted per
    /// virtual server, opened per member) shown by telemetry as `cps`.
    void tick();
    /// Reloads pools and members from `path`. Virtual servers, profiles and the other sections
    /// are not reloaded (a change there is reported and needs a restart); the pool names must
    /// stay the same. Prints what happened; false when the file was rejected.
    bool reload(const std::string& path);

    /// Sets a member's administrative state; returns "" or what is wrong (unknown pool/member).
    std::string set_member(const std::string& pool, const std::string& addr_port,
                           engine::MemberAdmin state);

    [[nodiscard]] const std::vector<LbWorker*>& workers() const noexcept { return workers_; }

    // Telemetry (any control thread).
    void fill_vs(rte_tel_data* d);
    int fill_pool(const std::string& name, rte_tel_data* d);

private:
    std::mutex mu_;
    engine::Engine* engine_ = nullptr;
    const engine::EngineConfig* cfg_;                           // pools in force
    std::vector<std::unique_ptr<engine::EngineConfig>> loaded_; // reloaded files, kept alive
    std::vector<std::unique_ptr<MemberShared[]>> states_;       // [pool] of cfg_
    std::vector<std::unique_ptr<MemberShared[]>> retired_;      // replaced, kept alive
    std::unique_ptr<Shared> shared_;
    std::vector<LbWorker*> workers_; // owned by the engine's workers
    // Rates (under mu_): last second's count and the totals it was taken from.
    std::chrono::steady_clock::time_point rate_at_{};
    std::vector<std::uint64_t> vs_accepted_, vs_cps_;
    std::vector<std::vector<std::pair<std::uint64_t, std::uint64_t>>>
        member_total_; // addr:port key, total
    std::vector<std::vector<std::pair<std::uint64_t, std::uint64_t>>> member_cps_;
    std::vector<std::vector<MemberSnapshot>> snapshot_pool(std::size_t p);
};

} // namespace tcpterm::lb
