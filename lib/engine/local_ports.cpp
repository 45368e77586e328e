#include "engine/local_ports.hpp"

#include "engine/app.hpp"
#include "tcp/stack.hpp"

#include <rte_byteorder.h>

#include <cerrno>

namespace tcpterm::engine {

LocalPorts::LocalPorts(std::uint16_t min, std::uint16_t max, unsigned worker) noexcept
    : min_(min), size_(max >= min ? static_cast<std::uint32_t>(max - min) + 1 : 0),
      // Workers start far apart so their first walks do not test the same ports.
      cursor_(size_ == 0 ? 0 : static_cast<std::uint32_t>((worker * 2654435761u) % size_)) {}

tcp::Tcb* LocalPorts::connect(WorkerHost& host, FourTuple t, tcp::ConnHandler* h,
                              int* err) noexcept {
    for (std::uint32_t tried = 0; tried < size_; ++tried) {
        const auto port = static_cast<std::uint16_t>(min_ + cursor_);
        cursor_ = cursor_ + 1 == size_ ? 0 : cursor_ + 1;
        t.lport = rte_cpu_to_be_16(port);
        if (!host.steers_here(t)) {
            ++rss_;
            continue;
        }
        int e = 0;
        if (tcp::Tcb* c = host.stack().connect(t, h, &e)) {
            return c;
        }
        if (e != EADDRINUSE) {
            if (err) {
                *err = e;
            }
            return nullptr;
        }
        ++busy_;
    }
    ++exhausted_;
    if (err) {
        *err = EADDRNOTAVAIL;
    }
    return nullptr;
}

} // namespace tcpterm::engine
