// Applications on a worker. The engine runs the built-in services itself; layers above it (the
// load balancer in lib/lb, the generator in app/tcpterm-gen) plug in through an AppFactory given
// to Engine::add_app() before init(). Each worker calls the factory once, on the main thread while
// it is being built (allocation allowed there), and then drives the app from its own lcore:
// poll() every loop iteration, stop_accept() at a graceful stop. The app sees its worker through
// WorkerHost only: the TCP stack, the clock, routing (which local address reaches a destination)
// and RSS steering (would the reply to a locally opened connection reach this worker).
#pragma once

#include "base/clock.hpp"
#include "base/four_tuple.hpp"

#include <cstdint>
#include <functional>
#include <memory>

namespace tcpterm::tcp {
class TcpStack;
}

namespace tcpterm::engine {

struct EngineConfig;

class WorkerHost {
public:
    virtual ~WorkerHost() = default;
    [[nodiscard]] virtual unsigned index() const noexcept = 0;
    [[nodiscard]] virtual unsigned worker_count() const noexcept = 0;
    [[nodiscard]] virtual tcp::TcpStack& stack() noexcept = 0;
    [[nodiscard]] virtual const EngineConfig& config() const noexcept = 0;
    /// The worker's clock as of the current loop iteration.
    [[nodiscard]] virtual Nanos now() const noexcept = 0;
    /// The owned address a packet to `dst` leaves from (host order), or 0 if there is no route.
    [[nodiscard]] virtual std::uint32_t source_for(std::uint32_t dst) const noexcept = 0;
    /// Whether packets of `t` (local view, network order) arrive on this worker's RX queue: true
    /// when RSS is off (one worker) or when the NIC's Toeplitz hash of the reply direction maps
    /// to this worker in the redirection table. Active opens pick local ports with it.
    [[nodiscard]] virtual bool steers_here(const FourTuple& t) const noexcept = 0;
};

class WorkerApp {
public:
    virtual ~WorkerApp() = default;
    /// Every loop iteration, after RX and timers; keep it cheap (rate-limit inside).
    virtual void poll(Nanos now) noexcept = 0;
    /// Graceful stop, phase 1: close listeners (half-open connections are reset and counted by
    /// the stack) and open no new connections. Established ones are left to finish the drain.
    virtual void stop_accept() noexcept {}
};

using AppFactory = std::function<std::unique_ptr<WorkerApp>(WorkerHost&)>;

} // namespace tcpterm::engine
