// Health checks, run by worker 0's LbWorker with the engine's own client side: per member of a
// pool with health_check "tcp" (the handshake completes) or "http" (GET health_path answered with
// a 2xx or 3xx status line), every health_interval, each check bounded by health_timeout. A member
// goes down after health_fall consecutive failures and up after health_rise successes; changes
// are published through Shared (every worker rebuilds its scheduler). A check connection is reset
// once it has its answer (as HAProxy does), so checks leave no TIME_WAIT behind.
#pragma once

#include "base/clock.hpp"
#include "tcp/api.hpp"

#include <cstdint>
#include <memory>
#include <vector>

namespace tcpterm::engine {
class LocalPorts;
}

namespace tcpterm::lb {

class LbWorker;
struct Shared;
enum class CheckResult : std::uint8_t;

class HealthChecker final : public tcp::ConnHandler {
public:
    HealthChecker(LbWorker& w, Shared& shared, engine::LocalPorts& ports);
    ~HealthChecker() override;
    HealthChecker(const HealthChecker&) = delete;
    HealthChecker& operator=(const HealthChecker&) = delete;

    void poll(Nanos now) noexcept;
    /// Stops checking and resets checks in flight (engine stopping).
    void stop() noexcept;

    void on_connected(tcp::Tcb& c) override;
    void on_readable(tcp::Tcb& c) override;
    void on_peer_fin(tcp::Tcb& c) override;
    void on_closed(tcp::Tcb& c, int err) override;

private:
    struct Check {
        std::size_t pool = 0;
        std::size_t member = 0;
        tcp::Tcb* tcb = nullptr;
        Nanos next = 0;     // when the next check starts
        Nanos deadline = 0; // of the check in flight
        std::uint32_t ok_run = 0;
        std::uint32_t fail_run = 0;
    };
    void start(Check& k, Nanos now) noexcept;
    void finish(Check& k, CheckResult r) noexcept;

    LbWorker& w_;
    Shared& shared_;
    engine::LocalPorts& ports_;
    std::vector<Check> checks_;
    Nanos last_scan_ = 0;
    bool stopped_ = false;
};

} // namespace tcpterm::lb
