// LocalPorts: local port choice for active opens (the load balancer's backend legs, health
// checks, the generator). It walks a port range from a rotating cursor, skips ports whose replies
// would arrive on another worker's RX queue (RSS, WorkerHost::steers_here), and lets
// TcpStack::connect refuse four-tuples still in use (EADDRINUSE: open, or in TIME_WAIT and not
// reusable under tw_reuse). An exhausted range is a counted refusal (EADDRNOTAVAIL), never a
// stall: the failure of DPVS #819 and F-Stack #725.
//
// Why by hand: DPDK has no port allocator; Linux's __inet_hash_connect has the same shape (an
// offset per destination, then a linear walk), without the RSS filter a poll-mode stack needs.
#pragma once

#include "base/four_tuple.hpp"

#include <cstdint>

namespace tcpterm::tcp {
class ConnHandler;
struct Tcb;
} // namespace tcpterm::tcp

namespace tcpterm::engine {

class WorkerHost;

class LocalPorts {
public:
    LocalPorts(std::uint16_t min, std::uint16_t max, unsigned worker) noexcept;

    /// Opens laddr -> raddr:rport (network order in `t`; t.lport is chosen here). nullptr with
    /// `err` = EADDRNOTAVAIL (every port of the range is busy or steers elsewhere) or ENOBUFS
    /// (control blocks exhausted).
    tcp::Tcb* connect(WorkerHost& host, FourTuple t, tcp::ConnHandler* h, int* err) noexcept;

    [[nodiscard]] std::uint32_t size() const noexcept { return size_; }
    /// Ports tried and found busy (EADDRINUSE) or steered to another worker, since start.
    [[nodiscard]] std::uint64_t busy_skips() const noexcept { return busy_; }
    [[nodiscard]] std::uint64_t rss_skips() const noexcept { return rss_; }
    [[nodiscard]] std::uint64_t exhausted() const noexcept { return exhausted_; }

private:
    std::uint16_t min_;
    std::uint32_t size_;
    std::uint32_t cursor_;
    std::uint64_t busy_ = 0;
    std::uint64_t rss_ = 0;
    std::uint64_t exhausted_ = 0;
};

} // namespace tcpterm::engine
