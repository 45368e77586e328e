// Control messages between the control thread (telemetry, signals) and a worker. Workers own
// their state; another thread never touches it. It posts a Command on the worker's rte_ring and
// waits for `done`; the worker runs the command between bursts and publishes the result with a
// release store. Results live in the Command (preallocated by the caller), so the worker never
// allocates for it.
#pragma once

#include "tcp/state.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <vector>

namespace tcpterm::engine {

/// One connection as listed by /tcpterm/conns (host order addresses).
struct ConnInfo {
    std::uint32_t laddr;
    std::uint32_t raddr;
    std::uint16_t lport;
    std::uint16_t rport;
    tcp::State state;
    std::uint32_t send_queue; // bytes queued to send (unacked + unsent)
    std::uint32_t recv_queue; // bytes received, not read
    std::uint16_t worker;
};

struct Command {
    enum class Kind : std::uint8_t {
        list_conns,  // fill `conns` (up to its capacity) with connections in `state` (or all)
        stop_accept, // graceful stop, phase 1: close listeners (resets half-open, counts them)
        reset_all,   // graceful stop, last phase: reset every remaining connection
        call,        // run `fn` on the worker's lcore (an app's control operation or snapshot)
    };
    Kind kind = Kind::list_conns;
    bool any_state = true;
    tcp::State state = tcp::State::established;
    std::vector<ConnInfo> conns; // reserve() the capacity before posting
    std::size_t total = 0;       // matching connections (may exceed conns.capacity())
    std::uint64_t count = 0;     // result of stop_accept / reset_all
    std::function<void()> fn;    // Kind::call; built by the caller, only invoked by the worker
    std::atomic<bool> done{false};
};

} // namespace tcpterm::engine
