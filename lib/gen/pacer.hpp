// RatePacer: how many connections a worker should open at `now` to hold a target rate. It keeps
// an anchor (time, count) and computes what is due from the elapsed time in integer arithmetic,
// so there is no drift from rounding and no clock read: the caller passes the `now` its poll()
// was given. If the caller falls behind (a long iteration, the concurrency cap, no free port),
// what is due accumulates up to `max_debt`; beyond that the excess is given up and counted as
// missed, so a stall is reported rather than followed by an unbounded burst.
#pragma once

#include "base/clock.hpp"

#include <cstdint>

namespace tcpterm::gen {

class RatePacer {
public:
    /// Largest rate accepted (events per second): keeps the arithmetic within 64 bits.
    static constexpr std::uint64_t kMaxRate = 1'000'000'000;

    /// Starts (or restarts) pacing at `rate` events per second from `now`; rate 0 means unpaced
    /// (due() is always max_debt). `max_debt` is at least 1.
    void start(Nanos now, std::uint64_t rate, std::uint64_t max_debt) noexcept {
        anchor_ = now;
        rate_ = rate > kMaxRate ? kMaxRate : rate;
        max_debt_ = max_debt == 0 ? 1 : max_debt;
        taken_ = 0;
        carry_ = 0;
    }
    /// Changes the rate from `now` on; what was due under the old rate and not taken is kept
    /// (up to max_debt).
    void set_rate(Nanos now, std::uint64_t rate) noexcept {
        const std::uint64_t owed = due(now);
        start(now, rate, max_debt_);
        carry_ = owed;
    }
    /// Events due at `now` and not yet taken, at most max_debt (older debt is dropped and
    /// counted in missed()).
    std::uint64_t due(Nanos now) noexcept {
        if (rate_ == 0) {
            return max_debt_;
        }
        const std::uint64_t total = carry_ + planned(now);
        const std::uint64_t owed = total - taken_;
        if (owed > max_debt_) {
            missed_ += owed - max_debt_;
            taken_ += owed - max_debt_;
            return max_debt_;
        }
        return owed;
    }
    /// Changes how much unmet demand may accumulate (at least 1).
    void set_max_debt(std::uint64_t max_debt) noexcept { max_debt_ = max_debt == 0 ? 1 : max_debt; }
    /// The caller opened n of what due() returned.
    void take(std::uint64_t n) noexcept { taken_ += n; }

    [[nodiscard]] std::uint64_t rate() const noexcept { return rate_; }
    [[nodiscard]] std::uint64_t missed() const noexcept { return missed_; }

private:
    /// floor((now - anchor) * rate / 1e9) without overflow for rate <= kMaxRate: whole seconds
    /// and the remainder separately.
    [[nodiscard]] std::uint64_t planned(Nanos now) const noexcept {
        const Nanos dt = now > anchor_ ? now - anchor_ : 0;
        return (dt / kNsPerSec) * rate_ + (dt % kNsPerSec) * rate_ / kNsPerSec;
    }

    Nanos anchor_ = 0;
    std::uint64_t rate_ = 0;
    std::uint64_t max_debt_ = 1;
    std::uint64_t taken_ = 0;
    std::uint64_t carry_ = 0;
    std::uint64_t missed_ = 0;
};

} // namespace tcpterm::gen
