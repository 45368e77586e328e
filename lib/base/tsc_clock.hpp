// The production clock: the CPU's invariant TSC, converted to nanoseconds with a fixed-point
// multiply (no division on the read path). The TSC frequency comes from DPDK (rte_get_tsc_hz,
// valid after rte_eal_init) or is given explicitly (tests). This is the only place in lib/ that
// reads a hardware clock.
#pragma once

#include "base/clock.hpp"

namespace tcpterm {

__extension__ using u128 = unsigned __int128;

class TscClock final : public Clock {
public:
    /// Uses DPDK's calibrated TSC frequency; requires an initialised EAL.
    TscClock();
    /// Uses the given frequency (Hz); `origin_cycles` is the TSC value that maps to 0 ns.
    TscClock(std::uint64_t hz, std::uint64_t origin_cycles) noexcept;

    [[nodiscard]] Nanos now() const noexcept override;

    /// Converts a TSC delta to nanoseconds with the calibrated multiplier.
    [[nodiscard]] Nanos cycles_to_ns(std::uint64_t cycles) const noexcept {
        return static_cast<Nanos>((static_cast<u128>(cycles) * mult_) >> kShift);
    }
    [[nodiscard]] std::uint64_t hz() const noexcept { return hz_; }

    /// Raw TSC read (rdtsc), for cycle accounting.
    [[nodiscard]] static std::uint64_t cycles() noexcept;

private:
    static constexpr unsigned kShift = 32;
    std::uint64_t hz_;
    std::uint64_t origin_;
    std::uint64_t mult_; // ns per cycle, fixed point << kShift
};

} // namespace tcpterm
