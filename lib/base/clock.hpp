// Time in tcpterm: a monotonic count of nanoseconds, passed in, never read behind a caller's back.
//
// Every consumer of time (the timer wheel, the TCP core, the engine loop) takes `Nanos now` as an
// argument. Only the production clock (TscClock, tsc_clock.hpp) reads hardware; tests and the
// packetdrill adapter drive a ManualClock by hand, so time-based behaviour (TIME_WAIT, FIN_WAIT2,
// keepalive) is tested exactly and instantly. The Clock interface exists for the few places that
// must be handed "a clock" (the worker loop reads it once per iteration, so the virtual call is
// off the per-packet path).
#pragma once

#include <cstdint>

namespace tcpterm {

using Nanos = std::uint64_t;

inline constexpr Nanos kNsPerUs = 1'000;
inline constexpr Nanos kNsPerMs = 1'000'000;
inline constexpr Nanos kNsPerSec = 1'000'000'000;

constexpr Nanos us(std::uint64_t v) {
    return v * kNsPerUs;
}
constexpr Nanos ms(std::uint64_t v) {
    return v * kNsPerMs;
}
constexpr Nanos sec(std::uint64_t v) {
    return v * kNsPerSec;
}

class Clock {
public:
    virtual ~Clock() = default;
    /// Monotonic nanoseconds since an arbitrary, fixed origin.
    [[nodiscard]] virtual Nanos now() const noexcept = 0;
};

/// A clock that moves only when told to. Used by every test and by the packetdrill adapter.
class ManualClock final : public Clock {
public:
    explicit ManualClock(Nanos start = 0) noexcept : now_(start) {}
    [[nodiscard]] Nanos now() const noexcept override { return now_; }
    void set(Nanos t) noexcept { now_ = t; }
    void advance(Nanos d) noexcept { now_ += d; }

private:
    Nanos now_;
};

} // namespace tcpterm
