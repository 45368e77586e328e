#include "base/tsc_clock.hpp"

#include <rte_cycles.h>

#include <stdexcept>

namespace tcpterm {

TscClock::TscClock() : TscClock(rte_get_tsc_hz(), rte_rdtsc()) {
    if (hz_ == 0) {
        throw std::runtime_error("TscClock: TSC frequency unknown (EAL not initialised?)");
    }
}

TscClock::TscClock(std::uint64_t hz, std::uint64_t origin_cycles) noexcept
    : hz_(hz), origin_(origin_cycles),
      mult_(hz == 0 ? 0
                    : static_cast<std::uint64_t>((static_cast<u128>(kNsPerSec) << kShift) / hz)) {}

Nanos TscClock::now() const noexcept {
    return cycles_to_ns(rte_rdtsc() - origin_);
}

std::uint64_t TscClock::cycles() noexcept {
    return rte_rdtsc();
}

} // namespace tcpterm
