// LoadBalancer: the load balancer's control plane. It owns the state shared with the workers
// (member admin and health states, Shared), gives the engine the factory that builds each worker's
// LbWorker, and serves telemetry:
//   /tcpterm/vs                    every virtual server with its counters, summed over workers
//   /tcpterm/pool[,NAME]           pools (summary), or one pool's members with state and counters
//   /tcpterm/member,POOL,ADDR:PORT,up|down|drain   changes a member's administrative state
// The control plane never touches a worker's data: counters are read with relaxed atomic loads
// and state changes are published through Shared's generation.
#pragma once

#include "engine/app.hpp"
#include "engine/config.hpp"

#include <memory>
#include <string>
#include <vector>

namespace tcpterm::lb {

class LbWorker;
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
    bool register_telemetry();

    /// Sets a member's administrative state; returns "" or what is wrong (unknown pool/member).
    std::string set_member(const std::string& pool, const std::string& addr_port,
                           engine::MemberAdmin state);

    [[nodiscard]] const std::vector<LbWorker*>& workers() const noexcept { return workers_; }
    [[nodiscard]] const engine::EngineConfig& config() const noexcept { return *cfg_; }
    [[nodiscard]] Shared& shared() noexcept { return *shared_; }

private:
    const engine::EngineConfig* cfg_;
    std::unique_ptr<Shared> shared_;
    std::vector<LbWorker*> workers_; // owned by the engine's workers
};

} // namespace tcpterm::lb
